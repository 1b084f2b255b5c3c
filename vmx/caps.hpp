// What this processor's VMX offers, and the pure rules for fitting our wishes to it. The
// privileged reads live in vmx.cpp; everything here is arithmetic the host tests check.
#pragma once
#include <stdint.h>

namespace vmx {

// MSR numbers of the VMX capability reporting facility (SDM vol 3 appendix A, vol 4 2.1).
namespace msr {
inline constexpr uint32_t vmx_basic = 0x480;
inline constexpr uint32_t pinbased_ctls = 0x481;
inline constexpr uint32_t procbased_ctls = 0x482;
inline constexpr uint32_t exit_ctls = 0x483;
inline constexpr uint32_t entry_ctls = 0x484;
inline constexpr uint32_t misc = 0x485;
inline constexpr uint32_t cr0_fixed0 = 0x486;
inline constexpr uint32_t cr0_fixed1 = 0x487;
inline constexpr uint32_t cr4_fixed0 = 0x488;
inline constexpr uint32_t cr4_fixed1 = 0x489;
inline constexpr uint32_t procbased_ctls2 = 0x48b;
inline constexpr uint32_t ept_vpid_cap = 0x48c;
inline constexpr uint32_t true_pinbased_ctls = 0x48d;
inline constexpr uint32_t true_procbased_ctls = 0x48e;
inline constexpr uint32_t true_exit_ctls = 0x48f;
inline constexpr uint32_t true_entry_ctls = 0x490;
inline constexpr uint32_t sysenter_cs = 0x174;
inline constexpr uint32_t sysenter_esp = 0x175;
inline constexpr uint32_t sysenter_eip = 0x176;
inline constexpr uint32_t star = 0xc0000081;
inline constexpr uint32_t lstar = 0xc0000082;
inline constexpr uint32_t cstar = 0xc0000083;
inline constexpr uint32_t sfmask = 0xc0000084;
} // namespace msr

// IA32_VMX_BASIC (A.1).
inline constexpr uint64_t basic_true_controls = 1ull << 55;
constexpr uint32_t basic_revision(uint64_t basic) { return static_cast<uint32_t>(basic) & 0x7fffffffu; }

// IA32_VMX_EPT_VPID_CAP (A.10).
enum EptCap : uint64_t {
    ept_execute_only = 1ull << 0,
    ept_walk_4 = 1ull << 6,
    ept_uc = 1ull << 8,
    ept_wb = 1ull << 14,
    ept_2m = 1ull << 16,
    ept_1g = 1ull << 17,
    ept_invept = 1ull << 20,
    ept_accessed_dirty = 1ull << 21,
    ept_invept_single = 1ull << 25,
    ept_invept_all = 1ull << 26,
    vpid_invvpid = 1ull << 32,
    vpid_invvpid_single = 1ull << 41,
    vpid_invvpid_all = 1ull << 42,
};

// A.3.1: the low half of a control capability MSR holds the allowed-0 settings (a 1 there
// means the control must be 1), the high half the allowed-1 settings (a 0 there means the
// control must be 0).
struct ControlAdjust {
    uint32_t value;         // what to write into the VMCS
    uint32_t unsupported;   // desired bits the processor cannot set
};
constexpr uint32_t allowed0(uint64_t cap) { return static_cast<uint32_t>(cap); }
constexpr uint32_t allowed1(uint64_t cap) { return static_cast<uint32_t>(cap >> 32); }
constexpr ControlAdjust adjust_controls(uint32_t desired, uint64_t cap) {
    return {(desired | allowed0(cap)) & allowed1(cap), desired & ~allowed1(cap)};
}
// Keeps only the optional bits the processor can set.
constexpr uint32_t supported_subset(uint32_t optional, uint64_t cap) { return optional & allowed1(cap); }

// A.7/A.8: a bit set in FIXED0 must be 1 in CR0/CR4, a bit clear in FIXED1 must be 0.
constexpr uint64_t apply_fixed(uint64_t v, uint64_t fixed0, uint64_t fixed1) { return (v | fixed0) & fixed1; }
constexpr bool fits_fixed(uint64_t v, uint64_t fixed0, uint64_t fixed1) { return apply_fixed(v, fixed0, fixed1) == v; }

struct Capabilities {
    uint32_t revision = 0;
    bool true_controls = false;
    uint64_t pin = 0, primary = 0, secondary = 0, exit = 0, entry = 0;   // capability MSR values
    uint64_t misc = 0;
    uint64_t ept_vpid = 0;
    uint64_t cr0_fixed0 = 0, cr0_fixed1 = ~0ull, cr4_fixed0 = 0, cr4_fixed1 = ~0ull;
    bool xsave = false;
    uint64_t xcr0_supported = 0;   // CPUID 0xD.0 EDX:EAX
    uint32_t xsave_bytes = 0;      // CPUID 0xD.0 ECX: area size for every supported component

    // IA32_VMX_MISC[4:0]: the preemption timer counts down once per 2^shift TSC ticks (A.6).
    [[nodiscard]] uint32_t preemption_shift() const { return static_cast<uint32_t>(misc & 31); }
};

// Why VMX is not usable, or nullptr when it is (vmx.cpp fills `caps` either way as far as it got).
struct Detection {
    bool usable = false;
    const char* reason = nullptr;
};

// XSETBV rules (SDM vol 1 13.3, vol 2 XSETBV): x87 always on; AVX needs SSE; the AVX-512
// triple and the MPX and AMX pairs go together; nothing the processor lacks.
constexpr bool xcr0_valid(uint64_t v, uint64_t supported) {
    constexpr uint64_t x87 = 1, sse = 2, avx = 4, bnd = 0x18, avx512 = 0xe0, amx = 0x60000;
    if ((v & ~supported) != 0 || (v & x87) == 0)
        return false;
    if ((v & avx) && !(v & sse))
        return false;
    if ((v & avx512) != 0 && ((v & avx512) != avx512 || !(v & avx)))
        return false;
    if ((v & bnd) != 0 && (v & bnd) != bnd)
        return false;
    return (v & amx) == 0 || (v & amx) == amx;
}

} // namespace vmx
