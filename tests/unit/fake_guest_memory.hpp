// A partition's memory for unit tests of code that reads and writes guest pages (the hypercall
// page, the reference TSC page): three pages at guest-physical 0x10000, filled with 0xcc so a
// test can tell what the code under test wrote; anything outside them is refused.
#pragma once
#include <cstdint>
#include <cstring>

struct FakeGuestMemory {
    static constexpr uint64_t base = 0x10000;
    uint8_t bytes[3 * 4096];
    FakeGuestMemory() { std::memset(bytes, 0xcc, sizeof bytes); }
    bool read(uint64_t gpa, void* dst, uint32_t n) {
        if (gpa < base || gpa + n > base + sizeof bytes)
            return false;
        std::memcpy(dst, bytes + (gpa - base), n);
        return true;
    }
    bool write(uint64_t gpa, const void* src, uint32_t n) {
        if (gpa < base || gpa + n > base + sizeof bytes)
            return false;
        std::memcpy(bytes + (gpa - base), src, n);
        return true;
    }
};
