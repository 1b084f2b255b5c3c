// The root-only calls (TLFS ch. 4-7, codes in hypercalls/abi/partition.hpp): decoding and
// checking the caller's input, then the platform's partition manager (hv/virt/children.hpp)
// does the work. Every row needs the CreatePartitions privilege, which only the root has, so a
// child calling any of them gets HV_STATUS_ACCESS_DENIED from the common checks.
// A platform without a partition manager (the unit tests', the fuzzer's) answers as if the
// calls did not exist.
#pragma once
#include "hypercalls/abi/partition.hpp"
#include "hypercalls/call.hpp"

namespace hypercalls {

template <class P> concept PartitionPlatform = requires { P::has_partition_manager; };

namespace handlers {
namespace pm {

namespace r = tlfs::root;

template <class P, class In> Status input(Call<P>& c, In& in) {
    return c.in(0, &in, sizeof in) ? Status::success : Status::access_denied;
}

// Reads up to rep_budget page numbers from the rep list into `pages`.
template <class P> uint32_t page_list(Call<P>& c, uint64_t* pages) {
    uint32_t n = 0;
    for (uint16_t i = c.next; i < c.limit; i++, n++)
        if (!c.in(c.rep_in(i), &pages[n], sizeof pages[n]))
            break;
    return n;
}

} // namespace pm

template <class P> Status create_partition(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::CreatePartitionInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        // No isolation, no disabled-feature masks are supported: a request for them is refused
        // rather than silently ignored.
        if (in.isolation_properties || in.properties.disabled_xsave_features)
            return Status::invalid_parameter;
        uint64_t id;
        if (Status s = c.pf.pm_create(in.flags, id); s != Status::success)
            return s;
        pm::r::CreatePartitionOutput out{id};
        return c.out(0, &out, sizeof out) ? Status::success : Status::access_denied;
    }
}

// InitializePartition, FinalizePartition, DeletePartition: the id alone.
template <class P, int Which> Status partition_step(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::PartitionIdInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        return c.pf.pm_step(Which, in.partition_id);
    }
}

template <class P> Status deposit_memory(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::DepositMemoryInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        uint64_t pages[rep_budget];
        uint32_t n = pm::page_list(c, pages), done = 0;
        if (n != static_cast<uint32_t>(c.limit - c.next))
            return Status::access_denied;
        Status s = c.pf.pm_deposit(in.partition_id, pages, n, done);
        c.next = static_cast<uint16_t>(c.next + done);
        return s;
    }
}

template <class P> Status withdraw_memory(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::WithdrawMemoryInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        uint64_t pages[rep_budget];
        uint32_t done = 0;
        Status s = c.pf.pm_withdraw(in.partition_id, pages, static_cast<uint32_t>(c.limit - c.next), done);
        for (uint32_t i = 0; i < done; i++, c.next++)
            if (!c.out(c.rep_out(c.next), &pages[i], sizeof pages[i]))
                return Status::access_denied;
        // Fewer pages than asked means the deposit is empty: the TLFS reports the reps done.
        if (s == Status::success && c.next < c.limit)
            c.limit = c.next;
        return s;
    }
}

template <class P> Status map_gpa_pages(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::MapGpaPagesInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if ((in.map_flags & ~pm::r::map_flag::permissions_mask) || in.padding)
            return Status::invalid_parameter;   // special encodings and large pages: not offered
        uint64_t pages[rep_budget];
        uint32_t n = pm::page_list(c, pages), done = 0;
        if (n != static_cast<uint32_t>(c.limit - c.next))
            return Status::access_denied;
        Status s = c.pf.pm_map(in.target_partition_id, in.target_gpa_base + c.next, in.map_flags, pages, n, done);
        c.next = static_cast<uint16_t>(c.next + done);
        return s;
    }
}

template <class P> Status unmap_gpa_pages(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::UnmapGpaPagesInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.unmap_flags || in.padding)
            return Status::invalid_parameter;
        uint32_t done = 0;
        Status s = c.pf.pm_unmap(in.target_partition_id, in.target_gpa_base + c.next,
                                 static_cast<uint32_t>(c.limit - c.next), done);
        c.next = static_cast<uint16_t>(c.next + done);
        return s;
    }
}

template <class P> Status install_intercept(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::InstallInterceptInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        return c.pf.pm_install_intercept(in.partition_id, static_cast<uint32_t>(in.type), in.access_type,
                                         in.parameters);
    }
}

template <class P> Status create_vp(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::CreateVpInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.flags || in.reserved[0] || in.reserved[1] || in.reserved[2])
            return Status::invalid_parameter;
        return c.pf.pm_vp_step(true, in.partition_id, in.vp_index);
    }
}

template <class P> Status delete_vp(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::DeleteVpInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.reserved)
            return Status::invalid_parameter;
        return c.pf.pm_vp_step(false, in.partition_id, in.vp_index);
    }
}

template <class P> Status start_vp(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::StartVpInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.target_vtl || in.reserved[0] || in.reserved[1] || in.reserved[2])
            return Status::invalid_parameter;
        return c.pf.pm_start_vp(in.partition_id, in.vp_index, in.context);
    }
}

template <class P> Status assert_virtual_interrupt(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::AssertVirtualInterruptInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.target_vtl || in.reserved0 || in.reserved1 || in.vector > 0xff ||
            (in.control.flags & pm::r::interrupt_flag::logical_destination))
            return Status::invalid_parameter;
        return c.pf.pm_assert(in.partition_id, static_cast<uint32_t>(in.control.type), in.destination,
                              static_cast<uint8_t>(in.vector));
    }
}

template <class P> Status dispatch_vp(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::DispatchVpInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.flags & ~pm::r::dispatch_flag::clear_intercept_suspend)
            return Status::invalid_parameter;
        return c.pf.pm_dispatch(c, in.partition_id, in.vp_index, in.time_slice);
    }
}

template <class P> Status get_partition_property(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::GetPartitionPropertyInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.padding)
            return Status::invalid_parameter;
        pm::r::GetPartitionPropertyOutput out{};
        if (Status s = c.pf.pm_property(false, in.partition_id, static_cast<uint32_t>(in.code), out.value);
            s != Status::success)
            return s;
        return c.out(0, &out, sizeof out) ? Status::success : Status::access_denied;
    }
}

template <class P> Status set_partition_property(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::SetPartitionPropertyInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.padding)
            return Status::invalid_parameter;
        return c.pf.pm_property(true, in.partition_id, static_cast<uint32_t>(in.code), in.value);
    }
}

// Ports and connections (TLFS 11.x; the SynIC in hv/virt/synic.hpp does the work).
template <class P> Status create_port(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::CreatePortInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        return c.pf.pm_create_port(in);
    }
}

template <class P> Status connect_port(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::ConnectPortInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        return c.pf.pm_connect_port(in);
    }
}

template <class P> Status delete_port(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::DeletePortInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.reserved)
            return Status::invalid_parameter;
        return c.pf.pm_delete_port(in.port_partition_id, in.port_id);
    }
}

template <class P> Status disconnect_port(Call<P>& c) {
    if constexpr (!PartitionPlatform<P>) {
        return Status::invalid_hypercall_code;
    } else {
        pm::r::DisconnectPortInput in;
        if (Status s = pm::input(c, in); s != Status::success)
            return s;
        if (in.flags)
            return Status::invalid_parameter;   // doorbells are not offered
        return c.pf.pm_disconnect_port(in.connection_partition_id, in.connection_id);
    }
}

} // namespace handlers
} // namespace hypercalls
