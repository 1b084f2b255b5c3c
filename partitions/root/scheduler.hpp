// The root scheduler (TLFS root-scheduler model, docs/child-partitions.md "Scheduling"): every
// root processor runs the same loop, taking a runnable child VP, running it with DispatchVp
// until the root is needed, and acting on why it came back (intercepts.cpp). Between dispatches
// the loop fires the children's emulated APIC timers and retires children that ended. A VP that
// halted waits, costing nothing, until an interrupt is asserted for it.
#pragma once
#include <stdint.h>

#include "partitions/root/child.hpp"

namespace root {

void sched_add(Child& c);
// Runs child VPs on this processor; returns on the bootstrap processor once every child has
// ended, with the root's exit code (0 when every child ended by debug-exit 0 or shutdown).
int run_processor(bool bootstrap);

// Ends a child (its first end counts); its VPs finish their current dispatch first.
void end_child(Child& c, EndReason why, uint32_t code);
// Sends what a VP's APIC asked for (HvCallAssertVirtualInterrupt) and wakes the targets.
void post_ipi(Child& c, uint32_t from_vp, const Ipi& ipi);
// Access to a VP's emulated APIC, serialized with the timer scan.
template <class F> auto with_apic(ChildVp& vp, F f);
void lock_apics();
void unlock_apics();

template <class F> auto with_apic(ChildVp& vp, F f) {
    lock_apics();
    auto r = f(vp.apic);
    unlock_apics();
    return r;
}

} // namespace root
