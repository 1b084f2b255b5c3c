// The heartbeat and shutdown utility channels the root offers every child (Hyper-V's integration
// components, which Linux's hv_utils drives: docs/vmbus.md, "Utilities"), around the portable
// IcHost (vmbus/ic.hpp). The root negotiates when the child opens a channel, then sends a
// heartbeat every second and counts the ones left unanswered; with `shutdown=S` in the child's
// configuration it asks the child to shut down S seconds after it started, and ends it if it
// has not halted 10 s after accepting.
#pragma once
#include <stdint.h>

#include "partitions/root/child.hpp"
#include "vmbus/ic.hpp"
#include "vmbus/server.hpp"

namespace root {

class VmbusUtility {
public:
    // `child` outlives the provider; `slot` makes the instance GUID unique.
    void init(Child& child, uint32_t slot, vmbus::ic::Kind kind);
    [[nodiscard]] const vmbus::DeviceProvider* provider() const { return &provider_; }
    // Something to do on the open channel without a signal from the child (a heartbeat or the
    // shutdown request is due, or an answer is overdue); also ends a child that accepted a
    // shutdown and did not halt. Cheap: called on every poll.
    [[nodiscard]] bool due();

private:
    static bool on_open(void* self, vmbus::ServerChannel& ch);
    static void on_close(void* self, vmbus::ServerChannel& ch);
    static bool on_signal(void* self, vmbus::ServerChannel& ch);
    void response(const vmbus::Packet& p);
    void timers(vmbus::ServerChannel& ch, uint64_t now);
    void send(vmbus::ServerChannel& ch, const vmbus::ic::Request& r, uint64_t now);
    void report_faults();
    [[nodiscard]] const char* what() const;

    vmbus::DeviceProvider provider_{};
    Child* child_ = nullptr;
    vmbus::ic::IcHost host_{vmbus::ic::Kind::heartbeat};
    uint64_t next_ = ~0ull;          // TSC of the next timed action; ~0: none
    uint64_t answer_by_ = ~0ull;     // TSC by which the outstanding request must be answered
    uint64_t shutdown_at_ = ~0ull;   // TSC at which to ask for a shutdown (shutdown channel)
    uint64_t halt_by_ = ~0ull;       // TSC by which an accepted shutdown must have ended the child
    uint64_t seq_ = 0;
    uint64_t faults_seen_ = 0;
    uint32_t logged_ = 0;
    bool open_ = false;
    bool shutdown_sent_ = false;
    bool late_noted_ = false;        // shutdown_at_ passed with no channel open (logged once)
};

} // namespace root
