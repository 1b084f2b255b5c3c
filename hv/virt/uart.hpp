// A 16550 UART as a partition sees it at COM1 (0x3f8-0x3ff). The hypervisor owns the physical
// COM1 as its console; partitions' writes are collected per line and printed with the
// partition's name in front, so lines never interleave byte by byte. Enough of the register
// file is modelled for polled output (THR, LSR with THRE/TEMT, scratch, DLAB divisor, IER, LCR,
// MCR; PC16550D datasheet). Pure logic: the sink is a template parameter.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hv::virt {

class Uart16550 {
public:
    static constexpr uint16_t base = 0x3f8;
    static constexpr size_t line_max = 200;

    [[nodiscard]] static bool claims(uint16_t port) { return port >= base && port < base + 8; }

    // Returns true and fills `line` (NUL-terminated) when a write completes a line.
    bool write(uint16_t port, uint8_t value, char (&line)[line_max + 1]);
    [[nodiscard]] uint8_t read(uint16_t port) const;
    // Flushes a partial line (on partition stop), returning false when there is none.
    bool flush(char (&line)[line_max + 1]);

private:
    bool dlab() const { return lcr_ & 0x80; }
    bool take_line(char (&line)[line_max + 1]);

    char buf_[line_max]{};
    size_t len_ = 0;
    uint8_t ier_ = 0, lcr_ = 0x03, mcr_ = 0, scratch_ = 0, dll_ = 1, dlm_ = 0;
};

} // namespace hv::virt
