// Calls that act on other virtual processors of the caller's partition: the TLB flushes
// (TLFS 15.x HvCallFlushVirtualAddressSpace/List and their Ex forms) and the synthetic cluster
// IPIs (HvCallSendSyntheticClusterIpi/Ex). The hypervisor flushes everything the guest cached
// for a named VP, whatever address space or range is asked for: more than asked is correct,
// less would not be.
#pragma once
#include "hypercalls/vp_set.hpp"

namespace hypercalls::handlers {

namespace detail {
[[nodiscard]] inline bool flags_ok(uint64_t flags) { return (flags & ~tlfs::flush::valid) == 0; }

// Flushes the named VPs once per exit, after the elements of this exit are accounted for.
template <class P> Status flush(Call<P>& c, bool ex) {
    if (ex) {
        tlfs::FlushSpaceExInput in;
        if (!c.in(0, &in, sizeof in))
            return Status::access_denied;
        if (!detail::flags_ok(in.flags))
            return Status::invalid_parameter;
        uint64_t targets[max_vps / 64] = {};   // collected first: a bad set flushes nothing
        bool all = in.flags & tlfs::flush::all_processors;
        Status s = all ? Status::success : for_each_in_set(c, 16, [&](uint32_t i) {
            if (i < max_vps)
                targets[i / 64] |= 1ull << (i % 64);
        });
        if (s != Status::success)
            return s;
        if (c.spec.kind == Kind::rep)
            c.next = c.limit;
        if (all)
            for_each_vp(c, [&](uint32_t i) { c.pf.flush_vp(i); });
        else
            for (uint32_t i = 0; i < max_vps && i < c.pf.vp_count(); i++)
                if (targets[i / 64] & (1ull << (i % 64)))
                    c.pf.flush_vp(i);
        return Status::success;
    }
    tlfs::FlushSpaceInput in;
    if (!c.in(0, &in, sizeof in))
        return Status::access_denied;
    if (!detail::flags_ok(in.flags))
        return Status::invalid_parameter;
    if (c.spec.kind == Kind::rep)
        c.next = c.limit;   // every GVA range is valid: each is a page number and a count
    if (in.flags & tlfs::flush::all_processors)
        for_each_vp(c, [&](uint32_t i) { c.pf.flush_vp(i); });
    else
        for_each_in_mask(c, in.processor_mask, [&](uint32_t i) { c.pf.flush_vp(i); });
    return Status::success;
}

[[nodiscard]] inline bool vector_ok(uint32_t v) { return v >= tlfs::min_ipi_vector && v <= tlfs::max_ipi_vector; }
} // namespace detail

template <class P> Status flush_space(Call<P>& c) { return detail::flush(c, false); }
template <class P> Status flush_list(Call<P>& c) { return detail::flush(c, false); }
template <class P> Status flush_space_ex(Call<P>& c) { return detail::flush(c, true); }
template <class P> Status flush_list_ex(Call<P>& c) { return detail::flush(c, true); }

// Only VTL 0 exists; the reserved bytes must be zero.
template <class P> Status send_ipi(Call<P>& c) {
    tlfs::SendIpiInput in;
    if (!c.in(0, &in, sizeof in))
        return Status::access_denied;
    if (!detail::vector_ok(in.vector) || in.target_vtl || in.reserved[0] || in.reserved[1] || in.reserved[2])
        return Status::invalid_parameter;
    for_each_in_mask(c, in.processor_mask, [&](uint32_t i) { c.pf.send_ipi(i, static_cast<uint8_t>(in.vector)); });
    return Status::success;
}

template <class P> Status send_ipi_ex(Call<P>& c) {
    tlfs::SendIpiExInput in;
    if (!c.in(0, &in, sizeof in))
        return Status::access_denied;
    if (!detail::vector_ok(in.vector) || in.target_vtl || in.reserved[0] || in.reserved[1] || in.reserved[2])
        return Status::invalid_parameter;
    uint64_t targets[max_vps / 64] = {};
    Status s = for_each_in_set(c, 8, [&](uint32_t i) {
        if (i < max_vps)
            targets[i / 64] |= 1ull << (i % 64);
    });
    if (s != Status::success)
        return s;
    for (uint32_t i = 0; i < max_vps && i < c.pf.vp_count(); i++)
        if (targets[i / 64] & (1ull << (i % 64)))
            c.pf.send_ipi(i, static_cast<uint8_t>(in.vector));
    return Status::success;
}

} // namespace hypercalls::handlers
