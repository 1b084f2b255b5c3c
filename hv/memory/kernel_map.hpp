// The hypervisor's own address space (replaces the boot tables of boot/entry32.S):
//   direct_map_base + [0, limit)    all physical memory, large pages, RW+NX
//   image_base + image              text RX, rodata R+NX, data/bss RW+NX (W^X)
//   mmio_base ...                   device pages (the local APIC) mapped uncacheable
// Nothing is mapped in the lower half except, while processors start, the AP trampoline page.
#pragma once
#include "hv/lib/addr.hpp"

#include <stdint.h>

namespace hv::kmap {

inline constexpr uint64_t mmio_base = 0xFFFF'FFFF'C000'0000ull; // the last GiB

// Builds the tables (root below 4 GiB: the AP trampoline loads it in 32-bit mode), enables
// EFER.NXE and switches CR3. `phys_limit` is the direct map's extent. Panics on failure.
void init(uint64_t phys_limit);
// The root's physical address, for the AP trampoline and future CR3 loads.
[[nodiscard]] PhysAddr root();

// Maps `bytes` of device memory uncacheable (SDM vol 3 11.3, PCD|PWT with the default PAT).
[[nodiscard]] void* map_mmio(PhysAddr base, uint64_t bytes);

// One 4 KiB page mapped at its physical address, executable, for the real-to-long-mode switch.
void map_identity(PhysAddr page);
void unmap_identity(PhysAddr page); // flushes only this processor's TLB entry

} // namespace hv::kmap
