#include "boot/multiboot2.hpp"
#include "hv/lib/bytes.hpp"

namespace boot {
namespace {

// Multiboot2 spec 3.6: tag types this parser understands.
enum TagType : uint32_t {
    tag_end = 0,
    tag_cmdline = 1,
    tag_loader_name = 2,
    tag_module = 3,
    tag_mmap = 6,
    tag_acpi_old = 14,
    tag_acpi_new = 15,
};

constexpr uint32_t fixed_part = 8;        // total_size + reserved
constexpr uint32_t tag_header = 8;        // type + size
constexpr uint32_t mmap_header = 16;      // tag header + entry_size + entry_version
constexpr uint32_t mmap_min_entry = 24;   // base, length, type, reserved (spec 3.6.8)
constexpr uint32_t rsdp_v1_size = 20;
constexpr uint32_t rsdp_v2_size = 36;
using hv::bytes::load32;
using hv::bytes::load64;

MemoryType memory_type(uint32_t raw) {
    switch (raw) {
    case 1: return MemoryType::usable;
    case 3: return MemoryType::acpi_reclaimable;
    case 4: return MemoryType::acpi_nvs;
    case 5: return MemoryType::bad;
    default: return MemoryType::reserved;   // spec 3.6.8: any other value is reserved
    }
}

// Copies the NUL-terminated string in [s, s + max) into the pool; the terminator must lie inside.
Mb2Error intern(BootInfo& out, const uint8_t* s, size_t max, uint32_t& offset) {
    size_t len = 0;
    while (len < max && s[len] != 0) {
        ++len;
    }
    if (len == max) {
        return Mb2Error::string_not_terminated;
    }
    if (len == 0) {
        offset = 0;
        return Mb2Error::none;
    }
    if (out.strings_used > string_pool_size || len + 1 > string_pool_size - out.strings_used) {
        return Mb2Error::string_pool_full;
    }
    offset = out.strings_used;
    __builtin_memcpy(&out.strings[offset], s, len);
    out.strings[offset + len] = '\0';
    out.strings_used += static_cast<uint32_t>(len + 1);
    return Mb2Error::none;
}

void reset(BootInfo& out) {
    out.loader = Loader::none;
    out.cmdline = 0;
    out.loader_name = 0;
    out.memory_count = 0;
    out.module_count = 0;
    out.rsdp_length = 0;
    out.rsdp_phys = 0;
    out.info_size = 0;
    out.strings[0] = '\0';
    out.strings_used = 1;
}

Mb2Error parse_mmap(const uint8_t* tag, uint32_t size, BootInfo& out) {
    if (size < mmap_header) {
        return Mb2Error::tag_too_small;
    }
    uint32_t entry_size = load32(tag + 8);
    // Spec 3.6.8: entry_size is a multiple of 8 and lets future versions grow the entry; it is
    // the stride, only the first 24 bytes are interpreted. Trailing bytes short of a whole entry
    // are ignored.
    if (entry_size < mmap_min_entry || entry_size % 8 != 0) {
        return Mb2Error::bad_memory_map_entry_size;
    }
    for (uint32_t off = mmap_header; size - off >= entry_size; off += entry_size) {
        if (out.memory_count == max_memory_ranges) {
            return Mb2Error::too_many_ranges;
        }
        const uint8_t* e = tag + off;
        out.memory[out.memory_count++] = {load64(e), load64(e + 8), memory_type(load32(e + 16))};
    }
    return Mb2Error::none;
}

Mb2Error parse_module(const uint8_t* tag, uint32_t size, BootInfo& out) {
    if (size < 17) {   // start, end and at least the string's terminator
        return Mb2Error::tag_too_small;
    }
    if (out.module_count == max_modules) {
        return Mb2Error::too_many_modules;
    }
    uint32_t start = load32(tag + 8), end = load32(tag + 12);
    if (end < start) {
        return Mb2Error::module_end_before_start;
    }
    Module& m = out.modules[out.module_count];
    m.start = start;
    m.end = end;
    if (Mb2Error e = intern(out, tag + 16, size - 16, m.cmdline); e != Mb2Error::none) {
        return e;
    }
    ++out.module_count;
    return Mb2Error::none;
}

Mb2Error parse_rsdp(const uint8_t* tag, uint32_t size, uint32_t want, BootInfo& out) {
    if (size < tag_header + want) {
        return Mb2Error::rsdp_tag_too_small;
    }
    __builtin_memcpy(out.rsdp, tag + tag_header, want);
    out.rsdp_length = want;
    return Mb2Error::none;
}

Mb2Error parse_tag(const uint8_t* tag, uint32_t type, uint32_t size, BootInfo& out, bool& have_new_rsdp) {
    switch (type) {
    case tag_cmdline: return intern(out, tag + tag_header, size - tag_header, out.cmdline);
    case tag_loader_name: return intern(out, tag + tag_header, size - tag_header, out.loader_name);
    case tag_module: return parse_module(tag, size, out);
    case tag_mmap: return parse_mmap(tag, size, out);
    case tag_acpi_old:
        return have_new_rsdp ? Mb2Error::none : parse_rsdp(tag, size, rsdp_v1_size, out);
    case tag_acpi_new:
        have_new_rsdp = true;
        return parse_rsdp(tag, size, rsdp_v2_size, out);
    default: return Mb2Error::none;
    }
}

} // namespace

Mb2Result parse_multiboot2_at(const uint8_t* info, size_t available, BootInfo& out) {
    reset(out);
    if (info == nullptr) {
        return {Mb2Error::null_info, 0};
    }
    if (available < fixed_part) {
        return {Mb2Error::total_size_exceeds_available, 0};
    }
    uint32_t total = load32(info);
    if (total < fixed_part + tag_header) {
        return {Mb2Error::total_size_too_small, 0};
    }
    if (total > available) {
        return {Mb2Error::total_size_exceeds_available, 0};
    }
    bool have_mmap = false, have_new_rsdp = false;
    uint32_t off = fixed_part;
    // Each iteration keeps off <= total and off % 8 == 0, so total - off never wraps.
    while (total - off >= tag_header) {
        uint32_t type = load32(info + off), size = load32(info + off + 4);
        if (size < tag_header) {
            return {Mb2Error::tag_too_small, off};
        }
        if (size > total - off) {
            return {Mb2Error::tag_overrun, off};
        }
        if (type == tag_end) {
            if (size != tag_header) {
                return {Mb2Error::bad_end_tag, off};
            }
            if (!have_mmap) {
                return {Mb2Error::missing_memory_map, off};
            }
            out.loader = Loader::multiboot2;
            out.info_size = total;
            return {Mb2Error::none, 0};
        }
        have_mmap |= type == tag_mmap;
        if (Mb2Error e = parse_tag(info + off, type, size, out, have_new_rsdp); e != Mb2Error::none) {
            return {e, off};
        }
        // Spec 3.6.1: tags are padded to 8-byte alignment; the padding must fit too.
        uint32_t next = (size + 7u) & ~7u;
        if (next > total - off) {
            return {Mb2Error::tag_misaligned, off};
        }
        off += next;
    }
    return {Mb2Error::missing_end_tag, off};
}

Mb2Error parse_multiboot2(const uint8_t* info, size_t available, BootInfo& out) {
    return parse_multiboot2_at(info, available, out).error;
}

const char* describe(Mb2Error e) {
    switch (e) {
    case Mb2Error::none: return "multiboot2: ok";
    case Mb2Error::null_info: return "multiboot2: no boot information pointer";
    case Mb2Error::total_size_too_small: return "multiboot2: total_size is smaller than 16 bytes";
    case Mb2Error::total_size_exceeds_available:
        return "multiboot2: total_size is larger than the readable memory";
    case Mb2Error::tag_misaligned: return "multiboot2: a tag's 8-byte padding runs past the structure";
    case Mb2Error::tag_too_small: return "multiboot2: a tag is smaller than its fixed fields";
    case Mb2Error::tag_overrun: return "multiboot2: a tag overruns the information structure";
    case Mb2Error::missing_end_tag: return "multiboot2: the structure has no end tag";
    case Mb2Error::bad_end_tag: return "multiboot2: the end tag's size is not 8";
    case Mb2Error::missing_memory_map: return "multiboot2: no memory map tag (type 6)";
    case Mb2Error::bad_memory_map_entry_size:
        return "multiboot2: memory map entry_size is below 24 or not a multiple of 8";
    case Mb2Error::too_many_ranges: return "multiboot2: more memory map entries than BootInfo holds";
    case Mb2Error::too_many_modules: return "multiboot2: more modules than BootInfo holds";
    case Mb2Error::module_end_before_start: return "multiboot2: a module ends before it starts";
    case Mb2Error::string_not_terminated: return "multiboot2: a string is not NUL-terminated inside its tag";
    case Mb2Error::string_pool_full: return "multiboot2: strings exceed the BootInfo string pool";
    case Mb2Error::rsdp_tag_too_small: return "multiboot2: an ACPI RSDP tag is too small for its RSDP";
    }
    return "multiboot2: unknown error";
}

} // namespace boot
