// The glue of a child's local APIC (hv/virt/lapic.hpp): register access from the exit path
// (x2APIC MSRs here; xAPIC page accesses are decoded in child_exit.hpp and land here too), EOI,
// the timer, and IPIs to the VPs of the same partition.
#include "hv/virt/lapic.hpp"

#include "hv/virt/children.hpp"
#include "hv/virt/policy.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "hv/virt/vtimer.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {
namespace {

using children::InterruptType;

void send(Vp& from, const IpiRequest& ipi) {
    InterruptType type = ipi.kind == IpiRequest::Kind::nmi    ? InterruptType::nmi
                         : ipi.kind == IpiRequest::Kind::init ? InterruptType::init
                         : ipi.kind == IpiRequest::Kind::sipi ? InterruptType::sipi
                                                              : InterruptType::fixed;
    Partition& p = *from.partition;
    if (ipi.shorthand == 1 && type == InterruptType::fixed) {
        raise_soft(from, ipi.vector);   // to itself: no lock, no wake-up
        return;
    }
    for (uint32_t i = 0, n = p.vp_span(); i < n; i++) {
        Vp* t = p.vp_at(i);
        if (!t || !apic_is_target(t->lapic, ipi, from.lapic.id))
            continue;
        // A target that runs INIT or a SIPI it does not wait for ignores it (the status says so).
        static_cast<void>(children::assert_interrupt(p.id, type, i, ipi.vector, true));
    }
}

} // namespace

bool child_apic_access(Vp& vp, uint32_t offset, bool write, uint64_t& value) {
    uint64_t now = read_tsc();
    TimerClocks c = timer_clocks();
    if (!write)
        return apic_read(vp.lapic, vp.timers.apic, vp.pending_irq, vp.soft_isr, offset, now, c, value);
    ApicWrite w = apic_write(vp.lapic, vp.timers.apic, offset, value, now, c);
    if (w.gp)
        return false;
    if (w.eoi) {
        int v = highest_vector(vp.soft_isr);
        if (v >= 0)
            vp.soft_isr[v / 64] &= ~(1ull << (v % 64));
    }
    if (w.timer)
        timers_changed(vp);
    if (w.ipi.kind != IpiRequest::Kind::none)
        send(vp, w.ipi);
    return true;
}

Outcome child_apic_msr(Vp& vp, uint32_t msr, bool write, uint64_t value) {
    if (msr == 0x1b) {
        if (!write)
            return {false, apic_base_read(vp.lapic, vp.index == 0)};
        return {!apic_base_write(vp.lapic, value), 0};
    }
    if (msr == msr_tsc_deadline) {
        if (!write)
            return {false, apic_timer_read_tsc_deadline(vp.timers.apic)};
        apic_timer_write_tsc_deadline(vp.timers.apic, value);
        timers_changed(vp);
        return {false, 0};
    }
    // 0x800-0x8ff: the registers by MSR, only in x2APIC mode (SDM vol 3 11.12.1.2).
    if (!vp.lapic.x2apic || !vp.lapic.enabled)
        return {true, 0};
    uint32_t offset = (msr - 0x800) << 4;
    uint64_t v = value;
    if (!child_apic_access(vp, offset, write, v))
        return {true, 0};
    return {false, write ? 0 : v};
}

void child_apic_reset(Vp& vp) {
    ApicRegs fresh;
    fresh.id = vp.apic_id;
    fresh.x2apic = vp.lapic.x2apic;   // INIT keeps IA32_APIC_BASE (SDM vol 3 11.4.7.3)
    fresh.enabled = vp.lapic.enabled;
    vp.lapic = fresh;
    vp.timers.apic = ApicTimer{};
    for (int i = 0; i < 4; i++) {
        vp.soft_isr[i] = 0;
        __atomic_store_n(&vp.pending_irq[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&vp.soft_irq[i], 0, __ATOMIC_RELAXED);
    }
}

} // namespace hv::virt
