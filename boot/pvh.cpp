#include "boot/pvh.hpp"

namespace boot {

void pvh_detail::begin(BootInfo& out, uint64_t info_phys, uint64_t info_size) {
    out.loader = Loader::none;
    out.cmdline = 0;
    out.loader_name = 0;
    out.memory_count = 0;
    out.module_count = 0;
    out.rsdp_length = 0;
    out.rsdp_phys = 0;
    out.info_phys = info_phys;
    out.info_size = info_size;
    out.strings[0] = '\0';
    out.strings_used = 1;
}

bool pvh_detail::append(BootInfo& out, const uint8_t* s, size_t len, uint32_t& offset, bool first) {
    // A continuation overwrites the terminator of the piece before it.
    uint32_t at = first ? out.strings_used : out.strings_used - 1;
    if (at > string_pool_size || len + 1 > string_pool_size - at) {
        return false;
    }
    __builtin_memcpy(&out.strings[at], s, len);
    out.strings[at + len] = '\0';
    offset = at;
    out.strings_used = static_cast<uint32_t>(at + len + 1);
    return true;
}

void pvh_detail::add_range(BootInfo& out, const uint8_t* e) {
    // hvm_memmap_table_entry: addr, size, type (E820 numbering, as Multiboot2 spec 3.6.8).
    uint32_t raw = load32(e + 16);
    MemoryType type = raw >= 1 && raw <= 5 ? static_cast<MemoryType>(raw) : MemoryType::reserved;
    out.memory[out.memory_count++] = {load64(e), load64(e + 8), type};
}

PvhError pvh_detail::check_rsdp(const uint8_t* p, uint32_t len) {
    if (__builtin_memcmp(p, "RSD PTR ", 8) != 0) {
        return PvhError::rsdp_bad_signature;
    }
    uint8_t sum = 0, ext = 0;
    for (uint32_t i = 0; i < len; ++i) {
        (i < 20 ? sum : ext) = static_cast<uint8_t>((i < 20 ? sum : ext) + p[i]);
    }
    // ACPI 6.4 5.2.5.3: the first 20 bytes sum to zero, and so does the whole structure.
    return sum == 0 && static_cast<uint8_t>(sum + ext) == 0 ? PvhError::none : PvhError::rsdp_bad_checksum;
}

const char* describe(PvhError e) {
    switch (e) {
    case PvhError::none: return "pvh: ok";
    case PvhError::start_info_unmappable: return "pvh: hvm_start_info is not in readable memory";
    case PvhError::bad_magic: return "pvh: hvm_start_info magic is not 0x336ec578";
    case PvhError::missing_memory_map: return "pvh: no memory map (version 0 or memmap_entries 0)";
    case PvhError::too_many_ranges: return "pvh: more memory map entries than BootInfo holds";
    case PvhError::too_many_modules: return "pvh: more modules than BootInfo holds";
    case PvhError::memmap_unmappable: return "pvh: memory map table is not in readable memory";
    case PvhError::modlist_unmappable: return "pvh: module list is not in readable memory";
    case PvhError::module_overflow: return "pvh: a module's paddr + size wraps past 2^64";
    case PvhError::string_unmappable: return "pvh: a command line is not in readable memory";
    case PvhError::string_not_terminated: return "pvh: a command line has no NUL within 2 KiB";
    case PvhError::string_pool_full: return "pvh: strings exceed the BootInfo string pool";
    case PvhError::rsdp_unmappable: return "pvh: RSDP is not in readable memory";
    case PvhError::rsdp_bad_signature: return "pvh: RSDP signature is not \"RSD PTR \"";
    case PvhError::rsdp_bad_checksum: return "pvh: RSDP checksum is not zero";
    case PvhError::rsdp_bad_length: return "pvh: RSDP length is below 36 or above 4 KiB";
    }
    return "pvh: unknown error";
}

} // namespace boot
