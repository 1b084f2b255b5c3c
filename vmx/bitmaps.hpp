// The MSR bitmap (SDM vol 3 24.6.9) and the I/O bitmaps A/B (24.6.4): a set bit makes the
// access exit. Pure over caller-provided memory, so the host tests check every boundary.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace vmx {

inline constexpr size_t msr_bitmap_bytes = 4096;
inline constexpr size_t io_bitmap_bytes = 8192;   // A (ports 0-0x7fff) then B (0x8000-0xffff)

// Every access exits; the policy then opens what it trusts.
void msr_bitmap_intercept_all(uint8_t* bitmap);
// Sets whether RDMSR / WRMSR of `msr` exit. The bitmap covers 0-0x1fff and
// 0xc0000000-0xc0001fff only; anything else always exits, so false is returned for it.
[[nodiscard]] bool msr_bitmap_set(uint8_t* bitmap, uint32_t msr, bool exit_on_read, bool exit_on_write);
[[nodiscard]] bool msr_bitmap_exits(const uint8_t* bitmap, uint32_t msr, bool write);

void io_bitmap_intercept_all(uint8_t* bitmaps);
void io_bitmap_set(uint8_t* bitmaps, uint16_t port, bool exit);
// An access of `size` bytes exits if any port it touches is marked, and always when it wraps
// past 0xffff (24.6.4).
[[nodiscard]] bool io_bitmap_exits(const uint8_t* bitmaps, uint16_t port, uint8_t size);

} // namespace vmx
