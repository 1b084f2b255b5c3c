#include "hv/console.hpp"

#include "hv/arch/x86.hpp"
#include "hv/lib/format.hpp"
#include "hv/lib/spinlock.hpp"

namespace hv::console {
namespace {

constexpr uint16_t com1 = 0x3f8;
Spinlock lock;
bool present = false;

void put(char c) {
    // Bounded wait on THR empty (LSR bit 5): a missing or wedged UART must not hang the core.
    for (int i = 0; i < 100000 && !(x86::inb(com1 + 5) & 0x20); i++)
        x86::pause();
    x86::outb(com1, static_cast<uint8_t>(c));
}

void write_raw(const char* s, size_t n) {
    if (!present)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            put('\r');
        put(s[i]);
    }
}

void vlog(bool locked, const char* fmt, va_list ap) {
    char buf[512];
    size_t n = vformat(buf, sizeof buf, fmt, ap);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    if (locked) {
        IrqLockGuard g(lock);
        write_raw(buf, n);
    } else {
        write_raw(buf, n);
    }
}

} // namespace

void init() {
    // 16550: 115200 baud 8N1, FIFOs on, interrupts off (we poll).
    x86::outb(com1 + 1, 0x00);
    x86::outb(com1 + 3, 0x80);
    x86::outb(com1 + 0, 0x01);
    x86::outb(com1 + 1, 0x00);
    x86::outb(com1 + 3, 0x03);
    x86::outb(com1 + 2, 0xc7);
    x86::outb(com1 + 4, 0x03);
    // A floating bus reads 0xff: treat that as "no UART" rather than spinning on it.
    present = x86::inb(com1 + 5) != 0xff;
}

void write(const char* s, size_t n) {
    IrqLockGuard g(lock);
    write_raw(s, n);
}

void log(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(true, fmt, ap);
    va_end(ap);
}

void log_unlocked(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(false, fmt, ap);
    va_end(ap);
}

} // namespace hv::console
