// The glue of hv/virt/vtimer.hpp: MSR access to the root's APIC timer and the synthetic timers,
// expiry, and the physical APIC timer, which the hypervisor owns and arms for the earliest
// deadline of the root VP pinned to each processor.
//
// Everything here runs on the processor of the VP it touches, with interrupts off (an exit
// being handled) or in the timer interrupt (taken only where the exit loop lets interrupts in:
// between exits or in a halt), so one processor never meets itself halfway through a change.
#include "hv/virt/vtimer.hpp"

#include "hv/arch/apic.hpp"
#include "hv/arch/interrupts.hpp"
#include "hv/arch/tsc.hpp"
#include "hv/percpu.hpp"
#include "hv/virt/synic.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {
namespace {

struct Processor {
    Vp* owner = nullptr;     // the root VP whose timers this processor's timer serves
    uint64_t armed = 0;      // TSC the physical timer is set for; 0: stopped
};
Processor processors[max_processors];

TimerClocks clocks() { return {tsc::hz(), apic::bus_hz()}; }

uint64_t ref_now(const Partition& p, uint64_t tsc_now) {
    int64_t delta = static_cast<int64_t>(tsc_now - p.time.base_tsc);
    return ref_time(delta > 0 ? static_cast<uint64_t>(delta) : 0, tsc::hz());
}

// The TSC at reference time `ref`; saturates for absurd values so a far deadline stays far.
uint64_t ref_to_tsc(const Partition& p, uint64_t ref) {
    uint64_t hz = tsc::hz();
    if (ref / ref_units_per_second >= (1ull << 62) / (hz ? hz : 1))
        return ~0ull;
    return p.time.base_tsc + mul_div(ref, hz, ref_units_per_second);
}

bool has_stimers(const Vp& vp) { return vp.partition->cpuid.privileges & tlfs::privilege::synthetic_timer_msrs; }

// Posts the expiry message of timer `index`, or leaves it waiting for its slot.
void post_expiry(Vp& vp, uint32_t index, Stimer& s, uint64_t expired_at, uint64_t now) {
    tlfs::root::TimerMessagePayload payload{index, 0, expired_at, now};
    auto m = make_message(static_cast<uint32_t>(tlfs::root::MessageType::timer_expired), 0, &payload, sizeof payload);
    switch (synic::post_from_hypervisor(vp, s.sint(), m)) {
    case synic::HvDelivery::delivered: s.message_waiting = false; break;
    case synic::HvDelivery::slot_busy:
        s.message_waiting = true;
        s.waiting_expiration = expired_at;
        break;
    case synic::HvDelivery::synic_off: s.message_waiting = false; break;   // lost, as on hardware with the SIMP off
    }
}

// Fires whatever of `vp`'s timers is due.
void service(Vp& vp) {
    uint64_t tsc_now = read_tsc();
    uint8_t vector = 0;
    if (apic_timer_expire(vp.timers.apic, tsc_now, vector))
        raise_soft(vp, vector);
    if (!has_stimers(vp))
        return;
    uint64_t now = ref_now(*vp.partition, tsc_now);
    for (uint32_t i = 0; i < stimer_count; i++) {
        Stimer& s = vp.timers.stimer[i];
        uint64_t at = 0;
        if (!stimer_expire(s, now, at))
            continue;
        if (s.direct())
            raise_soft(vp, s.vector());
        else if (!s.message_waiting)   // one message at a time per timer: later expiries fold into it
            post_expiry(vp, i, s, at, now);
    }
}

uint64_t next_deadline(const Vp& vp) {
    uint64_t next = vp.timers.apic.deadline ? vp.timers.apic.deadline : ~0ull;
    for (const Stimer& s : vp.timers.stimer)
        if (s.enabled() && s.deadline) {
            uint64_t t = ref_to_tsc(*vp.partition, s.deadline);
            next = t < next ? t : next;
        }
    return next;
}

// Fires what is due and sets the physical timer for what is next.
void settle(Vp& vp) {
    Processor& pc = processors[this_cpu().index];
    for (int round = 0;; round++) {
        service(vp);
        uint64_t next = next_deadline(vp);
        uint64_t now = read_tsc();
        if (next == ~0ull) {
            if (pc.armed)
                apic::timer_oneshot(0, arch::vector_timer);
            pc.armed = 0;
            return;
        }
        if (next > now || round == 3) {
            if (next <= now)
                next = now + 1;   // a guest asking for a storm gets one expiry per timer tick
            if (pc.armed == next)
                return;
            uint64_t ticks = mul_div(next - now, apic::timer_hz(), tsc::hz()) + 1;
            apic::timer_oneshot(ticks > 0xffffffffull ? 0xffffffffu : static_cast<uint32_t>(ticks), arch::vector_timer);
            pc.armed = next;
            return;
        }
    }
}

void on_timer_interrupt(RegisterDump&) {
    apic::eoi();
    Processor& pc = processors[this_cpu().index];
    pc.armed = 0;
    if (pc.owner)
        settle(*pc.owner);
}

bool owned_here(const Vp& vp) { return processors[this_cpu().index].owner == &vp; }

} // namespace

