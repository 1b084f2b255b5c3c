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

void raise_soft(Vp& vp, uint8_t vector) {
    __atomic_fetch_or(&vp.soft_irq[vector / 64], 1ull << (vector % 64), __ATOMIC_RELAXED);
    __atomic_fetch_or(&vp.pending_irq[vector / 64], 1ull << (vector % 64), __ATOMIC_RELEASE);
}

namespace {

bool any(const uint64_t (&w)[4]) { return (w[0] | w[1] | w[2] | w[3]) != 0; }

int highest(const uint64_t (&w)[4]) { return highest_vector(w); }

// The physical APIC's in-service vectors minus those still waiting here for injection: the
// processor acknowledged them, but the guest has not seen them yet.
void physical_in_service(const Vp& vp, uint64_t (&out)[4]) {
    if (!vp.phys_in_service) {   // none injected and not ended: nothing to read (8 APIC reads)
        out[0] = out[1] = out[2] = out[3] = 0;
        return;
    }
    for (uint32_t i = 0; i < 4; i++) {
        uint64_t lo = apic::read_reg(0x100 + 0x20 * i), hi = apic::read_reg(0x110 + 0x20 * i);
        uint64_t waiting = __atomic_load_n(&vp.pending_irq[i], __ATOMIC_RELAXED) &
                           ~__atomic_load_n(&vp.soft_irq[i], __ATOMIC_RELAXED);
        out[i] = (lo | hi << 32) & ~waiting;
    }
}

// Whether the priority rules need applying here: the hypervisor has vectors of its own pending
// or in service, or the TPR came from CR8 (AMD-V V_TPR, synced only at exits: a physical
// interrupt may have been accepted under the old TPR).
bool mixes_priorities(const Vp& vp) {
    return vp.partition->kind == PartitionKind::root && (any(vp.soft_irq) || any(vp.soft_isr) || vp.cr8);
}

int top_pending(const Vp& vp) {
    uint64_t p[4];
    for (int i = 0; i < 4; i++)
        p[i] = __atomic_load_n(&vp.pending_irq[i], __ATOMIC_RELAXED);
    return highest(p);
}

bool allowed(const Vp& vp, int vector) {
    if (vector < 0)
        return false;
    if (vp.partition->kind != PartitionKind::root)   // a child's APIC is all the hypervisor's (lapic.hpp)
        return static_cast<uint32_t>(vector & 0xf0) > (apic_ppr(vp.lapic.tpr, vp.soft_isr) & 0xf0);
    if (!mixes_priorities(vp))
        return true;
    uint64_t phys[4];
    physical_in_service(vp, phys);
    int in_service = highest(phys), soft = highest(vp.soft_isr);
    int isr_class = (in_service > soft ? in_service : soft) >> 4;
    int tpr_class = static_cast<int>(apic::read_reg(0x80) >> 4) & 0xf;
    int ppr_class = isr_class > tpr_class ? isr_class : tpr_class;
    return (vector >> 4) > ppr_class;
}

} // namespace

uint32_t root_ppr(const Vp& vp) {
    uint64_t in_service[4];
    physical_in_service(vp, in_service);
    for (int i = 0; i < 4; i++)
        in_service[i] |= vp.soft_isr[i];
    return apic_ppr(apic::read_reg(0x80), in_service);
}

bool irq_deliverable(const Vp& vp) { return has_pending_irq(vp) && allowed(vp, top_pending(vp)); }

int take_injectable_irq(Vp& vp) {
    int v = top_pending(vp);
    if (!allowed(vp, v))
        return -1;
    uint64_t bit = 1ull << (v % 64);
    __atomic_fetch_and(&vp.pending_irq[v / 64], ~bit, __ATOMIC_RELAXED);
    bool soft = __atomic_fetch_and(&vp.soft_irq[v / 64], ~bit, __ATOMIC_RELAXED) & bit;
    if (soft || vp.partition->kind != PartitionKind::root)
        vp.soft_isr[v / 64] |= bit;
    else
        vp.phys_in_service++;
    return v;
}

bool virtual_eoi(Vp& vp) {
    auto physical = [&vp] {
        if (vp.phys_in_service)
            vp.phys_in_service--;
        return false;
    };
    if (!any(vp.soft_isr))
        return physical();
    uint64_t phys[4];
    physical_in_service(vp, phys);
    int soft = highest(vp.soft_isr);
    if (soft < highest(phys))
        return physical();
    vp.soft_isr[soft / 64] &= ~(1ull << (soft % 64));
    return true;
}

void kick(Vp& vp) {
    uint32_t cpu = __atomic_load_n(&vp.cpu, __ATOMIC_ACQUIRE);
    if (cpu == this_cpu().index)
        return;
    // The call IPI wakes a halted processor and forces a running guest out (interrupt exiting).
    // Not waited for: the kicker may hold what the target is spinning for (vtimer.cpp's parked
    // list), and a processor that is busy elsewhere looks at its VP when it gets back anyway.
    if (!smp::poke(cpu))
        console::log("hv: cpu %u does not take a wake-up for VP %u\n", cpu, vp.index);
}

} // namespace hv::virt
