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
#include "hv/console.hpp"
#include "hv/lib/spinlock.hpp"
#include "hv/percpu.hpp"
#include "hv/virt/synic.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {
namespace {

struct Processor {
    Vp* owner = nullptr;     // the root VP pinned here, whose timers this processor serves
    Vp* guest = nullptr;     // the child VP the root dispatches here right now
    uint64_t armed = 0;      // TSC the physical timer is set for; 0: stopped
    // The physical timer's rate as this processor measures it: boot calibration is a 10 ms
    // sample that a loaded emulator host skews by tens of percent, so every expiry refines it.
    uint64_t rate_hz = 0;
    uint64_t armed_at = 0;   // TSC when the timer was set
    uint32_t armed_ticks = 0;
};
Processor processors[max_processors];

// Child VPs that halted back to the root with a timer armed: the processor they halted on
// serves their timers until they are dispatched again (or deleted).
struct Parked {
    Vp* vp = nullptr;
    uint32_t cpu = 0;
    bool busy = false;   // its processor services it right now, outside the lock
};
constexpr uint32_t max_parked = 64;
Spinlock parked_lock;
Parked parked[max_parked];
uint32_t parked_count;   // entries in use: the exit path skips the list when it is empty

TimerClocks clocks() { return {tsc::hz(), virtual_apic_bus_hz}; }

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
    case synic::HvDelivery::synic_off: s.message_waiting = false; break;   // lost, as with the SIMP off
    }
}

// Fires whatever of `vp`'s timers is due; true when it raised a vector.
bool service(Vp& vp) {
    bool raised = false;
    uint64_t tsc_now = read_tsc();
    uint8_t vector = 0;
    if (apic_timer_expire(vp.timers.apic, tsc_now, vector)) {
        raise_soft(vp, vector);
        raised = true;
    }
    if (!has_stimers(vp))
        return raised;
    bool any = false;
    for (const Stimer& s : vp.timers.stimer)
        any = any || s.enabled();
    if (!any)
        return raised;   // the common case: no reference-time arithmetic on the exit path
    uint64_t now = ref_now(*vp.partition, tsc_now);
    for (uint32_t i = 0; i < stimer_count; i++) {
        Stimer& s = vp.timers.stimer[i];
        uint64_t at = 0;
        if (!stimer_expire(s, now, at))
            continue;
        if (s.direct()) {
            raise_soft(vp, s.vector());
            raised = true;
        } else if (!s.message_waiting) {   // one message at a time per timer: later expiries fold into it
            post_expiry(vp, i, s, at, now);
        }
    }
    return raised;
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

// Fires what is due for every VP this processor serves and returns the earliest deadline left.
uint64_t service_processor(uint32_t cpu) {
    Processor& pc = processors[cpu];
    uint64_t next = ~0ull;
    auto take = [&next](uint64_t t) { next = t < next ? t : next; };
    if (pc.owner) {
        service(*pc.owner);
        take(next_deadline(*pc.owner));
    }
    if (Vp* g = pc.guest) {
        service(*g);
        take(next_deadline(*g));
    }
    // Parked VPs are serviced outside the lock: an expiry may wake the root's VP 0 on another
    // processor, and no cross-processor call may be made with a lock that processor could want.
    constexpr uint32_t batch = 16;
    Parked* mine[batch];
    uint32_t n = 0;
    if (__atomic_load_n(&parked_count, __ATOMIC_ACQUIRE) == 0)
        return next;
    {
        IrqLockGuard g(parked_lock);
        for (Parked& e : parked)
            if (e.vp && e.cpu == cpu && !e.busy && n < batch) {
                e.busy = true;
                mine[n++] = &e;
            }
    }
    for (uint32_t i = 0; i < n; i++) {
        Vp& vp = *mine[i]->vp;
        if (service(vp))
            synic::scheduler_signal(vp);   // it waits in the root's scheduler: wake it there
        uint64_t t = next_deadline(vp);
        take(t);
        IrqLockGuard g(parked_lock);
        if (t == ~0ull) {
            mine[i]->vp = nullptr;   // nothing left to time
            parked_count--;
        }
        mine[i]->busy = false;
    }
    return next;
}

// Fires what is due and sets the physical timer for what is next.
void settle() {
    uint32_t cpu = this_cpu().index;
    Processor& pc = processors[cpu];
    for (int round = 0;; round++) {
        uint64_t next = service_processor(cpu);
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
            if (!pc.rate_hz)
                pc.rate_hz = apic::timer_hz();
            // Aim a sixteenth short: an early expiry only rearms for the rest, a late one is late.
            uint64_t delta = next - now;
            uint64_t ticks = mul_div(delta - delta / 16, pc.rate_hz, tsc::hz()) + 1;
            pc.armed_ticks = ticks > 0xffffffffull ? 0xffffffffu : static_cast<uint32_t>(ticks);
            pc.armed_at = read_tsc();
            apic::timer_oneshot(pc.armed_ticks, arch::vector_timer);
            pc.armed = next;
            return;
        }
    }
}

