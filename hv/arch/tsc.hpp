// The time-stamp counter as the hypervisor's clock. Its rate comes from CPUID 0x15 when the
// processor states it (SDM vol 3 18.7.3), else from counting it against the 8254 PIT channel 2
// (1.193182 MHz, a crystal every PC-compatible platform still models), else the ACPI PM timer.
// The core assumes an invariant TSC synchronized across processors (checked by the self-test).
#pragma once
#include "hv/arch/x86.hpp"

#include <stdint.h>

namespace hv::tsc {

// Measures the rate; logs one line `hv: tsc <MHz> MHz (<source>)`. Before it runs, delays
// assume a 4 GHz TSC, i.e. they wait at least as long as asked on slower processors.
void calibrate(uint64_t pm_timer_port, bool pm_timer_32bit);
[[nodiscard]] uint64_t hz();

[[nodiscard]] inline uint64_t now() {
    return x86::rdtsc();
}
[[nodiscard]] uint64_t deadline_us(uint64_t us);
[[nodiscard]] inline bool before(uint64_t deadline) {
    return static_cast<int64_t>(now() - deadline) < 0;
}
void delay_us(uint64_t us);

} // namespace hv::tsc
