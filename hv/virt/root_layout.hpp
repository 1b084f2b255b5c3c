// The root's memory as the hypervisor lays it out, before any virtual processor runs: which
// physical ranges it gets and as what, where its image and boot data go. Vendor-free.
#pragma once
#include <stdint.h>

#include "boot/boot_info.hpp"
#include "partitions/abi/root_handoff.hpp"
#include "partitions/elf.hpp"
#include "partitions/region_list.hpp"

namespace hv::virt {

struct RootLayout {
    partitions::RegionList regions;   // types are root_abi::RegionType values
    uint64_t donated_bytes = 0;
    uint64_t boot_data = 0, boot_data_bytes = 0;   // handoff, stack, page tables
    uint64_t image = 0, image_bytes = 0;
    uint64_t handoff = 0, stack_top = 0, cr3 = 0, entry = 0;
    partitions::ElfImage elf{};
};

// Every step logs one line naming the problem and returns false on failure.
[[nodiscard]] bool layout_root_memory(const boot::BootInfo& info, RootLayout& out);
[[nodiscard]] bool load_root_image(const boot::BootInfo& info, RootLayout& layout);
void fill_handoff(const boot::BootInfo& info, const RootLayout& layout, const char* backend);

} // namespace hv::virt
