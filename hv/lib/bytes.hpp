// Reading little-endian values at any alignment. Structures from loaders, firmware and images
// (Multiboot, PVH, ACPI, ELF) promise no alignment, and a cast pointer would be undefined
// behaviour; a fixed-size memcpy compiles to one load. Shared by every parser, the freestanding
// images and the host tests alike.
#pragma once
#include <stdint.h>

namespace hv::bytes {

template <class T> [[nodiscard]] inline T load(const uint8_t* p) {
    T v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
[[nodiscard]] inline uint16_t load16(const uint8_t* p) { return load<uint16_t>(p); }
[[nodiscard]] inline uint32_t load32(const uint8_t* p) { return load<uint32_t>(p); }
[[nodiscard]] inline uint64_t load64(const uint8_t* p) { return load<uint64_t>(p); }

} // namespace hv::bytes
