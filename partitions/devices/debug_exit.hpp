// QEMU's isa-debug-exit, the port through which test kernels end a run. A write of V stops the child;
// QEMU's process then exits with status (V << 1) | 1, so a test kernel can never fake a clean
// exit 0 of the emulator. We record both the raw V and that status.
// QEMU's own default is iobase 0x501, iosize 2; test kernels (kvm-unit-tests, our guest suites)
// are run with `-device isa-debug-exit,iobase=0xf4,iosize=4`, so that is our default.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "partitions/devices/port_device.hpp"

namespace devices {


class DebugExit {
  public:
    static constexpr uint16_t default_base = 0xf4, default_size = 4;

    explicit DebugExit(uint16_t base = default_base, uint16_t size = default_size)
        : base_(base), size_(size) {}

    [[nodiscard]] bool claims(uint16_t port) const { return port >= base_ && port - base_ < size_; }
    // QEMU's device reads as 0.
    [[nodiscard]] uint32_t read(uint16_t port, uint8_t size);
    // Any width at any of its ports ends the child; only the first write counts (the caller
    // stops the child's processors, but others may race a second write in before that).
    void write(uint16_t port, uint8_t size, uint32_t value);
    [[nodiscard]] PortEvent take_event();

    [[nodiscard]] bool exited() const { return exited_; }
    [[nodiscard]] uint32_t exit_value() const { return value_; }
    [[nodiscard]] uint32_t exit_status() const { return (value_ << 1) | 1; }
    // What a shell sees of QEMU's exit(status): its low 8 bits.
    [[nodiscard]] uint8_t host_exit_code() const { return static_cast<uint8_t>(exit_status()); }

  private:
    uint16_t base_, size_;
    bool exited_ = false, pending_ = false;
    uint32_t value_ = 0;
};

static_assert(PortDevice<DebugExit>);

} // namespace devices
