// How the hypervisor wakes the root's scheduler (the root-scheduler model of mshv): a child VP
// that DispatchVp returned halted gets an interrupt, an IPI, a timer expiry or a SynIC message,
// and the hypervisor posts a scheduler VP-signal message (pairs of partition id and VP index)
// into SINT 0 of the root's VP 0. The SINT's handler only acknowledges the interrupt; the
// bootstrap processor's scheduler loop takes the message (docs/child-partitions.md, "Scheduling").
#pragma once
#include <stdint.h>

#include "hypercalls/abi/partition.hpp"

namespace root::signals {

inline constexpr uint8_t vector = 0x31;        // SINT 0 of root VP 0
inline constexpr uint8_t echo_vector = 0x32;   // SINT 1: the echo service (partitions/abi/echo.hpp)
// SINT 2: VMBus channel messages and channel signals from children (vmbus_host.hpp). Linux's
// guests take VMBus on SINT 2 too (HYPERV-FACTS "VMBus"); on the root it is only our choice.
inline constexpr uint32_t vmbus_sint = 2;
inline constexpr uint8_t vmbus_vector = 0x33;

// On the bootstrap processor: the message and event-flag pages, SINT 0, 1 and 2, and the SynIC.
// False when refused.
[[nodiscard]] bool init();

struct Signal {
    uint64_t partition;
    uint32_t vp;
};
// The VPs signalled since the last call, at most `max`; `all` when the hypervisor dropped some
// (look at every waiting VP). Only on the bootstrap processor, whose SIMP it reads.
[[nodiscard]] uint32_t take(Signal* out, uint32_t max, bool& all);

// SINT `sint`'s message slot of VP 0, copied out and emptied (EOM when more wait); false when
// it is empty. Bootstrap processor only.
[[nodiscard]] bool take_message(uint32_t sint, tlfs::root::Message& out);
// Event flag `bit` of SINT `sint` of VP 0, read and cleared at once.
[[nodiscard]] bool take_flag(uint32_t sint, uint32_t bit);

} // namespace root::signals
