// The one boot description the loaders (Multiboot2, PVH) produce and the core consumes.
// It owns copies of everything it names (strings, the RSDP), so nothing in it points into
// loader memory that the frame allocator may later hand out.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace boot {

// Multiboot2 memory-map types (Multiboot2 spec 3.6.8), also used for PVH (E820 types).
enum class MemoryType : uint32_t {
    usable = 1,
    reserved = 2,
    acpi_reclaimable = 3,
    acpi_nvs = 4,
    bad = 5,
};

struct MemoryRange {
    uint64_t base;
    uint64_t length;
    MemoryType type;
};

struct Module {
    uint64_t start;      // physical, inclusive
    uint64_t end;        // physical, exclusive
    uint32_t cmdline;    // offset into BootInfo::strings
};

inline constexpr size_t max_memory_ranges = 128;
inline constexpr size_t max_modules = 16;
inline constexpr size_t string_pool_size = 4096;

enum class Loader : uint32_t { none, multiboot2, pvh };

struct BootInfo {
    Loader loader = Loader::none;
    uint32_t cmdline = 0;                   // offset into strings ("" when absent)
    uint32_t loader_name = 0;               // offset into strings
    MemoryRange memory[max_memory_ranges]{};
    size_t memory_count = 0;
    Module modules[max_modules]{};
    size_t module_count = 0;
    uint8_t rsdp[36]{};                     // copy of the ACPI RSDP (v1: 20 bytes, v2+: 36)
    uint32_t rsdp_length = 0;               // 0 when the loader gave none
    uint64_t rsdp_phys = 0;                 // where the loader found it, when it says (PVH)
    uint64_t info_phys = 0, info_size = 0;  // the loader's own structure, kept out of the allocator
    char strings[string_pool_size]{};
    uint32_t strings_used = 1;              // offset 0 is the empty string

    [[nodiscard]] const char* str(uint32_t off) const { return &strings[off < string_pool_size ? off : 0]; }
};

} // namespace boot
