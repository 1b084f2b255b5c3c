// Per-processor state, reached through the GS base (IA32_GS_BASE, SDM vol 3 3.4.4): %gs:0 holds
// a pointer to the structure itself, so this_cpu() is one load and needs no APIC-id lookup.
// Index 0 is the bootstrap processor; indices follow the order processors came online.
#pragma once
#include "hv/arch/descriptors.hpp"
#include "hv/lib/spinlock.hpp"

#include <stdint.h>

namespace hv {

inline constexpr uint32_t max_processors = 256;
inline constexpr uint64_t stack_bytes = 32 * 1024;    // each processor's main stack
inline constexpr uint64_t ist_stack_bytes = 8 * 1024; // each IST stack

struct PerCpu {
    PerCpu* self = nullptr; // must stay first: this_cpu() reads %gs:0
    uint32_t index = 0;
    uint32_t apic_id = 0;
    uint64_t stack_top = 0;
    uint64_t ist_top[arch::ist_count] = {};
    arch::Tss tss{};
    arch::Gdt gdt{};
    void* virt_state = nullptr; // the virtualization backend's per-processor state
    void (*idle_work)() = nullptr; // run once by smp::idle() after a wake-up, then cleared
    uint64_t last_fixup_vector = 0;

    // Cross-processor call mailbox (hv/smp.hpp): a caller holds call_lock, fills fn/arg and
    // bumps call_seq; the target runs fn in its IPI handler and copies call_seq to call_done.
    Spinlock call_lock;
    void (*call_fn)(void*) = nullptr;
    void* call_arg = nullptr;
    uint64_t call_seq = 0;
    uint64_t call_done = 0;

    bool online = false;
    // What the processor was last doing, for the log line of a call it did not answer.
    const char* volatile doing = "starting";
    volatile uint64_t exits = 0;   // guest exits taken on this processor
};

[[nodiscard]] inline PerCpu& this_cpu() {
    PerCpu* p;
    asm volatile("mov %%gs:0, %0" : "=r"(p));
    return *p;
}

// The slot for processor `index` (index < max_processors), online or not.
[[nodiscard]] PerCpu& cpu_slot(uint32_t index);
// Processors online so far (the bootstrap processor counts from percpu_init_bsp on).
[[nodiscard]] uint32_t online_count();
void mark_online(PerCpu& c);

// Prepares the calling processor: stacks for the IST, GDT with TSS, the shared IDT, GS base.
// `stack_top` is the stack this processor runs on (recorded, not switched to).
void percpu_init_bsp(uint64_t stack_top);
void percpu_init_ap(PerCpu& c);
// Allocates the main and IST stacks of slot `index` (the AP start path).
[[nodiscard]] bool percpu_allocate(uint32_t index, uint32_t apic_id);

} // namespace hv
