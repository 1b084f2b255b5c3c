// Multiboot2 boot information parser (Multiboot2 spec 3.6). The loader's structure is hostile
// input: every length is checked against both the tag and the structure before it is used, and
// whatever the core keeps is copied into BootInfo so the loader's memory can be recycled.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "boot/boot_info.hpp"

namespace boot {

// Multiboot2 spec 3.1.1 (header in the image) and 3.3 (value in EAX at entry).
inline constexpr uint32_t mb2_header_magic = 0xE85250D6u;
inline constexpr uint32_t mb2_bootloader_magic = 0x36d76289u;
inline constexpr uint32_t mb2_architecture_i386 = 0;

enum class Mb2Error : uint32_t {
    none,
    null_info,
    total_size_too_small,
    total_size_exceeds_available,
    tag_misaligned,
    tag_too_small,
    tag_overrun,
    missing_end_tag,
    bad_end_tag,
    missing_memory_map,
    bad_memory_map_entry_size,
    too_many_ranges,
    too_many_modules,
    module_end_before_start,
    string_not_terminated,
    string_pool_full,
    rsdp_tag_too_small,
};

[[nodiscard]] const char* describe(Mb2Error e);

// Offset of the tag that caused the last error (for the boot log); 0 when not tag-related.
struct Mb2Result {
    Mb2Error error = Mb2Error::none;
    uint32_t offset = 0;
};

// Parses `available` bytes at `info`. Fills `out` (except out.info_phys, which the caller knows);
// on error `out` is partially filled and must not be used. Tag type 15 (new RSDP) wins over 14.
[[nodiscard]] Mb2Error parse_multiboot2(const uint8_t* info, size_t available, BootInfo& out);
[[nodiscard]] Mb2Result parse_multiboot2_at(const uint8_t* info, size_t available, BootInfo& out);

} // namespace boot
