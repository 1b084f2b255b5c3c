#include "partitions/devices/multiboot1.hpp"
#include "hv/lib/bytes.hpp"

namespace devices {
namespace {

using hv::bytes::load32;

constexpr uint32_t flag_page_align = 1u << 0, flag_memory_info = 1u << 1, flag_video = 1u << 2;
constexpr uint32_t flag_addresses = 1u << 16;
constexpr uint32_t understood_required = flag_page_align | flag_memory_info | flag_video;
// Boot information flags (3.3).
constexpr uint32_t info_mem = 1u << 0, info_cmdline = 1u << 2, info_mods = 1u << 3, info_mmap = 1u << 6,
                   info_loader_name = 1u << 9;
constexpr size_t info_header = 120; // the 116-byte structure, padded to keep the arrays aligned
constexpr size_t mod_entry = 16, mmap_entry = 24, max_string = 64 * 1024;
constexpr uint64_t four_gib = 1ull << 32, page = 4096;

void put(uint8_t* p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Length of a NUL-terminated string, or max_string when it is longer.
size_t bounded_strlen(const char* s) {
    size_t n = 0;
    while (s && n < max_string && s[n] != '\0')
        n++;
    return n;
}

uint64_t align_up(uint64_t v, uint64_t a) {
    return (v + a - 1) & ~(a - 1);
}

bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
    return alen != 0 && blen != 0 && a < b + blen && b < a + alen;
}

bool add_copy(LoadPlan& plan, const LoadCopy& c) {
    if (plan.count == LoadPlan::capacity)
        return false;
    plan.copies[plan.count++] = c;
    return true;
}

// 3.1.3: the a.out kludge. The file offset where loading starts is the header's offset minus
// (header_addr - load_addr); load_end_addr 0 means "to the end of the file", bss_end_addr 0 "no bss".
Multiboot1Error place_aout(const Multiboot1Request& r, const Multiboot1Header& h, Multiboot1Plan& out) {
    if (h.load_addr > h.header_addr || h.header_addr - h.load_addr > h.offset)
        return Multiboot1Error::bad_address_fields;
    if (h.load_end_addr != 0 && h.load_end_addr < h.load_addr)
        return Multiboot1Error::bad_address_fields;
    uint64_t file_offset = h.offset - (h.header_addr - h.load_addr);
    uint64_t length =
        h.load_end_addr != 0 ? uint64_t{h.load_end_addr} - h.load_addr : r.image_size - file_offset;
    if (length > r.image_size - file_offset)
        return Multiboot1Error::load_outside_file;
    uint64_t load_end = h.load_addr + length, mem_end = load_end;
    if (h.bss_end_addr != 0) {
        if (h.bss_end_addr < load_end)
            return Multiboot1Error::bad_address_fields;
        mem_end = h.bss_end_addr;
    }
    if (h.entry_addr < h.load_addr || h.entry_addr >= mem_end)
        return Multiboot1Error::entry_outside_image;
    add_copy(out.load, {CopySource::kernel, 0, file_offset, length, h.load_addr, mem_end - load_end});
    out.kernel_start = h.load_addr;
    out.kernel_end = mem_end;
    out.entry.rip = h.entry_addr;
    return Multiboot1Error::ok;
}

// Without the kludge the image must be ELF (3.1.3); segments go to their physical addresses and
// the entry is translated through the segment holding it, as GRUB does for kernels linked high.
Multiboot1Error place_elf(const Multiboot1Request& r, Multiboot1Plan& out) {
    partitions::ElfImage img;
    out.elf_error = partitions::parse_elf(r.image, r.image_size, img);
    if (out.elf_error != partitions::ElfError::ok)
        return Multiboot1Error::elf;
    bool entry_found = false;
    for (size_t i = 0; i < img.segment_count; i++) {
        const partitions::ElfSegment& s = img.segments[i];
        add_copy(out.load, {CopySource::kernel, 0, s.offset, s.file_size, s.paddr, s.mem_size - s.file_size});
        if (!entry_found && img.entry >= s.vaddr && img.entry - s.vaddr < s.mem_size) {
            out.entry.rip = img.entry - s.vaddr + s.paddr;
            entry_found = true;
        }
    }
    out.kernel_start = img.lowest_paddr;
    out.kernel_end = img.highest_paddr;
    return entry_found ? Multiboot1Error::ok : Multiboot1Error::entry_outside_image;
}

Multiboot1Error place_modules(const Multiboot1Request& r, Multiboot1Plan& out, uint64_t* starts) {
    uint64_t info_end = r.info_gpa + out.info_size;
    uint64_t cursor = r.modules_gpa != 0 ? r.modules_gpa : align_up(out.kernel_end, page);
    for (size_t i = 0; i < r.module_count; i++) {
        const BootModule& m = r.modules[i];
        if (m.size >= four_gib || (m.data == nullptr && m.size != 0))
            return Multiboot1Error::bad_request;
        if (r.modules_gpa == 0 && overlaps(cursor, m.size ? m.size : 1, r.info_gpa, out.info_size))
            cursor = align_up(info_end, page);
        if (cursor >= four_gib)
            return Multiboot1Error::above_4gib;
        starts[i] = cursor;
        if (m.size != 0 &&
            !add_copy(out.load, {CopySource::module, static_cast<uint32_t>(i), 0, m.size, cursor, 0}))
            return Multiboot1Error::bad_request;
        cursor = align_up(cursor + m.size, page); // flag 0 asks for page alignment; we always do
    }
    return Multiboot1Error::ok;
}

// 3.3: mem_lower counts from 0 (at most 640 KiB), mem_upper from 1 MiB to the first hole.
void memory_sizes(const Multiboot1Request& r, uint32_t& lower_kib, uint32_t& upper_kib) {
    uint64_t lower = available_end(r.memory, r.memory_count, 0);
    lower_kib = static_cast<uint32_t>((lower < 0xA0000 ? lower : 0xA0000) / 1024);
    uint64_t upper = (available_end(r.memory, r.memory_count, 0x100000) - 0x100000) / 1024;
    upper_kib = static_cast<uint32_t>(upper < 0xffffffffu ? upper : 0xffffffffu);
}

// 3.3: the structure, then the module list, the memory map and the strings, at info_gpa.
void build_info(const Multiboot1Request& r, const uint64_t* mod_starts, size_t size) {
    uint8_t* p = r.info;
    __builtin_memset(p, 0, size);
    size_t mods_at = info_header, mmap_at = mods_at + mod_entry * r.module_count;
    size_t str_at = mmap_at + mmap_entry * r.memory_count;
    auto add_string = [&](const char* s) {
        size_t n = bounded_strlen(s);
        if (n)
            __builtin_memcpy(p + str_at, s, n);
        uint64_t gpa = r.info_gpa + str_at;
        str_at += n + 1; // the buffer was zeroed: the NUL is there
        return gpa;
    };
    uint32_t flags = info_mem | info_cmdline | info_mods | info_mmap, lower = 0, upper = 0;
    memory_sizes(r, lower, upper);
    put(p + 4, lower, 4);
    put(p + 8, upper, 4);
    put(p + 16, add_string(r.cmdline), 4);
    put(p + 20, r.module_count, 4);
    put(p + 24, r.info_gpa + mods_at, 4);
    for (size_t i = 0; i < r.module_count; i++) {
        uint8_t* e = p + mods_at + mod_entry * i; // mod_start, mod_end (exclusive), string, reserved
        put(e, mod_starts[i], 4);
        put(e + 4, mod_starts[i] + r.modules[i].size, 4);
        put(e + 8, add_string(r.modules[i].cmdline), 4);
    }
    // mmap_addr points at the first entry's size field, which does not count itself (20).
    put(p + 44, mmap_entry * r.memory_count, 4);
    put(p + 48, r.info_gpa + mmap_at, 4);
    for (size_t i = 0; i < r.memory_count; i++) {
        uint8_t* e = p + mmap_at + mmap_entry * i;
        put(e, mmap_entry - 4, 4);
        put(e + 4, r.memory[i].base, 8);
        put(e + 12, r.memory[i].length, 8);
        put(e + 20, r.memory[i].type, 4);
    }
    if (r.loader_name) {
        flags |= info_loader_name;
        put(p + 64, add_string(r.loader_name), 4);
    }
    put(p, flags, 4);
}

// 3.2: protected mode, paging off, flat 4 GiB segments, EAX the loader magic, EBX the info.
void entry_state(const Multiboot1Request& r, EntryState& e) {
    e.long_mode = false;
    e.rax = multiboot1_loader_magic;
    e.rbx = r.info_gpa;
    e.rflags = 0x2;                        // IF and VM clear; bit 1 is always set
    e.cr0 = 0x11;                          // PE, ET
    e.cs = {0x08, 0, 0xffffffff, 0xc9b};   // execute/read, accessed; D/B, G
    e.data = {0x10, 0, 0xffffffff, 0xc93}; // read/write, accessed; D/B, G
}

Multiboot1Error check_request(const Multiboot1Request& r) {
    if (r.image == nullptr || (r.module_count && !r.modules) || r.module_count > multiboot1_max_modules)
        return Multiboot1Error::bad_request;
    if ((r.memory_count && !r.memory) || r.memory_count > multiboot1_max_ranges)
        return Multiboot1Error::bad_memory_map;
    for (size_t i = 0; i < r.memory_count; i++) {
        uint64_t end;
        if (r.memory[i].length == 0 || __builtin_add_overflow(r.memory[i].base, r.memory[i].length, &end))
            return Multiboot1Error::bad_memory_map;
    }
    return r.info_gpa % 8 == 0 && r.modules_gpa % page == 0 ? Multiboot1Error::ok
                                                            : Multiboot1Error::bad_request;
}

} // namespace

const char* describe(Multiboot1Error e) {
    switch (e) {
    case Multiboot1Error::ok:
        return "ok";
    case Multiboot1Error::no_header:
        return "multiboot1: no header in the first 8192 bytes";
    case Multiboot1Error::bad_checksum:
        return "multiboot1: header checksum does not hold";
    case Multiboot1Error::unsupported_required_flags:
        return "multiboot1: header requires features we do not know";
    case Multiboot1Error::video_required:
        return "multiboot1: header requires video mode information";
    case Multiboot1Error::header_truncated:
        return "multiboot1: address fields run past the first 8192 bytes";
    case Multiboot1Error::bad_address_fields:
        return "multiboot1: inconsistent a.out-kludge addresses";
    case Multiboot1Error::load_outside_file:
        return "multiboot1: load range runs past the end of the file";
    case Multiboot1Error::entry_outside_image:
        return "multiboot1: entry point outside the loaded image";
    case Multiboot1Error::elf:
        return "multiboot1: no address fields and not a loadable ELF";
    case Multiboot1Error::bad_request:
        return "multiboot1: malformed load request";
    case Multiboot1Error::bad_memory_map:
        return "multiboot1: memory map has empty or wrapping ranges";
    case Multiboot1Error::string_too_long:
        return "multiboot1: a command line exceeds 64 KiB";
    case Multiboot1Error::info_too_small:
        return "multiboot1: information buffer too small";
    case Multiboot1Error::above_4gib:
        return "multiboot1: something would be placed above 4 GiB";
    case Multiboot1Error::outside_ram:
        return "multiboot1: a destination lies outside the child's RAM";
    case Multiboot1Error::overlap:
        return "multiboot1: destinations overlap";
    }
    return "multiboot1: unknown error";
}

Multiboot1Error find_multiboot1_header(const uint8_t* image, size_t size, Multiboot1Header& out) {
    out = Multiboot1Header{};
    size_t limit = size < multiboot1_search_limit ? size : multiboot1_search_limit;
    bool saw_magic = false;
    for (size_t off = 0; image && limit >= 12 && off <= limit - 12; off += 4) {
        if (load32(image + off) != multiboot1_magic)
            continue;
        uint32_t flags = load32(image + off + 4), sum = load32(image + off + 8);
        if (static_cast<uint32_t>(multiboot1_magic + flags + sum) != 0) {
            saw_magic = true;
            continue;
        }
        out.offset = static_cast<uint32_t>(off);
        out.flags = flags;
        if ((flags & flag_addresses) && off + 32 <= limit) {
            out.header_addr = load32(image + off + 12);
            out.load_addr = load32(image + off + 16);
            out.load_end_addr = load32(image + off + 20);
            out.bss_end_addr = load32(image + off + 24);
            out.entry_addr = load32(image + off + 28);
        }
        return Multiboot1Error::ok;
    }
    return saw_magic ? Multiboot1Error::bad_checksum : Multiboot1Error::no_header;
}

size_t multiboot1_info_size(const Multiboot1Request& r) {
    size_t strings = 0;
    auto count = [&](const char* s) {
        size_t n = bounded_strlen(s);
        strings += n + 1;
        return n < max_string;
    };
    bool ok = count(r.cmdline) && (!r.loader_name || count(r.loader_name));
    for (size_t i = 0; ok && r.modules && i < r.module_count && i < multiboot1_max_modules; i++)
        ok = count(r.modules[i].cmdline);
    if (!ok)
        return 0;
    return info_header + mod_entry * r.module_count + mmap_entry * r.memory_count + strings;
}

uint64_t available_end(const GuestRange* map, size_t count, uint64_t addr) {
    uint64_t cursor = addr;
    for (bool moved = true; moved;) { // each pass moves past a whole range, so it ends
        moved = false;
        for (size_t i = 0; map && i < count; i++) {
            uint64_t end;
            if (map[i].type != mmap_available || cursor < map[i].base ||
                cursor - map[i].base >= map[i].length ||
                __builtin_add_overflow(map[i].base, map[i].length, &end))
                continue;
            cursor = end;
            moved = true;
        }
    }
    return cursor;
}

bool in_available_ram(const GuestRange* map, size_t count, uint64_t base, uint64_t length) {
    uint64_t end;
    if (length == 0)
        return true;
    return !__builtin_add_overflow(base, length, &end) && available_end(map, count, base) >= end;
}

Multiboot1Error check_destinations(const LoadPlan& plan, const GuestRange* map, size_t count,
                                   uint64_t limit) {
    for (size_t i = 0; i < plan.count; i++) {
        const LoadCopy& c = plan.copies[i];
        uint64_t total, end;
        if (__builtin_add_overflow(c.length, c.zero_length, &total) ||
            __builtin_add_overflow(c.dest, total, &end) || end > limit)
            return Multiboot1Error::above_4gib;
        if (!in_available_ram(map, count, c.dest, total))
            return Multiboot1Error::outside_ram;
        for (size_t j = 0; j < i; j++) {
            const LoadCopy& o = plan.copies[j];
            if (overlaps(c.dest, total, o.dest, o.length + o.zero_length))
                return Multiboot1Error::overlap;
        }
    }
    return Multiboot1Error::ok;
}

Multiboot1Error plan_multiboot1(const Multiboot1Request& r, Multiboot1Plan& out) {
    out = Multiboot1Plan{};
    if (Multiboot1Error e = check_request(r); e != Multiboot1Error::ok)
        return e;
    if (Multiboot1Error e = find_multiboot1_header(r.image, r.image_size, out.header);
        e != Multiboot1Error::ok)
        return e;
    const Multiboot1Header& h = out.header;
    if ((h.flags & 0xffff & ~understood_required) != 0) // 3.1.2: bits 0-15 are requirements
        return Multiboot1Error::unsupported_required_flags;
    if ((h.flags & flag_video) && !r.ignore_video_request)
        return Multiboot1Error::video_required;
    Multiboot1Error e;
    if (h.flags & flag_addresses) {
        size_t limit = r.image_size < multiboot1_search_limit ? r.image_size : multiboot1_search_limit;
        if (size_t{h.offset} + 32 > limit)
            return Multiboot1Error::header_truncated;
        e = place_aout(r, h, out);
    } else {
        e = place_elf(r, out);
    }
    if (e != Multiboot1Error::ok)
        return e;
    out.info_size = multiboot1_info_size(r);
    if (out.info_size == 0)
        return Multiboot1Error::string_too_long;
    if (r.info == nullptr || r.info_capacity < out.info_size)
        return Multiboot1Error::info_too_small;
    uint64_t mod_starts[multiboot1_max_modules];
    if (e = place_modules(r, out, mod_starts); e != Multiboot1Error::ok)
        return e;
    add_copy(out.load, {CopySource::info, 0, 0, out.info_size, r.info_gpa, 0}); // capacity: 16 + 32 + 1
    if (e = check_destinations(out.load, r.memory, r.memory_count, four_gib); e != Multiboot1Error::ok)
        return e;
    build_info(r, mod_starts, out.info_size);
    entry_state(r, out.entry);
    return Multiboot1Error::ok;
}

} // namespace devices
