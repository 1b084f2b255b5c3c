// The MSR and I/O permission maps (AMD APM vol 2 15.10, 15.11). Pure: the caller owns the
// memory and its physical address (PartitionHw::msr_bitmap / io_bitmap).
#pragma once
#include <stdint.h>

namespace svm {

inline constexpr uint32_t msrpm_bytes = 8192;    // two 4 KiB pages, 4 KiB aligned
inline constexpr uint32_t iopm_bytes = 12288;    // three pages: 64 Ki ports plus overflow bits

// Fills a whole map: every access intercepted (true) or none (false). Beyond the three MSR
// ranges the processor always intercepts, whatever the map says.
void msrpm_fill(uint8_t* msrpm, bool intercept);
void iopm_fill(uint8_t* iopm, bool intercept);

// Two bits per MSR, read then write, for 0-0x1FFF, 0xC0000000-0xC0001FFF and
// 0xC0010000-0xC0011FFF (APM 15.11 figure 15-6). False for an MSR outside those ranges.
[[nodiscard]] bool set_msr_intercept(uint8_t* msrpm, uint32_t msr, bool read, bool write);
struct MsrIntercept {
    bool read, write;
};
[[nodiscard]] MsrIntercept msr_intercepted(const uint8_t* msrpm, uint32_t msr);

// One bit per port. A multi-byte access exits if the bit of any byte it touches is set, so an
// access at 0xFFFF reaches into the bits after port 0xFFFF, which iopm_fill sets too.
void set_io_intercept(uint8_t* iopm, uint16_t port, bool intercept);
void set_io_intercept_range(uint8_t* iopm, uint16_t first, uint32_t count, bool intercept);
[[nodiscard]] bool io_intercepted(const uint8_t* iopm, uint16_t port);

} // namespace svm
