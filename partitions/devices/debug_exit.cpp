#include "partitions/devices/debug_exit.hpp"

namespace devices {

uint32_t DebugExit::read(uint16_t, uint8_t) {
    return 0;
}

void DebugExit::write(uint16_t port, uint8_t size, uint32_t value) {
    if (!claims(port) || exited_ || (size != 1 && size != 2 && size != 4))
        return;
    exited_ = pending_ = true;
    value_ = size == 4 ? value : value & ((1u << (8 * size)) - 1);
}

PortEvent DebugExit::take_event() {
    if (!pending_)
        return {};
    pending_ = false;
    return {PortEvent::Kind::exit, value_, exit_status()};
}

} // namespace devices
