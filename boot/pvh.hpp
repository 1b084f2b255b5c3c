// Xen PVH boot ABI: the loader enters 32-bit protected mode with EBX pointing at an
// hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h, "HVM start info" version 0/1).
// The structure refers to other physical memory (module list, memory map, strings, RSDP), so it
// is read through an accessor: `const uint8_t* map(uint64_t phys, uint64_t len) const`, nullptr
// when the range is not readable. Everything kept is copied into BootInfo.
#pragma once
#include <stddef.h>
#include "hv/lib/bytes.hpp"
#include <stdint.h>

#include "boot/boot_info.hpp"

namespace boot {

inline constexpr uint32_t pvh_magic = 0x336ec578u;   // "xEn3" with bit 7 of 'E' set
inline constexpr uint32_t pvh_max_string = 2048;     // bound on any C string the loader names

enum class PvhError : uint32_t {
    none,
    start_info_unmappable,
    bad_magic,
    missing_memory_map,   // version 0 has no memory map, or memmap_entries is 0
    too_many_ranges,
    too_many_modules,
    memmap_unmappable,
    modlist_unmappable,
    module_overflow,
    string_unmappable,
    string_not_terminated,
    string_pool_full,
    rsdp_unmappable,
    rsdp_bad_signature,
    rsdp_bad_checksum,
    rsdp_bad_length,
};

[[nodiscard]] const char* describe(PvhError e);

namespace pvh_detail {
// hvm_start_info field offsets (start_info.h).
inline constexpr uint64_t v0_size = 40, v1_size = 56;
inline constexpr uint64_t modlist_entry_size = 32, memmap_entry_size = 24;

using hv::bytes::load32;
using hv::bytes::load64;
void begin(BootInfo& out, uint64_t info_phys, uint64_t info_size);
// Appends `len` bytes plus a NUL to the pool; false when the pool is full.
[[nodiscard]] bool append(BootInfo& out, const uint8_t* s, size_t len, uint32_t& offset, bool first);
void add_range(BootInfo& out, const uint8_t* entry);
[[nodiscard]] PvhError check_rsdp(const uint8_t* p, uint32_t len);

// Copies the string at `phys` (0 = absent) page by page so that no mapping crosses into memory
// the string does not reach.
template <class Mem> PvhError copy_string(const Mem& mem, uint64_t phys, BootInfo& out, uint32_t& offset) {
    offset = 0;
    if (phys == 0) {
        return PvhError::none;
    }
    bool first = true;
    for (uint64_t done = 0; done < pvh_max_string;) {
        if (phys + done < phys) {
            return PvhError::string_unmappable;
        }
        uint64_t a = phys + done, chunk = 4096 - (a & 4095);
        chunk = chunk < pvh_max_string - done ? chunk : pvh_max_string - done;
        const uint8_t* p = mem.map(a, chunk);
        if (p == nullptr) {
            return PvhError::string_unmappable;
        }
        size_t len = 0;
        while (len < chunk && p[len] != 0) {
            ++len;
        }
        uint32_t piece = 0;
        if (len != 0 && !append(out, p, len, piece, first)) {
            return PvhError::string_pool_full;
        }
        offset = first && len != 0 ? piece : offset;
        first = first && len == 0;
        if (len < chunk) {
            return PvhError::none;
        }
        done += chunk;
    }
    return PvhError::string_not_terminated;
}
} // namespace pvh_detail

template <class Mem> [[nodiscard]] PvhError parse_pvh(const Mem& mem, uint64_t start_info_phys, BootInfo& out) {
    using namespace pvh_detail;
    begin(out, start_info_phys, 0);
    const uint8_t* si = mem.map(start_info_phys, v0_size);
    if (si == nullptr) {
        return PvhError::start_info_unmappable;
    }
    if (load32(si) != pvh_magic) {
        return PvhError::bad_magic;
    }
    uint32_t version = load32(si + 4);
    if (version < 1) {
        return PvhError::missing_memory_map;   // v0 leaves the map to the E820 hypercall
    }
    si = mem.map(start_info_phys, v1_size);
    if (si == nullptr) {
        return PvhError::start_info_unmappable;
    }
    out.info_size = v1_size;
    uint32_t nr_modules = load32(si + 12), entries = load32(si + 48);
    uint64_t modlist = load64(si + 16), cmdline = load64(si + 24), rsdp = load64(si + 32),
             memmap = load64(si + 40);
    if (entries == 0 || memmap == 0) {
        return PvhError::missing_memory_map;
    }
    if (entries > max_memory_ranges) {
        return PvhError::too_many_ranges;
    }
    if (nr_modules > max_modules) {
        return PvhError::too_many_modules;
    }
    const uint8_t* mm = mem.map(memmap, entries * memmap_entry_size);
    if (mm == nullptr) {
        return PvhError::memmap_unmappable;
    }
    for (uint32_t i = 0; i < entries; ++i) {
        add_range(out, mm + i * memmap_entry_size);
    }
    if (PvhError e = copy_string(mem, cmdline, out, out.cmdline); e != PvhError::none) {
        return e;
    }
    const uint8_t* ml = nr_modules ? mem.map(modlist, nr_modules * modlist_entry_size) : nullptr;
    if (nr_modules != 0 && ml == nullptr) {
        return PvhError::modlist_unmappable;
    }
    for (uint32_t i = 0; i < nr_modules; ++i) {
        const uint8_t* m = ml + i * modlist_entry_size;
        uint64_t start = load64(m), size = load64(m + 8);
        if (size > ~0ull - start) {
            return PvhError::module_overflow;
        }
        Module& mod = out.modules[out.module_count];
        mod.start = start;
        mod.end = start + size;
        if (PvhError e = copy_string(mem, load64(m + 16), out, mod.cmdline); e != PvhError::none) {
            return e;
        }
        ++out.module_count;
    }
    if (rsdp != 0) {
        // ACPI 6.4 5.2.5.3: 20 bytes for revision < 2, else the length field at offset 20.
        const uint8_t* r = mem.map(rsdp, 20);
        uint32_t len = 20;
        if (r != nullptr && r[15] >= 2) {
            r = mem.map(rsdp, 36);
            len = r != nullptr ? load32(r + 20) : 36;
            if (len < 36 || len > 4096) {
                return PvhError::rsdp_bad_length;
            }
            r = r != nullptr ? mem.map(rsdp, len) : nullptr;
        }
        if (r == nullptr) {
            return PvhError::rsdp_unmappable;
        }
        if (PvhError e = check_rsdp(r, len); e != PvhError::none) {
            return e;
        }
        len = len < 36 ? len : 36;
        __builtin_memcpy(out.rsdp, r, len);
        out.rsdp_length = len;
        out.rsdp_phys = rsdp;
    }
    out.loader = Loader::pvh;
    return PvhError::none;
}

} // namespace boot
