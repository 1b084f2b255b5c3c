// A KTAP sink for freestanding test kernels: COM1 by port I/O. In a partition, the hypervisor
// decides what these port writes reach (docs/architecture.md, "Consoles").
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace ktap {

struct SerialSink {
    static constexpr uint16_t com1 = 0x3f8;
    void write(const char* s, size_t n) {
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '\n')
                put('\r');
            put(s[i]);
        }
    }
    static void put(char c) {
        for (int i = 0; i < 100000; i++) {
            uint8_t lsr;
            asm volatile("inb %1, %0" : "=a"(lsr) : "Nd"(static_cast<uint16_t>(com1 + 5)));
            if (lsr & 0x20)
                break;
        }
        asm volatile("outb %0, %1" : : "a"(static_cast<uint8_t>(c)), "Nd"(com1));
    }
};

} // namespace ktap
