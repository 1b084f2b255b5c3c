// The SynIC echo service (partitions/abi/echo.hpp) on the root's side.
#pragma once
#include <stdint.h>

#include "partitions/root/child.hpp"

namespace root::echo {

// Creates the child's echo connections (ports on the root's VP 0, SINT 1) and the port the
// root answers events on. `slot` < max_children names the child among the root's children.
// False (with a log line) when the hypervisor refused; the child then has no echo service.
bool offer(Child& c, uint32_t slot);
// Answers what the children posted and signalled. Bootstrap processor only (it reads VP 0's
// message slot and event flags). It knows the children from `offer`, not from the scheduler:
// a child may post before the scheduler has it.
void poll();
// The child ends: its ports and connections go with its partition; forget what was created.
void forget(uint32_t slot);

} // namespace root::echo
