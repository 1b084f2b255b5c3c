// The console device provider (partitions/abi/vmbus_console.hpp) for one child: what the child
// writes is printed line by line in the root's log, and each line goes back to the child with a
// prefix, so a child can check the stream both ways.
#pragma once
#include <stdint.h>

#include "partitions/abi/vmbus_console.hpp"
#include "vmbus/server.hpp"

namespace root {

class VmbusConsole {
public:
    // `name` (the child's) must outlive the console; `slot` makes the instance GUID unique.
    void init(const char* name, uint32_t slot);
    [[nodiscard]] const vmbus::DeviceProvider* provider() const { return &provider_; }
    [[nodiscard]] uint32_t lines() const { return lines_; }
    // The last signal left packets in the ring (its budget ran out): serve it again.
    [[nodiscard]] bool more() const { return more_; }

private:
    static bool on_open(void* self, vmbus::ServerChannel& ch);
    static void on_close(void* self, vmbus::ServerChannel& ch);
    static bool on_signal(void* self, vmbus::ServerChannel& ch);
    void packet(vmbus::ServerChannel& ch, const vmbus::Packet& p);
    void take(vmbus::ServerChannel& ch, const uint8_t* bytes, uint32_t size);
    void end_line(vmbus::ServerChannel& ch);

    vmbus::DeviceProvider provider_{};
    const char* name_ = "";
    char line_[root_abi::vmbus_console::max_line + 1] = {};
    uint32_t len_ = 0;
    uint32_t lines_ = 0;
    uint64_t trans_ = 0;
    uint32_t dropped_ = 0;   // echoes the child's full inbound ring had no room for
    uint32_t bad_packets_ = 0;
    bool more_ = false;
};

} // namespace root
