#include "hv/virt/vp_runtime.hpp"

#include "hv/arch/apic.hpp"
#include "hv/arch/interrupts.hpp"
#include "hv/console.hpp"
#include "hv/percpu.hpp"
#include "hv/smp.hpp"

namespace hv::virt {
namespace {

Vp* current[max_processors];

bool hypervisor_vector(uint8_t v) {
    return v < 32 || v == arch::vector_timer || v == arch::vector_call || v == arch::vector_spurious;
}

void mark(Vp& vp, uint8_t vector) {
    __atomic_fetch_or(&vp.pending_irq[vector / 64], 1ull << (vector % 64), __ATOMIC_RELAXED);
}

// Host IDT handler for forwarded vectors: no EOI here, the guest sends it.
void forward_from_idt(RegisterDump& r) {
    auto vector = static_cast<uint8_t>(r.vector);
    if (Vp* vp = current_vp()) {
        mark(*vp, vector);
        return;
    }
    // No VP on this processor: nobody will EOI it, so we do, and say so once.
    static bool said;
    if (!said) {
        said = true;
        console::log("hv: cpu %u: interrupt vector %u with no virtual processor to take it; dropped\n",
                     this_cpu().index, vector);
    }
    apic::eoi();
}

void nothing(void*) {}

} // namespace

void install_interrupt_forwarding() {
    for (unsigned v = 32; v < 256; v++)
        if (!hypervisor_vector(static_cast<uint8_t>(v)))
            arch::set_interrupt_handler(static_cast<uint8_t>(v), forward_from_idt);
}

Vp* current_vp() { return __atomic_load_n(&current[this_cpu().index], __ATOMIC_RELAXED); }
void set_current_vp(Vp* vp) { __atomic_store_n(&current[this_cpu().index], vp, __ATOMIC_RELAXED); }

void forward_vector(Vp& vp, uint8_t vector) {
    if (!hypervisor_vector(vector)) {
        mark(vp, vector);
        return;
    }
    // Acknowledged on exit (VT-x) but ours: run the hypervisor's own handler for it.
    RegisterDump r{};
    r.vector = vector;
    hv_interrupt_dispatch(&r);
}

void drain_host_interrupts() { asm volatile("sti; nop; cli" ::: "memory"); }

int take_pending_irq(Vp& vp) {
    for (int w = 3; w >= 0; w--) {
        uint64_t bits = __atomic_load_n(&vp.pending_irq[w], __ATOMIC_RELAXED);
        if (bits) {
            int bit = 63 - __builtin_clzll(bits);
            __atomic_fetch_and(&vp.pending_irq[w], ~(1ull << bit), __ATOMIC_RELAXED);
            return w * 64 + bit;
        }
    }
    return -1;
}

void kick(Vp& vp) {
    if (vp.cpu == this_cpu().index)
        return;
    // The call IPI wakes a halted processor and forces a running guest out (interrupt exiting).
    if (!smp::call_on(vp.cpu, nothing, nullptr))
        console::log("hv: cpu %u does not answer a wake-up for VP %u\n", vp.cpu, vp.index);
}

} // namespace hv::virt
