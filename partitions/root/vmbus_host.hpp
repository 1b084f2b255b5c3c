// The root's VMBus service (docs/vmbus.md, "The root's server"): one vmbus::VmbusServer per child
// on the SynIC's ports and connections, with the console device (vmbus_console.hpp) offered.
// The child posts channel messages on connection 4 (1 before version 5.0) to a port on the
// root's VP 0, SINT 2; it signals channel `relid` on connection 0x100 + relid (the offer's
// connection id) to an event port there whose flag names child and relid. The root answers by
// HvPostMessage to a port it makes on the child at the VP and SINT InitiateContact named, and
// signals with flag = relid of an event port on the child's SINT 2 of the channel's VP.
#pragma once
#include <stdint.h>

#include "partitions/root/child.hpp"

namespace root::vmbus_host {

// Before the child runs: its server, devices, ports and connections. False (with a log line)
// when memory or the hypervisor refused; the child then runs without VMBus.
bool offer(Child& c, uint32_t slot);
// Serves what the children posted and signalled, retries answers a full queue held back.
// Bootstrap processor only (it reads VP 0's SINT 2 slot and flags). True when a device is in
// poll mode (it wants to be served again at once, not after the next interrupt).
bool poll();
// Whether devices may use poll mode: only when the root has processors besides the bootstrap
// one, which then leaves the children's VPs to them (scheduler.cpp) and keeps passing through
// poll() instead (a child running on the bootstrap processor would write unsignalled packets
// nobody reads until the next timer tick). Set once at start.
void allow_poll_mode(bool allowed);
[[nodiscard]] bool poll_mode_allowed();
// The child ends (before its partition is deleted and its RAM freed): the server forgets it,
// the root's ports go. Any processor; waits for a poll serving this child to finish.
void forget(uint32_t slot);

} // namespace root::vmbus_host
