// HvCallGetVpRegisters / HvCallSetVpRegisters (TLFS 7.x), on the calling VP only for now: the
// partition is HV_PARTITION_ID_SELF or the caller's own ID, the VP HV_VP_INDEX_SELF or the
// caller's own index. Another VP of the caller's partition is refused with ACCESS_DENIED (its
// state lives on another processor while it runs); an index the partition lacks is
// HV_STATUS_INVALID_VP_INDEX. Which registers exist and which may be written is the platform's
// business (hv/virt/vp_registers.hpp).
#pragma once
#include "hypercalls/call.hpp"
#include "hypercalls/handlers_partition.hpp"

namespace hypercalls::handlers {

namespace detail {
// Status::success: the caller's own VP. `child` set: another partition's VP, which only a
// platform with a partition manager (the root's) can reach.
template <class P> Status check_target(Call<P>& c, bool& child, tlfs::VpRegistersInput& h) {
    child = false;
    if (!c.in(0, &h, sizeof h))
        return Status::access_denied;
    if (h.partition_id != tlfs::partition_id_self && h.partition_id != c.pf.partition_id()) {
        if constexpr (PartitionPlatform<P>) {
            if (h.input_vtl || h.reserved[0] || h.reserved[1] || h.reserved[2])
                return Status::invalid_parameter;
            if (!(c.pf.privileges() & tlfs::privilege::create_partitions))
                return Status::access_denied;   // only a parent reaches another partition's VPs
            child = true;
            return Status::success;
        }
        return Status::invalid_partition_id;
    }
    if (h.input_vtl || h.reserved[0] || h.reserved[1] || h.reserved[2])
        return Status::invalid_parameter;
    if (h.vp_index == tlfs::vp_index_self || h.vp_index == c.pf.vp_index())
        return Status::success;
    return h.vp_index < c.pf.vp_count() ? Status::access_denied : Status::invalid_vp_index;
}
} // namespace detail

template <class P> Status get_vp_registers(Call<P>& c) {
    bool child;
    tlfs::VpRegistersInput h;
    if (Status s = detail::check_target(c, child, h); s != Status::success)
        return s;
    if constexpr (PartitionPlatform<P>)
        if (child)
            return c.pf.pm_vp_registers(c, h.partition_id, h.vp_index, false);
    for (; c.next < c.limit; c.next++) {
        uint32_t name;
        tlfs::RegisterValue v{};
        if (!c.in(c.rep_in(c.next), &name, sizeof name))
            return Status::access_denied;
        if (Status s = c.pf.get_register(name, v); s != Status::success)
            return s;
        if (!c.out(c.rep_out(c.next), &v, sizeof v))
            return Status::access_denied;
    }
    return Status::success;
}

template <class P> Status set_vp_registers(Call<P>& c) {
    bool child;
    tlfs::VpRegistersInput h;
    if (Status s = detail::check_target(c, child, h); s != Status::success)
        return s;
    if constexpr (PartitionPlatform<P>)
        if (child)
            return c.pf.pm_vp_registers(c, h.partition_id, h.vp_index, true);
    for (; c.next < c.limit; c.next++) {
        tlfs::RegisterAssoc a;
        if (!c.in(c.rep_in(c.next), &a, sizeof a))
            return Status::access_denied;
        if (a.reserved1 || a.reserved2)
            return Status::invalid_parameter;
        if (Status s = c.pf.set_register(a.name, a.value); s != Status::success)
            return s;
    }
    return Status::success;
}

} // namespace hypercalls::handlers
