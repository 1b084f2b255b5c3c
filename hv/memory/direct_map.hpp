// The one place a physical address becomes a pointer (and back). All physical memory the
// hypervisor may touch is mapped at direct_map_base (boot/entry32.S maps the first 4 GiB there;
// hv/memory/kernel_map.cpp extends it to all RAM); the image lives at image_base + physical.
#pragma once
#include "hv/lib/addr.hpp"

#include <stdint.h>

namespace hv {

inline constexpr uint64_t direct_map_base = 0xFFFF'8000'0000'0000ull;
inline constexpr uint64_t image_base = 0xFFFF'FFFF'8000'0000ull; // boot/linker.ld KERNEL_VMA

// Bytes of physical address space the direct map currently covers (4 GiB on the boot tables).
[[nodiscard]] uint64_t direct_map_limit();
void set_direct_map_limit(uint64_t bytes);

[[nodiscard]] inline void* phys_to_virt(PhysAddr p) {
    return reinterpret_cast<void*>(direct_map_base + p.raw());
}

// For a pointer into the image or the direct map; anything else is a broken invariant.
[[nodiscard]] PhysAddr virt_to_phys(const void* p);

// The accessor helper-1's parsers (PVH, ACPI) read memory through: nullptr outside the map.
struct DirectMapReader {
    [[nodiscard]] const uint8_t* map(uint64_t phys, uint64_t len) const {
        uint64_t limit = direct_map_limit();
        if (phys >= limit || len > limit - phys)
            return nullptr;
        return static_cast<const uint8_t*>(phys_to_virt(PhysAddr(phys)));
    }
};

} // namespace hv
