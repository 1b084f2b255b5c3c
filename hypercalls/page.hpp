// The guest OS ID and hypercall page MSRs (TLFS 3.13, "Establishing the hypercall interface"),
// per partition. Pure over a memory accessor M (read/write of the caller's guest-physical
// memory), so the state machine runs in the unit tests against a byte array.
//
// - The hypercall page is written with the vendor's call sequence: VMCALL (0F 01 C1) on VT-x or
//   VMMCALL (0F 01 D9) on AMD-V, then RET (C3). Callers CALL offset 0, as Linux does.
// - Enabling while the guest OS ID is zero records the GPA but leaves the enable bit clear.
// - Clearing the guest OS ID disables the page (and with it every hypercall: #UD).
// - The TLFS page is an overlay: while enabled it hides the guest's page. Here the sequence is
//   written into the guest's page itself, so the bytes it covered are kept and put back when
//   the page is disabled or moved, which is what an overlay's removal shows the guest.
// - A GPA that is not writable memory of the partition refuses the write with #GP.
#pragma once
#include <stdint.h>

#include "hypercalls/abi/tlfs.hpp"

namespace hypercalls {

inline constexpr uint32_t call_sequence_bytes = 4;
inline constexpr uint8_t sequence_vmcall[call_sequence_bytes] = {0x0f, 0x01, 0xc1, 0xc3};
inline constexpr uint8_t sequence_vmmcall[call_sequence_bytes] = {0x0f, 0x01, 0xd9, 0xc3};

struct InterfaceState {
    uint64_t guest_os_id = 0;
    uint64_t hypercall_msr = 0;                 // what a read returns
    uint8_t covered[call_sequence_bytes] = {};  // the guest's bytes under the sequence
};

[[nodiscard]] constexpr bool interface_enabled(const InterfaceState& s) { return s.guest_os_id != 0; }

namespace detail {
template <class M> void remove_page(InterfaceState& s, M& mem) {
    if (!(s.hypercall_msr & tlfs::hypercall_msr::enable))
        return;
    // Best effort: the partition's map is the partition's; if the page went away, so did the bytes.
    static_cast<void>(mem.write(s.hypercall_msr & tlfs::hypercall_msr::gpfn_mask, s.covered, call_sequence_bytes));
    s.hypercall_msr &= ~tlfs::hypercall_msr::enable;
}
} // namespace detail

template <class M> void write_guest_os_id(InterfaceState& s, uint64_t value, M& mem) {
    s.guest_os_id = value;
    if (value == 0)
        detail::remove_page(s, mem);
}

// False: refuse the WRMSR with #GP(0), nothing changed.
template <class M>
[[nodiscard]] bool write_hypercall_msr(InterfaceState& s, uint64_t value, const uint8_t (&sequence)[call_sequence_bytes],
                                       M& mem) {
    using namespace tlfs::hypercall_msr;
    uint64_t gpa = value & gpfn_mask;
    bool enable_now = (value & enable) && interface_enabled(s);
    bool was = s.hypercall_msr & enable;
    if (enable_now && was && (s.hypercall_msr & gpfn_mask) == gpa)
        return true;   // the same page again: nothing moves
    if (enable_now) {
        uint8_t covered[call_sequence_bytes];
        if (!mem.read(gpa, covered, call_sequence_bytes) || !mem.write(gpa, sequence, call_sequence_bytes))
            return false;
        if (was && (s.hypercall_msr & gpfn_mask) != gpa)
            detail::remove_page(s, mem);
        __builtin_memcpy(s.covered, covered, call_sequence_bytes);
        s.hypercall_msr = gpa | enable;
        return true;
    }
    detail::remove_page(s, mem);
    s.hypercall_msr = gpa;
    return true;
}

} // namespace hypercalls
