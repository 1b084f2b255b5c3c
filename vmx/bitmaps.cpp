#include "vmx/bitmaps.hpp"

namespace vmx {

namespace {

// 24.6.9: read-low at 0, read-high at 1024, write-low at 2048, write-high at 3072 (bytes).
bool msr_bit(uint32_t msr, bool write, size_t& bit) {
    size_t base;
    if (msr <= 0x1fff)
        base = 0;
    else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        base = 1024 * 8;
    else
        return false;
    bit = base + (write ? 2048 * 8 : 0) + (msr & 0x1fff);
    return true;
}

void put(uint8_t* map, size_t bit, bool v) {
    uint8_t m = static_cast<uint8_t>(1u << (bit & 7));
    map[bit >> 3] = static_cast<uint8_t>(v ? (map[bit >> 3] | m) : (map[bit >> 3] & ~m));
}

bool get(const uint8_t* map, size_t bit) { return (map[bit >> 3] >> (bit & 7)) & 1; }

} // namespace

void msr_bitmap_intercept_all(uint8_t* bitmap) {
    for (size_t i = 0; i < msr_bitmap_bytes; ++i)
        bitmap[i] = 0xff;
}

bool msr_bitmap_set(uint8_t* bitmap, uint32_t msr, bool exit_on_read, bool exit_on_write) {
    size_t r, w;
    if (!msr_bit(msr, false, r) || !msr_bit(msr, true, w))
        return false;
    put(bitmap, r, exit_on_read);
    put(bitmap, w, exit_on_write);
    return true;
}

bool msr_bitmap_exits(const uint8_t* bitmap, uint32_t msr, bool write) {
    size_t bit;
    return !msr_bit(msr, write, bit) || get(bitmap, bit);
}

void io_bitmap_intercept_all(uint8_t* bitmaps) {
    for (size_t i = 0; i < io_bitmap_bytes; ++i)
        bitmaps[i] = 0xff;
}

// A and B are consecutive pages, so port N is simply bit N of the 8 KiB pair.
void io_bitmap_set(uint8_t* bitmaps, uint16_t port, bool exit) { put(bitmaps, port, exit); }

bool io_bitmap_exits(const uint8_t* bitmaps, uint16_t port, uint8_t size) {
    for (uint32_t p = port; p < static_cast<uint32_t>(port) + size; ++p) {
        if (p > 0xffff || get(bitmaps, p))
            return true;
    }
    return false;
}

} // namespace vmx
