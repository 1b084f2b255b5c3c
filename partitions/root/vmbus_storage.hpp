// The synthetic SCSI disk the root offers a child that has a disk module (`disk child=NAME`,
// docs/root-partition.md): the storvsc protocol Linux's storvsc driver speaks, served by the
// portable StorageTarget (vmbus/storvsc.hpp) over the module's bytes in the root's memory, with
// data moved to and from the child's pages its GPA page lists name (docs/vmbus.md, "Storage").
#pragma once
#include <stdint.h>

#include "partitions/root/child.hpp"
#include "vmbus/server.hpp"
#include "vmbus/storvsc.hpp"

namespace root {

class VmbusStorage {
public:
    // `disk` (bytes, whole sectors count) stays the child's for the provider's life.
    void init(Child& child, uint32_t slot, uint8_t* disk, uint64_t bytes);
    [[nodiscard]] const vmbus::DeviceProvider* provider() const { return &provider_; }
    // The last signal left requests in the ring, or a completion the child's full ring held back.
    [[nodiscard]] bool more() const { return more_; }

private:
    static bool on_open(void* self, vmbus::ServerChannel& ch);
    static void on_close(void* self, vmbus::ServerChannel& ch);
    static bool on_signal(void* self, vmbus::ServerChannel& ch);
    [[nodiscard]] vmbus::storvsc::StorageTarget& target() {
        return *reinterpret_cast<vmbus::storvsc::StorageTarget*>(target_);
    }
    [[nodiscard]] bool flush_reply(vmbus::ServerChannel& ch);
    void report_refusals();

    vmbus::DeviceProvider provider_{};
    Child* child_ = nullptr;
    vmbus::storvsc::MemoryDisk image_{};
    // The target is built in init (it has no default state): storage for it here.
    alignas(vmbus::storvsc::StorageTarget) uint8_t target_[sizeof(vmbus::storvsc::StorageTarget)];
    vmbus::storvsc::Reply held_{};   // a completion waiting for room in the child's inbound ring
    uint64_t refusals_seen_ = 0;
    uint64_t completions_ = 0;   // completions written into the child's inbound ring
    uint64_t held_back_ = 0;     // sends that found no room there (the completion stays held)
    uint32_t logged_ = 0;
    bool more_ = false;
};

} // namespace root
