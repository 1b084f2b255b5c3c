#include "hv/virt/uart.hpp"

namespace hv::virt {

bool Uart16550::take_line(char (&line)[line_max + 1]) {
    __builtin_memcpy(line, buf_, len_);
    line[len_] = '\0';
    len_ = 0;
    return true;
}

bool Uart16550::write(uint16_t port, uint8_t value, char (&line)[line_max + 1]) {
    switch (port - base) {
    case 0:
        if (dlab()) {
            dll_ = value;
            return false;
        }
        if (value == '\r')
            return false;
        if (value == '\n')
            return take_line(line);
        // Control characters other than tab are shown as '.', so a partition cannot drive the
        // operator's terminal with escape sequences.
        buf_[len_++] = (value >= 0x20 && value < 0x7f) || value == '\t' ? static_cast<char>(value) : '.';
        if (len_ == line_max)
            return take_line(line);
        return false;
    case 1:
        if (dlab())
            dlm_ = value;
        else
            ier_ = value & 0x0f;
        return false;
    case 3:
        lcr_ = value;
        return false;
    case 4:
        mcr_ = value & 0x1f;
        return false;
    case 7:
        scratch_ = value;
        return false;
    default:
        return false;   // FCR and the read-only registers ignore writes
    }
}

uint8_t Uart16550::read(uint16_t port) const {
    switch (port - base) {
    case 0: return dlab() ? dll_ : 0;   // no input yet
    case 1: return dlab() ? dlm_ : ier_;
    case 2: return 0xc1;                // IIR: no interrupt pending, FIFOs enabled
    case 3: return lcr_;
    case 4: return mcr_;
    case 5: return 0x60;                // LSR: THR empty, transmitter empty, no data
    case 6: return 0xb0;                // MSR: CTS, DSR, DCD
    case 7: return scratch_;
    default: return 0xff;
    }
}

bool Uart16550::flush(char (&line)[line_max + 1]) {
    if (len_ == 0)
        return false;
    return take_line(line);
}

} // namespace hv::virt
