#include "partitions/root/scheduler.hpp"

#include "partitions/root/calls.hpp"
#include "partitions/root/echo.hpp"
#include "partitions/root/intercepts.hpp"
#include "partitions/root/irq.hpp"
#include "partitions/root/signals.hpp"
#include "partitions/root/vmbus_host.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

hv::Spinlock lock;          // the VP states and the child list
Child* children[max_children];
uint32_t child_count, rr;
uint32_t live;
bool failed;
uint64_t idle_since[max_children];
constexpr uint64_t shutdown_idle_ms = 200;
// Processors other than the bootstrap one that wait in HLT for a VP to run (bit = index, < 64).
uint64_t idle_aps;
uint32_t apic_of[64];   // their x2APIC ids, for the wake-up IPI

const char* reason_name(EndReason r) {
    switch (r) {
    case EndReason::debug_exit: return "debug-exit";
    case EndReason::shutdown: return "shutdown";
    case EndReason::triple_fault: return "triple-fault";
    default: return "killed";
    }
}

bool any_runnable() {
    hv::IrqLockGuard g(lock);
    for (uint32_t k = 0; k < child_count; k++) {
        Child& c = *children[k];
        for (uint32_t i = 0; i < c.vp_count && c.end == EndReason::none; i++)
            if (c.vps[i].run == VpRun::runnable)
                return true;
    }
    return false;
}

ChildVp* take() {
    hv::IrqLockGuard g(lock);
    uint32_t total = child_count * max_child_vps;
    for (uint32_t k = 0; k < total; k++) {
        uint32_t s = (rr + k) % total;
        Child& c = *children[s / max_child_vps];
        uint32_t i = s % max_child_vps;
        if (i < c.vp_count && c.end == EndReason::none && c.vps[i].run == VpRun::runnable) {
            rr = s + 1;
            c.vps[i].run = VpRun::running;
            c.vps[i].wake = false;
            return &c.vps[i];
        }
    }
    return nullptr;
}

void finish(ChildVp& v, VpRun next) {
    hv::IrqLockGuard g(lock);
    if (v.child->end != EndReason::none)
        v.run = VpRun::done;
    else
        v.run = next == VpRun::waiting && v.wake ? VpRun::runnable : next;
}

// A child past its time limit (`timeout=`) is killed; true for the one processor that does it.
bool take_deadline(Child& c) {
    {
        hv::IrqLockGuard g(lock);
        if (!c.deadline || c.end != EndReason::none)
            return false;
        c.deadline = 0;
    }
    rt::log("root: child %s: time limit of %u s reached\n", c.config.name, c.config.timeout_s);
    end_child(c, EndReason::killed, 0);
    return true;
}

// Wakes the VPs the hypervisor signalled (bootstrap processor: the signals arrive in its SIMP).
void take_signals() {
    signals::Signal got[32];
    bool all = false;
    uint32_t n = signals::take(got, 32, all);
    hv::IrqLockGuard g(lock);
    for (uint32_t k = 0; k < child_count; k++) {
        Child& c = *children[k];
        for (uint32_t i = 0; i < c.vp_count; i++) {
            bool hit = all;
            for (uint32_t j = 0; j < n && !hit; j++)
                hit = got[j].partition == c.id && got[j].vp == i;
            if (!hit)
                continue;
            ChildVp& v = c.vps[i];
            v.asleep_for_good = false;
            if (v.run == VpRun::waiting)
                v.run = VpRun::runnable;
            else if (v.run == VpRun::running)
                v.wake = true;
        }
    }
}

// Ends a child whose every VP has waited with nothing that could wake it for a while: it
// halted for good (`shutdown`); and kills children past their time limit.
void poll_children() {
    uint64_t now = rt::rdtsc();
    for (uint32_t ci = 0; ci < __atomic_load_n(&child_count, __ATOMIC_ACQUIRE); ci++) {
        Child& c = *children[ci];
        bool idle = c.end == EndReason::none;
        lock.lock();
        for (uint32_t i = 0; i < c.vp_count && idle; i++)
            idle = c.vps[i].run == VpRun::waiting && c.vps[i].asleep_for_good;
        lock.unlock();
        if (c.deadline && now >= c.deadline && c.end == EndReason::none && take_deadline(c))
            continue;
        if (!idle)
            idle_since[ci] = 0;
        else if (!idle_since[ci])
            idle_since[ci] = now;
        else if (now - idle_since[ci] > shutdown_idle_ms * rt::tsc_khz())
            end_child(c, EndReason::shutdown, 0);
    }
}

