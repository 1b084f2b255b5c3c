// The test device's provider (partitions/abi/vmbus_testdev.hpp) for one child: a sink that counts
// and checks what the child sends, answers requests at once and reports its counters, so the
// ring-stress suite and the channel benchmarks measure the root's real receive path.
#pragma once
#include <stdint.h>

#include "partitions/abi/vmbus_testdev.hpp"
#include "vmbus/server.hpp"

namespace root {

class VmbusTestDevice {
public:
    void init(const char* name, uint32_t slot);
    [[nodiscard]] const vmbus::DeviceProvider* provider() const { return &provider_; }
    [[nodiscard]] bool more() const { return more_; }

private:
    static bool on_open(void* self, vmbus::ServerChannel& ch);
    static void on_close(void* self, vmbus::ServerChannel& ch);
    static bool on_signal(void* self, vmbus::ServerChannel& ch);
    void packet(vmbus::ServerChannel& ch, const vmbus::Packet& p);
    void reset_counters();

    vmbus::DeviceProvider provider_{};
    const char* name_ = "";
    root_abi::vmbus_testdev::Stats stats_{};
    uint64_t total_packets_ = 0, total_bytes_ = 0;
    uint32_t refused_replies_ = 0;
    uint64_t last_packet_ = 0;   // TSC of the last packet read (poll mode)
    bool more_ = false;
};

} // namespace root
