// The local APIC the hypervisor emulates for a child partition's VP (Intel SDM vol 3 ch. 11),
// in xAPIC mode (a 4 KiB page at 0xfee00000, reached by decoded memory accesses) or x2APIC mode
// (MSRs 0x800-0x8ff), one register file for both. The pending (IRR) and in-service (ISR)
// vectors are the VP's `pending_irq` and `soft_isr`, which the exit loop injects from with the
// priority rules of vp_runtime.hpp; the timer is the VP's ApicTimer (vtimer.hpp). The register
// semantics here are pure (host unit tests, tests/unit/lapic_test.cpp); the glue that sends IPIs
// and decodes memory accesses is in lapic.cpp.
#pragma once
#include <stdint.h>

#include "hv/virt/vtimer.hpp"

namespace hv {
struct Vp;
}

namespace hv::virt {

inline constexpr uint64_t apic_default_base = 0xfee00000;

namespace apic_base_msr {   // IA32_APIC_BASE (SDM vol 3 11.4.4, 11.12.1)
inline constexpr uint64_t bsp = 1ull << 8, extd = 1ull << 10, enable = 1ull << 11;
} // namespace apic_base_msr

// Register offsets in the xAPIC page (SDM vol 3 table 11-1); the x2APIC MSR is 0x800 + offset/16.
namespace apic_reg {
inline constexpr uint32_t id = 0x20, version = 0x30, tpr = 0x80, apr = 0x90, ppr = 0xa0, eoi = 0xb0, rrd = 0xc0,
                          ldr = 0xd0, dfr = 0xe0, svr = 0xf0, isr = 0x100, tmr = 0x180, irr = 0x200, esr = 0x280,
                          lvt_cmci = 0x2f0, icr_low = 0x300, icr_high = 0x310, lvt_timer = 0x320,
                          lvt_thermal = 0x330, lvt_perf = 0x340, lvt_lint0 = 0x350, lvt_lint1 = 0x360,
                          lvt_error = 0x370, timer_initial = 0x380, timer_current = 0x390, timer_divide = 0x3e0,
                          self_ipi = 0x3f0;
} // namespace apic_reg

struct ApicRegs {
    uint32_t id = 0;
    bool x2apic = false;           // IA32_APIC_BASE.EXTD
    bool enabled = true;           // IA32_APIC_BASE.EN (global enable)
    uint32_t tpr = 0;
    uint32_t ldr = 0;              // xAPIC only (x2APIC derives it from the id)
    uint32_t dfr = 0xffffffff;     // flat model
    uint32_t svr = 0xff;           // software-disabled, spurious vector 0xff (reset, SDM 11.4.7.1)
    uint32_t esr = 0;
    uint32_t icr_low = 0, icr_high = 0;
    // LVT entries other than the timer: CMCI, thermal, performance, LINT0, LINT1, error.
    uint32_t lvt[6] = {1u << 16, 1u << 16, 1u << 16, 1u << 16, 1u << 16, 1u << 16};
};

// An interprocessor interrupt a write of the ICR (or SELF IPI) asks for.
struct IpiRequest {
    enum class Kind : uint8_t { none, fixed, nmi, init, sipi } kind = Kind::none;
    uint8_t vector = 0;
    uint8_t shorthand = 0;     // 0 none, 1 self, 2 all including self, 3 all excluding self
    bool logical = false;
    uint32_t dest = 0;         // physical APIC id or logical destination
};

// What a register write asks the glue to do beyond the register file.
struct ApicWrite {
    bool gp = false;           // refuse with #GP (x2APIC only; xAPIC drops bad writes)
    bool eoi = false;          // end the highest in-service vector
    bool timer = false;        // the timer changed: rearm
    IpiRequest ipi{};
};

// The highest set bit of a 256-bit vector set, or -1.
[[nodiscard]] constexpr int highest_vector(const uint64_t (&w)[4]) {
    for (int i = 3; i >= 0; i--)
        if (w[i])
            return i * 64 + 63 - __builtin_clzll(w[i]);
    return -1;
}

// PPR (SDM vol 3 11.8.3.1): TPR when its class is at least the highest in service, else that
// class with a zero sub-class.
[[nodiscard]] constexpr uint32_t apic_ppr(uint32_t tpr, const uint64_t (&isr)[4]) {
    int v = highest_vector(isr);
    uint32_t isr_class = v < 0 ? 0 : static_cast<uint32_t>(v) & 0xf0;
    return (tpr & 0xf0) >= isr_class ? tpr & 0xff : isr_class;
}

// Reserved bits of the x2APIC ICR, whose WRMSR raises #GP (SDM vol 3 figure 11-28).
inline constexpr uint64_t x2apic_icr_reserved = 0xfff32000ull;

// The x2APIC logical id: cluster in 31:16, one bit of 16 in 15:0 (SDM vol 3 11.12.10.2).
[[nodiscard]] constexpr uint32_t x2apic_ldr(uint32_t id) { return ((id >> 4) << 16) | (1u << (id & 0xf)); }

// A register read at xAPIC `offset` (16-byte aligned). False: #GP in x2APIC mode (write-only or
// reserved); in xAPIC mode such reads return 0 and succeed.
[[nodiscard]] bool apic_read(const ApicRegs& a, const ApicTimer& t, const uint64_t (&irr)[4], const uint64_t (&isr)[4],
                             uint32_t offset, uint64_t now, const TimerClocks& c, uint64_t& value);
// A register write. In x2APIC mode the ICR takes 64 bits at once; everything else 32.
[[nodiscard]] ApicWrite apic_write(ApicRegs& a, ApicTimer& t, uint32_t offset, uint64_t value, uint64_t now,
                                   const TimerClocks& c);
// Whether the APIC `target` (of the VP with `target_id`) is a destination of `ipi` sent by `sender_id`.
[[nodiscard]] bool apic_is_target(const ApicRegs& target, const IpiRequest& ipi, uint32_t sender_id);
// An IA32_APIC_BASE write: false for #GP (an illegal mode transition, a moved base, reserved bits).
[[nodiscard]] bool apic_base_write(ApicRegs& a, uint64_t value);
[[nodiscard]] uint64_t apic_base_read(const ApicRegs& a, bool bsp);

// ---- The glue (lapic.cpp), on the processor that runs the child VP ----
// A register access at xAPIC `offset` (x2APIC MSRs map onto the same offsets). False: #GP.
[[nodiscard]] bool child_apic_access(Vp& vp, uint32_t offset, bool write, uint64_t& value);
// INIT: the register file back to its reset state, the id and IA32_APIC_BASE kept.
void child_apic_reset(Vp& vp);

} // namespace hv::virt
