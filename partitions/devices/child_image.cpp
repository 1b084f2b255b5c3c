#include "partitions/devices/child_image.hpp"

namespace devices {
namespace {

constexpr uint64_t two_mib = 2ull << 20;

bool canonical(uint64_t v) {
    return (v >> 47) == 0 || (v >> 47) == 0x1ffff;
}

uint64_t align_up(uint64_t v, uint64_t a) {
    return (v + a - 1) & ~(a - 1);
}

uint64_t highest_ram(const GuestRange* map, size_t count) {
    uint64_t top = 0;
    for (size_t i = 0; i < count; i++)
        if (map[i].type == mmap_available && map[i].base + map[i].length > top)
            top = map[i].base + map[i].length;
    return top;
}

// Intel SDM 3 9.8.5 / AMD APM 2 14.6: long mode needs PAE paging on, EFER.LME set.
void long_mode_entry(uint64_t rip, EntryState& e) {
    e.long_mode = true;
    e.rip = rip;
    e.rflags = 0x2;
    e.cr0 = 0x80010033;                  // PE, MP, ET, NE, WP, PG
    e.cr4 = 0x20;                        // PAE
    e.efer = 0x500;                      // LME, LMA
    e.cs = {0x08, 0, 0xffffffff, 0xa9b}; // execute/read, accessed; L, G (D/B must be 0)
    e.data = {0x10, 0, 0xffffffff, 0xc93};
}

ChildError plan_elf64(const ChildRequest& r, const partitions::ElfImage& img, Elf64Plan& out) {
    const Multiboot1Request& q = r.image;
    if (r.elf64_phys_bias % two_mib != 0)
        return ChildError::bad_bias;
    uint64_t link = img.segments[0].vaddr - img.segments[0].paddr;
    for (size_t i = 0; i < img.segment_count; i++) {
        const partitions::ElfSegment& s = img.segments[i];
        if (s.vaddr - s.paddr != link)
            return ChildError::mixed_link_offsets;
        uint64_t dest;
        if (__builtin_add_overflow(s.paddr, r.elf64_phys_bias, &dest))
            return ChildError::outside_ram;
        out.load.copies[out.load.count++] = {CopySource::kernel, 0,    s.offset,
                                             s.file_size,        dest, s.mem_size - s.file_size};
    }
    switch (check_destinations(out.load, q.memory, q.memory_count, ~0ull)) {
    case Multiboot1Error::ok:
        break;
    case Multiboot1Error::overlap:
        return ChildError::overlap;
    default:
        return ChildError::outside_ram;
    }
    out.image_start = img.lowest_paddr + r.elf64_phys_bias;
    out.image_end = img.highest_paddr + r.elf64_phys_bias;
    if (!canonical(img.lowest_vaddr) || !canonical(img.highest_vaddr - 1) ||
        (img.lowest_vaddr >> 47) != ((img.highest_vaddr - 1) >> 47))
        return ChildError::non_canonical;
    out.paging.identity_limit = align_up(highest_ram(q.memory, q.memory_count), two_mib);
    uint64_t virt_to_phys = link - r.elf64_phys_bias; // virtual - destination, mod 2^64
    if (virt_to_phys != 0) {
        if (virt_to_phys % two_mib != 0) // 2 MiB pages need congruent addresses
            return ChildError::window_misaligned;
        out.paging.window_virt = img.lowest_vaddr & ~(two_mib - 1);
        out.paging.window_phys = out.paging.window_virt - virt_to_phys;
        out.paging.window_size = align_up(img.highest_vaddr, two_mib) - out.paging.window_virt;
        if (out.paging.window_virt < out.paging.identity_limit)
            return ChildError::window_overlaps_identity;
    }
    long_mode_entry(img.entry, out.entry);
    return ChildError::ok;
}

bool is_elf(const uint8_t* p, size_t n) {
    return n >= 5 && p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F';
}

} // namespace

ChildError plan_child(const ChildRequest& r, ChildPlan& out) {
    out.kind = ChildKind::none;
    out.multiboot1_error = Multiboot1Error::ok;
    out.elf_error = partitions::ElfError::ok;
    out.elf64 = Elf64Plan{};
    const uint8_t* p = r.image.image;
    size_t n = r.image.image_size;
    if (p == nullptr || n == 0)
        return out.error = ChildError::empty;
    Multiboot1Header header;
    Multiboot1Error found = find_multiboot1_header(p, n, header);
    if (found == Multiboot1Error::ok) {
        out.kind = ChildKind::multiboot1;
        out.multiboot1_error = plan_multiboot1(r.image, out.multiboot1);
        out.elf_error = out.multiboot1.elf_error;
        return out.error =
                   out.multiboot1_error == Multiboot1Error::ok ? ChildError::ok : ChildError::multiboot1;
    }
    if (found == Multiboot1Error::bad_checksum) // a header was meant, but unless it is ELF64...
        out.multiboot1_error = found;
    if (is_elf(p, n) && p[4] == 1)
        return out.error = found == Multiboot1Error::bad_checksum ? ChildError::multiboot1
                                                                  : ChildError::elf32_without_multiboot;
    if (is_elf(p, n)) { // ...the magic may be chance bytes inside a 64-bit kernel
        out.multiboot1_error = Multiboot1Error::ok;
        partitions::ElfImage img;
        if (out.elf_error = partitions::parse_elf(p, n, img); out.elf_error != partitions::ElfError::ok)
            return out.error = ChildError::elf;
        out.kind = ChildKind::elf64;
        return out.error = plan_elf64(r, img, out.elf64);
    }
    return out.error =
               found == Multiboot1Error::bad_checksum ? ChildError::multiboot1 : ChildError::unrecognized;
}

const char* describe(const ChildPlan& plan) {
    switch (plan.error) {
    case ChildError::ok:
        return "ok";
    case ChildError::empty:
        return "child image: no bytes";
    case ChildError::multiboot1:
        return describe(plan.multiboot1_error);
    case ChildError::elf:
        return partitions::describe(plan.elf_error);
    case ChildError::elf32_without_multiboot:
        return "child image: ELF32 without a Multiboot header";
    case ChildError::unrecognized:
        return "child image: neither a Multiboot kernel nor an ELF64 executable";
    case ChildError::bad_bias:
        return "child image: physical bias is not a multiple of 2 MiB";
    case ChildError::mixed_link_offsets:
        return "child image: segments differ in virtual-minus-physical offset";
    case ChildError::window_misaligned:
        return "child image: link and load addresses differ modulo 2 MiB";
    case ChildError::non_canonical:
        return "child image: segments span non-canonical addresses";
    case ChildError::window_overlaps_identity:
        return "child image: link addresses fall inside the identity map";
    case ChildError::outside_ram:
        return "child image: a segment lies outside the child's RAM";
    case ChildError::overlap:
        return "child image: segments overlap";
    }
    return "child image: unknown error";
}

} // namespace devices
