#include "partitions/root/serial.hpp"

#include "partitions/rt/rt.hpp"

namespace root {
namespace {
constexpr uint8_t lcr_dlab = 0x80;   // divisor latch access: offsets 0 and 1 are the divisor
} // namespace

uint32_t Com1::read(uint16_t port, uint8_t) {
    bool dlab = lcr_ & lcr_dlab;
    switch (port - base) {
    case 0: return dlab ? dll_ : 0;         // receive buffer: nothing ever arrives
    case 1: return dlab ? dlm_ : ier_;
    case 2: return 0x01;                    // IIR: no interrupt pending, no FIFO
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return 0x60;                    // LSR: THR and transmitter empty
    case 6: return 0xb0;                    // MSR: DCD, DSR, CTS
    default: return scratch_;
    }
}

void Com1::write(uint16_t port, uint8_t, uint32_t value) {
    auto v = static_cast<uint8_t>(value);
    bool dlab = lcr_ & lcr_dlab;
    switch (port - base) {
    case 0:
        if (dlab) {
            dll_ = v;
        } else if (v == '\n' || len_ + 1 >= sizeof line_) {
            if (v != '\n')
                line_[len_++] = static_cast<char>(v);
            flush();
        } else if (v != '\r') {
            line_[len_++] = static_cast<char>(v);
        }
        break;
    case 1:
        if (dlab)
            dlm_ = v;
        else
            ier_ = v & 0x0f;
        break;
    case 3: lcr_ = v; break;
    case 4: mcr_ = v & 0x1f; break;
    case 7: scratch_ = v; break;
    default: break;
    }
}

void Com1::flush() {
    if (len_ == 0)
        return;
    line_[len_] = 0;
    rt::log("%s: %s\n", name_, line_);
    len_ = 0;
}

} // namespace root
