// Starting the application processors and asking them to run code.
#pragma once
#include "boot/boot_info.hpp"

#include <stddef.h>
#include <stdint.h>

namespace hv::smp {

// Picks and fills the trampoline page below 1 MiB. False when the loader's map has no usable
// page there (then only the bootstrap processor runs).
[[nodiscard]] bool prepare_trampoline(const boot::BootInfo& info);

// INIT-SIPI-SIPI to each APIC id in turn (skipping the caller's own), at most `limit`
// processors in total counting the caller. A processor that does not report in is logged,
// parked again with INIT, and skipped. Returns the number online, the caller included.
uint32_t start_aps(const uint32_t* apic_ids, size_t count, uint32_t limit);

// Runs fn(arg) on processor `index` from its IPI handler (interrupts off there) and waits for
// it to finish; on the calling processor it simply calls fn. False if the processor is not
// online or does not answer within a few seconds.
using CallFn = void (*)(void*);
[[nodiscard]] bool call_on(uint32_t index, CallFn fn, void* arg);
// Interrupts processor `index` with the call vector and does not wait: it wakes from a halt, or
// leaves its guest, and finds no call. Safe where call_on is not: with a lock held, or from a
// path the target may be waiting on.
bool poke(uint32_t index);
// Every online processor, the caller included; returns how many ran it.
uint32_t call_on_all(CallFn fn, void* arg);

// The idle loop of an application processor: halts with interrupts on, and runs the processor's
// idle_work (PerCpu) when a wake-up finds one, e.g. a virtual processor to run.
[[noreturn]] void idle();

// Panic support (hv/smp_stop.cpp): true once a processor has started stopping the others;
// the NMI handler then parks its processor for good with smp_stopped_halt().
[[nodiscard]] bool stopping();
[[noreturn]] void stopped_halt();

} // namespace hv::smp
