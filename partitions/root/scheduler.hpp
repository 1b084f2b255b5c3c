// The root scheduler (TLFS root-scheduler model, docs/child-partitions.md "Scheduling"): every
// root processor runs the same loop, taking a runnable child VP, running it with DispatchVp
// until the root is needed, and acting on why it came back (intercepts.cpp). Between dispatches
// the bootstrap processor takes the hypervisor's scheduler signals (signals.hpp) and every
// processor retires children that ended. A VP that halted waits, costing nothing, until the
// hypervisor signals that it has something to take (an interrupt, an IPI, a timer, a message).
#pragma once
#include <stdint.h>

#include "partitions/root/child.hpp"

namespace root {

void sched_add(Child& c);
// Runs child VPs on processor `index` (0: the bootstrap processor, which also serves the SynIC
// services); returns on the bootstrap processor once every child has ended, with the root's
// exit code (0 when every child ended by debug-exit 0 or shutdown).
int run_processor(uint32_t index);

// Ends a child (its first end counts); its VPs finish their current dispatch first.
void end_child(Child& c, EndReason why, uint32_t code);

} // namespace root
