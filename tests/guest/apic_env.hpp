// What the two halves of the `apic` suite share (apic.cpp: IPIs, EOI, priority, shadows;
// apic_timer.cpp: the timer in its three modes). Register numbers are the x2APIC MSRs of
// Intel SDM vol 3 table 11-6, spelled out here rather than taken from the hypervisor.
#pragma once
#include "tests/guest/suite.hpp"
#include "tests/guest/vectors.hpp"

namespace apic_suite {

inline constexpr uint32_t msr_tpr = 0x808, msr_ppr = 0x80a, msr_eoi = 0x80b, msr_svr = 0x80f, msr_icr = 0x830,
                          msr_lvt_timer = 0x832, msr_initial = 0x838, msr_current = 0x839, msr_divide = 0x83e,
                          msr_self_ipi = 0x83f, msr_tsc_deadline = 0x6e0, msr_apic_hz = 0x40000023;

// Delivery that should happen "at once" is given this long of reference time. An exit costs
// 12-18 us under QEMU TCG and about 7.5 us under Bochs (HARNESS.md), and a delivery takes a few
// of them, so an idle emulator delivers within a millisecond; the rest is margin for a shared
// 2-core host that deschedules QEMU, whose guest clock follows the host's (HARNESS: a 1 s boot
// once took 28 s). Lateness is bounded this loosely; earliness is never tolerated.
inline constexpr uint64_t late_ms = 50;

inline void self_ipi(uint8_t v) { rt::wrmsr(msr_self_ipi, v); }
inline void send_icr(uint32_t dest, uint32_t low) { rt::wrmsr(msr_icr, (uint64_t{dest} << 32) | low); }

void timer_checks(suite::Reporter& r);
inline constexpr unsigned timer_check_count = 16;

} // namespace apic_suite
