// The interface the root's emulated port devices share (COM1, debug exit, fw_cfg): checked at
// compile time, so the root keeps a fixed set of devices without virtual calls.
#pragma once
#include <stdint.h>

#include "hv/lib/traits.hpp"

namespace devices {

// What an access asks of the caller beyond its data. The device keeps it until take_event().
struct PortEvent {
    enum class Kind : uint8_t { none, exit };
    Kind kind = Kind::none;
    uint32_t value = 0;  // exit: the raw value written
    uint32_t status = 0; // exit: (value << 1) | 1, wrapping as QEMU's int does
};

// One small interface, checked at compile time rather than dispatched virtually: the caller
// keeps a fixed set of devices and offers an I/O intercept to the first whose claims() is true.
// `port` is the first port of the access, `size` 1, 2 or 4; `value` is already masked to size.
template <class D>
concept PortDevice = requires(D& d, const D& cd, uint16_t port, uint8_t size, uint32_t value) {
    { cd.claims(port) } -> hv::same_as<bool>;
    { d.read(port, size) } -> hv::same_as<uint32_t>;
    { d.write(port, size, value) } -> hv::same_as<void>;
    { d.take_event() } -> hv::same_as<PortEvent>;
};

} // namespace devices
