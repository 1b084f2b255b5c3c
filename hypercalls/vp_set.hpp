// Naming virtual processors in the TLB-flush and IPI calls: the 64-bit processor mask of the
// plain forms and the sparse HV_GENERIC_SET of the Ex forms (TLFS 7.x, "HV_VP_SET"). Indexes the
// partition does not have are ignored, as a physical APIC ignores an absent destination.
#pragma once
#include <stdint.h>

#include "hypercalls/call.hpp"

namespace hypercalls {

template <class P, class F> void for_each_in_mask(Call<P>& c, uint64_t mask, F&& f) {
    uint32_t n = c.pf.vp_count();
    for (uint32_t i = 0; i < 64 && i < n; i++)
        if (mask & (1ull << i))
            f(i);
}

template <class P, class F> void for_each_vp(Call<P>& c, F&& f) {
    uint32_t n = c.pf.vp_count();
    for (uint32_t i = 0; i < n; i++)
        f(i);
}

// The set whose format and valid-bank mask sit at input offset `at`; its banks are the whole
// variable header. One bank word per set bit of the mask, lowest bank first.
template <class P, class F> [[nodiscard]] Status for_each_in_set(Call<P>& c, uint32_t at, F&& f) {
    uint64_t head[2];
    if (!c.in(at, head, sizeof head))
        return Status::invalid_hypercall_input;
    if (head[0] == tlfs::vp_set::all) {
        for_each_vp(c, f);
        return Status::success;
    }
    if (head[0] != tlfs::vp_set::sparse_4k)
        return Status::invalid_parameter;
    if (static_cast<uint32_t>(__builtin_popcountll(head[1])) != c.ctl.var_qwords)
        return Status::invalid_hypercall_input;   // the header must hold exactly the banks named
    uint32_t n = c.pf.vp_count(), word = 0;
    for (uint32_t bank = 0; bank < 64; bank++) {
        if (!(head[1] & (1ull << bank)))
            continue;
        uint64_t bits;
        if (!c.in(c.var_offset() + 8 * word++, &bits, sizeof bits))
            return Status::invalid_hypercall_input;
        for (uint32_t b = 0; b < 64 && bank * 64 + b < n; b++)
            if (bits & (1ull << b))
                f(bank * 64 + b);
    }
    return Status::success;
}

} // namespace hypercalls
