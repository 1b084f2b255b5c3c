// How the hypervisor wakes the root's scheduler (the root-scheduler model of mshv): a child VP
// that DispatchVp returned halted gets an interrupt, an IPI, a timer expiry or a SynIC message,
// and the hypervisor posts a scheduler VP-signal message (pairs of partition id and VP index)
// into SINT 0 of the root's VP 0. The SINT's handler only acknowledges the interrupt; the
// bootstrap processor's scheduler loop takes the message (docs/child-partitions.md, "Scheduling").
#pragma once
#include <stdint.h>

namespace root::signals {

inline constexpr uint8_t vector = 0x31;   // SINT 0 of root VP 0

// On the bootstrap processor: the message page, SINT 0 and the SynIC. False when refused.
[[nodiscard]] bool init();

struct Signal {
    uint64_t partition;
    uint32_t vp;
};
// The VPs signalled since the last call, at most `max`; `all` when the hypervisor dropped some
// (look at every waiting VP). Only on the bootstrap processor, whose SIMP it reads.
[[nodiscard]] uint32_t take(Signal* out, uint32_t max, bool& all);

} // namespace root::signals