void timers_attach(Vp& vp) {
    arch::set_interrupt_handler(arch::vector_timer, on_timer_interrupt);
    processors[this_cpu().index].owner = &vp;
}

bool apic_timer_read(Vp& vp, uint32_t msr, uint64_t& value) {
    const ApicTimer& t = vp.timers.apic;
    switch (msr) {
    case 0x832: value = t.lvt; return true;
    case 0x838: value = t.initial; return true;
    case 0x839: value = apic_timer_current(t, read_tsc(), clocks()); return true;
    case 0x83e: value = t.divide; return true;
    case msr_tsc_deadline: value = apic_timer_read_tsc_deadline(t); return true;
    default: return false;
    }
}

bool apic_timer_write(Vp& vp, uint32_t msr, uint64_t value) {
    ApicTimer& t = vp.timers.apic;
    if (msr != msr_tsc_deadline && (value >> 32))
        return false;
    auto v = static_cast<uint32_t>(value);
    switch (msr) {
    case 0x832:
        if (!apic_timer_write_lvt(t, v))
            return false;
        break;
    case 0x838: apic_timer_write_initial(t, v, read_tsc(), clocks()); break;
    case 0x839: return false;   // read-only
    case 0x83e:
        if (v & ~0xbu)
            return false;
        t.divide = v;
        break;
    case msr_tsc_deadline: apic_timer_write_tsc_deadline(t, value); break;
    default: return false;
    }
    if (owned_here(vp))
        settle(vp);
    return true;
}

bool stimer_read(Vp& vp, uint32_t msr, uint64_t& value) {
    if (!has_stimers(vp))
        return false;
    const Stimer& s = vp.timers.stimer[(msr - 0x400000b0) / 2];
    value = (msr & 1) ? s.count : s.config;
    return true;
}

bool stimer_write(Vp& vp, uint32_t msr, uint64_t value) {
    if (!has_stimers(vp))
        return false;
    Stimer& s = vp.timers.stimer[(msr - 0x400000b0) / 2];
    uint64_t now = ref_now(*vp.partition, read_tsc());
    if (msr & 1)
        stimer_write_count(s, value, now);
    else if (!stimer_write_config(s, value, now))
        return false;
    if (owned_here(vp))
        settle(vp);
    return true;
}

void stimer_retry_messages(Vp& vp) {
    if (!has_stimers(vp))
        return;
    uint64_t now = ref_now(*vp.partition, read_tsc());
    for (uint32_t i = 0; i < stimer_count; i++) {
        Stimer& s = vp.timers.stimer[i];
        if (s.message_waiting)
            post_expiry(vp, i, s, s.waiting_expiration, now);
    }
}

} // namespace hv::virt