// Retires ended children once none of their VPs is inside DispatchVp.
void reap() {
    for (uint32_t ci = 0; ci < __atomic_load_n(&child_count, __ATOMIC_ACQUIRE); ci++) {
        Child& c = *children[ci];
        {
            hv::IrqLockGuard g(lock);
            if (c.end == EndReason::none || c.torn_down)
                continue;
            for (uint32_t i = 0; i < c.vp_count; i++)
                if (c.vps[i].run == VpRun::running)
                    goto busy;
            c.torn_down = true;
        }
        c.com1.flush();
        rt::log("root: child %s ended %s code=%u\n", c.config.name, reason_name(c.end), c.end_code);
        if (!((c.end == EndReason::debug_exit && c.end_code == 0) || c.end == EndReason::shutdown))
            failed = true;
        tear_down(c);
        __atomic_fetch_sub(&live, 1u, __ATOMIC_ACQ_REL);
    busy:;
    }
}

} // namespace

void sched_add(Child& c) {
    hv::IrqLockGuard g(lock);
    if (c.config.timeout_s)
        c.deadline = rt::rdtsc() + uint64_t{c.config.timeout_s} * 1000 * rt::tsc_khz();
    children[child_count] = &c;
    __atomic_store_n(&child_count, child_count + 1, __ATOMIC_RELEASE);
    live++;
}

void end_child(Child& c, EndReason why, uint32_t code) {
    hv::IrqLockGuard g(lock);
    if (c.end != EndReason::none)
        return;
    c.end = why;
    c.end_code = code;
    for (uint32_t i = 0; i < c.vp_count; i++)
        if (c.vps[i].run != VpRun::running)
            c.vps[i].run = VpRun::done;
}

// The bootstrap processor serves the SynIC services (VMBus above all) between dispatches. While
// a VMBus device is in poll mode (a child streaming into a masked ring) it serves only and
// leaves child VPs to the other processors, waking an idle one for a runnable VP: the child's
// traffic is then read while the child runs, not in turns with it (docs/performance.md,
// "VMBus channels"). Otherwise it dispatches like the others: waking processors by IPI for
// every runnable VP made QEMU's AMD-V defect (docs/emulator-defects.md) several times likelier.
int run_processor(uint32_t index) {
    const bool bootstrap = index == 0;
    const uint64_t me = index < 64 ? 1ull << index : 0;
    if (me)
        apic_of[index] = static_cast<uint32_t>(rt::rdmsr(0x802));   // x2APIC ID (SDM 10.12.5.1)
    for (;;) {
        bool polling = false;   // a VMBus device in poll mode: pass again at once, do not halt
        if (bootstrap) {
            take_signals();
            echo::poll();
            polling = vmbus_host::poll();
        }
        poll_children();
        reap();
        if (__atomic_load_n(&live, __ATOMIC_ACQUIRE) == 0) {
            if (bootstrap)
                return failed ? 1 : 0;
            asm volatile("sti; hlt" ::: "memory");
            continue;
        }
        // In poll mode the bootstrap processor only serves; a runnable VP goes to an idle
        // processor, woken for it (not at its next tick: the child would stall a millisecond).
        uint64_t idle = polling ? __atomic_load_n(&idle_aps, __ATOMIC_ACQUIRE) : 0;
        if (idle && any_runnable()) {
            irq::wake(apic_of[__builtin_ctzll(idle)]);
            asm volatile("pause" ::: "memory");
            continue;
        }
        ChildVp* v = polling ? nullptr : take();
        if (!v && polling) {
            asm volatile("pause" ::: "memory");
            continue;
        }
        if (!v) {
            // The bootstrap processor's SINT interrupts, the wake-up IPI or the root's timer
            // (1 ms) end the wait.
            __atomic_fetch_or(&idle_aps, me & ~1ull, __ATOMIC_ACQ_REL);
            asm volatile("sti; hlt" ::: "memory");
            __atomic_fetch_and(&idle_aps, ~me, __ATOMIC_ACQ_REL);
            continue;
        }
        finish(*v, run_vp(*v));
    }
}

} // namespace root
