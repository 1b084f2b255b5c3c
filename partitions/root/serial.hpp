// COM1 of a child (a 16550 at 0x3f8-0x3ff, as far as a polled console needs it): bytes written to
// the transmit register are collected into lines, and each line is printed as `NAME: line` on
// the root's console. Reads show a transmitter that is always empty (line status 0x60), so a
// polling kernel never waits (16550 datasheet, register summary).
#pragma once
#include <stdint.h>

namespace root {

class Com1 {
  public:
    static constexpr uint16_t base = 0x3f8, count = 8;

    void set_name(const char* name) { name_ = name; }
    [[nodiscard]] bool claims(uint16_t port) const { return port >= base && port < base + count; }
    [[nodiscard]] uint32_t read(uint16_t port, uint8_t size);
    void write(uint16_t port, uint8_t size, uint32_t value);
    // Prints what is left of an unfinished line (when the child ends).
    void flush();

  private:
    const char* name_ = "child";
    char line_[160] = {};
    uint32_t len_ = 0;
    uint8_t lcr_ = 0, ier_ = 0, mcr_ = 0, scratch_ = 0, dll_ = 1, dlm_ = 0;
};

} // namespace root
