// The root's interrupt setup on each of its processors: its gates in the runtime's IDT
// (partitions/rt, shared by every processor: the timer, the SINTs, the spurious vector), and a periodic x2APIC timer of about
// 1 ms, calibrated once against the TSC the handoff describes.
#pragma once
#include <stdint.h>

namespace root::irq {

inline constexpr uint8_t timer_vector = 0x30;   // not 0xef/0xf0, which the hypervisor owns
inline constexpr uint8_t wake_vector = 0x34;    // an IPI that only ends another processor's HLT

// On the bootstrap processor, before any other: installs the gates and calibrates the timer.
void init_bsp();
// On every processor (the bootstrap one too): starts the timer, enables interrupts.
void start_this_cpu();
uint64_t ticks();
// Sends the wake-up IPI to the processor with x2APIC id `apic_id`.
void wake(uint32_t apic_id);

} // namespace root::irq
