// Guest extended state (x87/SSE/AVX...) and XCR0. The hypervisor core never touches vector
// registers (-mgeneral-regs-only), so a guest's state may stay in the registers across exits;
// it is saved only when another Vcpu runs on the processor (lazy switch, one owner per
// processor). Invariant: while a processor has an owner, its XCR0 is the owner's XCR0, which
// XSAVE needs to save exactly the components that guest enabled (Intel SDM vol 1 13.7).
#pragma once
#include <stdint.h>

#include "svm/svm.hpp"

namespace svm {

struct XState {
    uint8_t* area = nullptr;   // 4 KiB, 4 KiB aligned (XSAVE needs 64-byte alignment)
    uint64_t xcr0 = 0;         // the guest's XCR0 (0 when the processor has no XSAVE)
};

namespace xcr0 {
inline constexpr uint64_t x87 = 1, sse = 2, avx = 4, bndregs = 8, bndcsr = 16;
inline constexpr uint64_t opmask = 32, zmm_hi256 = 64, hi16_zmm = 128, pkru = 512;
inline constexpr uint64_t avx512 = opmask | zmm_hi256 | hi16_zmm;
inline constexpr uint64_t tilecfg = 1ull << 17, tiledata = 1ull << 18;
} // namespace xcr0

// User components whose standard-format offsets end below 4 KiB (x87 through PKRU: 2696 bytes);
// AMX tiles do not fit the per-Vcpu page and are withheld from guests.
[[nodiscard]] uint64_t guest_xcr0_allowed(const Features& f);

// XSETBV's #GP conditions for XCR0 (Intel SDM vol 2 XSETBV, vol 1 13.3); CPL is the caller's.
[[nodiscard]] bool xcr0_valid(uint32_t xcr_index, uint64_t value, uint64_t allowed);

// Prepares a fresh area: INIT state everywhere except MXCSR, which XRSTOR loads from memory.
void xstate_init(XState& x, void* page, const Features& f);

// Sets CR4.OSFXSR/OSXSAVE and the host's XCR0 (x87|SSE); returns the XCR0 now loaded.
[[nodiscard]] uint64_t enable_xsave(const Features& f);

// Makes `x` the state in this processor's registers, saving the previous owner's.
void xstate_load(ProcessorState& p, XState& x, const Features& f);
// Saves `x` to memory if this processor holds it (before the Vcpu moves or is destroyed).
void xstate_release(ProcessorState& p, XState& x, const Features& f);
// After an exit: adopts the XCR0 the guest left loaded, should it have changed XCR0 without an
// XSETBV exit (QEMU 7.2 TCG lacks that intercept), so the owner invariant holds.
void xstate_after_exit(ProcessorState& p, XState& x, const Features& f);
// A validated new guest XCR0; loaded at once when this processor holds the state.
void xstate_set_xcr0(ProcessorState& p, XState& x, uint64_t value);

} // namespace svm