// Refines the rate from an expiry of what settle() armed: ticks over the TSC time they took.
void learn_rate(Processor& pc) {
    uint64_t took = read_tsc() - pc.armed_at;
    if (!pc.armed || pc.armed_ticks < 64 || took < tsc::hz() / 10000 || took > tsc::hz())
        return;   // under 100 us interrupt latency dominates; over 1 s the product below overflows
    uint64_t measured = mul_div(pc.armed_ticks, tsc::hz(), took);
    // A late interrupt (the processor was busy, or an emulator's host descheduled it) reads as a
    // slow timer: only samples within a factor of two of the boot calibration count, so a stall
    // can never teach it a rate that would turn every deadline into a storm of early expiries.
    uint64_t boot = apic::timer_hz();
    if (measured < boot / 2 || measured > boot * 2)
        return;
    pc.rate_hz = (3 * pc.rate_hz + measured) / 4;
}

void on_timer_interrupt(RegisterDump&) {
    apic::eoi();
    Processor& pc = processors[this_cpu().index];
    learn_rate(pc);
    pc.armed = 0;
    settle();
}

// After a change to `vp`'s timers: rearm if this processor serves it (a VP only changes its own
// timers, on the processor that runs it).
void changed(Vp& vp) {
    Processor& pc = processors[this_cpu().index];
    if (pc.owner == &vp || pc.guest == &vp)
        settle();
}

// Takes `vp` off the parked list, waiting out a service of it in progress on its processor.
void unpark(Vp& vp) {
    while (__atomic_load_n(&parked_count, __ATOMIC_ACQUIRE)) {
        bool busy = false;
        {
            IrqLockGuard g(parked_lock);
            for (Parked& e : parked)
                if (e.vp == &vp) {
                    if (e.busy) {
                        busy = true;
                    } else {
                        e.vp = nullptr;
                        parked_count--;
                    }
                }
        }
        if (!busy)
            return;
        drain_host_interrupts();   // take cross-processor calls while waiting: never deadlock on one
    }
}

// Whether the physical timer must be set again for a deadline `t`: it is not set, or later.
bool sooner(const Processor& pc, uint64_t t) { return t != ~0ull && (!pc.armed || t < pc.armed); }

} // namespace

void timers_attach(Vp& vp) {
    arch::set_interrupt_handler(arch::vector_timer, on_timer_interrupt);
    processors[this_cpu().index].owner = &vp;
}

void timers_enter(Vp& vp) {
    unpark(vp);
    Processor& pc = processors[this_cpu().index];
    pc.guest = &vp;
    // Most dispatches change nothing here: the VP has no timer, or the physical timer is already
    // set sooner (the root's tick). A deadline already past is sooner than any armed one.
    if (sooner(pc, next_deadline(vp)))
        settle();
}

void timers_leave(Vp& vp, bool halted) {
    uint32_t cpu = this_cpu().index;
    processors[cpu].guest = nullptr;
    if (next_deadline(vp) == ~0ull)
        return;   // nothing of its was armed
    if (halted) {
        IrqLockGuard g(parked_lock);
        bool placed = false;
        for (Parked& e : parked)
            if (!e.vp && !e.busy) {
                e = {&vp, cpu, false};
                parked_count++;
                placed = true;
                break;
            }
        if (!placed)
            console::log("hv: %s vp %u: more halted VPs with timers than %u; its timer waits for a dispatch\n",
                         vp.partition->name, vp.index, max_parked);
        if (sooner(processors[cpu], next_deadline(vp)))
            settle();
    }
    // Preempted: it is runnable in the root's queue and its timers resume at its next dispatch;
    // a physical timer still set for it fires once for nothing and is rearmed then.
}

void timers_forget(Vp& vp) {
    unpark(vp);
    for (Processor& pc : processors)
        if (pc.guest == &vp)
            pc.guest = nullptr;
}

void timers_changed(Vp& vp) { changed(vp); }

TimerClocks timer_clocks() { return clocks(); }

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
    changed(vp);
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
    changed(vp);
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
