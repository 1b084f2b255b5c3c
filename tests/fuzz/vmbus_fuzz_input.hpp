// What the VMBus fuzz targets share: the input consumed as little-endian fields (zeros once it
// runs out), and CHECK, which stops the run as a crash libFuzzer records.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

namespace vmbus_fuzz {

struct Input {
    const uint8_t* p;
    size_t n;
    uint64_t take(unsigned bytes) {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes && n; i++, n--)
            v |= uint64_t{*p++} << (8 * i);
        return v;
    }
    uint32_t u32() { return static_cast<uint32_t>(take(4)); }
    uint16_t u16() { return static_cast<uint16_t>(take(2)); }
    uint8_t u8() { return static_cast<uint8_t>(take(1)); }
};

} // namespace vmbus_fuzz
