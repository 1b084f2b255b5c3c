#include "svm/bitmaps.hpp"

namespace svm {
namespace {

// Bit offset of an MSR's read bit in the MSRPM, or -1 outside the three ranges.
int64_t msr_bit(uint32_t msr) {
    struct Range {
        uint32_t first;
        uint32_t byte_offset;
    };
    constexpr Range ranges[] = {{0x00000000, 0x0000}, {0xc0000000, 0x0800}, {0xc0010000, 0x1000}};
    for (const Range& r : ranges) {
        if (msr >= r.first && msr - r.first < 0x2000)
            return static_cast<int64_t>(r.byte_offset) * 8 + static_cast<int64_t>(msr - r.first) * 2;
    }
    return -1;
}

void set_bit(uint8_t* map, uint64_t bit, bool v) {
    uint8_t mask = static_cast<uint8_t>(1u << (bit & 7));
    map[bit >> 3] = static_cast<uint8_t>(v ? map[bit >> 3] | mask : map[bit >> 3] & ~mask);
}

bool get_bit(const uint8_t* map, uint64_t bit) { return (map[bit >> 3] >> (bit & 7)) & 1; }

} // namespace

void msrpm_fill(uint8_t* msrpm, bool intercept) {
    for (uint32_t i = 0; i < msrpm_bytes; ++i)
        msrpm[i] = intercept ? 0xff : 0;
}

void iopm_fill(uint8_t* iopm, bool intercept) {
    for (uint32_t i = 0; i < iopm_bytes; ++i)
        iopm[i] = intercept ? 0xff : 0;
}

bool set_msr_intercept(uint8_t* msrpm, uint32_t msr, bool read, bool write) {
    int64_t bit = msr_bit(msr);
    if (bit < 0)
        return false;
    set_bit(msrpm, static_cast<uint64_t>(bit), read);
    set_bit(msrpm, static_cast<uint64_t>(bit) + 1, write);
    return true;
}

MsrIntercept msr_intercepted(const uint8_t* msrpm, uint32_t msr) {
    int64_t bit = msr_bit(msr);
    if (bit < 0)
        return {true, true};
    return {get_bit(msrpm, static_cast<uint64_t>(bit)), get_bit(msrpm, static_cast<uint64_t>(bit) + 1)};
}

void set_io_intercept(uint8_t* iopm, uint16_t port, bool intercept) { set_bit(iopm, port, intercept); }

void set_io_intercept_range(uint8_t* iopm, uint16_t first, uint32_t count, bool intercept) {
    for (uint32_t i = 0; i < count && first + i <= 0xffff; ++i)
        set_bit(iopm, first + i, intercept);
}

bool io_intercepted(const uint8_t* iopm, uint16_t port) { return get_bit(iopm, port); }

} // namespace svm
