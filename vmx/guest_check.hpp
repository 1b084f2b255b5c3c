// The guest-state checks VM entry performs (Intel SDM vol 3 26.3.1), re-run in software after
// an entry fails with exit reason 33, so the failure names the check instead of "invalid guest
// state". Pure over a snapshot of the VMCS fields; covers what this backend can produce (no
// virtual-8086 mode, no SMM, no shadow VMCS).
#pragma once
#include <stdint.h>

#include "hv/virt/guest_state.hpp"

namespace vmx {

// VMX access rights (24.4.1): the packed attributes of hv::virt::Segment with bits 11:8 moved
// up to 15:12, plus bit 16 "unusable", which the neutral form spells attr == 0.
inline constexpr uint32_t ar_unusable = 1u << 16;
constexpr uint32_t ar_from_attr(uint16_t attr) {
    return attr == 0 ? ar_unusable : (attr & 0xffu) | ((static_cast<uint32_t>(attr) & 0xf00u) << 4);
}
constexpr uint16_t attr_from_ar(uint32_t ar) {
    return (ar & ar_unusable) ? 0 : static_cast<uint16_t>((ar & 0xffu) | ((ar >> 4) & 0xf00u));
}

struct GuestSegmentState {
    uint16_t selector;
    uint32_t limit;
    uint32_t ar;
    uint64_t base;
};

struct GuestStateSnapshot {
    uint64_t cr0, cr3, cr4, dr7, efer, pat, rip, rflags, pending_debug, link_pointer;
    GuestSegmentState seg[static_cast<unsigned>(hv::virt::Seg::count)];
    uint64_t gdtr_base, idtr_base;
    uint32_t gdtr_limit, idtr_limit;
    uint32_t interruptibility, activity;
    uint32_t entry_controls, secondary_controls, entry_intr_info;
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
};

// The first check the state fails, in words with its SDM section, or nullptr when it passes.
[[nodiscard]] const char* check_guest_state(const GuestStateSnapshot& s);

} // namespace vmx
