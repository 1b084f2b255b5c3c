// Loading a Multiboot (version 1, spec 0.6.96) kernel into a child partition as GRUB and QEMU's
// -kernel do, as a pure plan: the header search (3.1.1-3.1.3), the kernel's placement from the
// a.out-kludge address fields or else its ELF program headers, modules placed page-aligned
// behind it, the boot information structure (3.3) built in a caller buffer, and the machine
// state at entry (3.2). The caller performs the copies into the child's memory and sets up the
// processor; nothing here touches guest memory. Every destination is checked to lie in the
// child's RAM, below 4 GiB (the structure's addresses are 32-bit), and clear of the others.
// The plan and entry-state types are shared with child_image (ELF64 children).
#pragma once
#include "partitions/elf.hpp"

#include <stddef.h>
#include <stdint.h>

namespace devices {

// A range of the child's guest-physical map, typed as Multiboot's mmap (3.3): 1 available
// RAM, 3 ACPI reclaimable, 4 NVS, 5 bad, anything else reserved. Loads go only to type 1.
struct GuestRange {
    uint64_t base;
    uint64_t length;
    uint32_t type;
};
inline constexpr uint32_t mmap_available = 1, mmap_reserved = 2, mmap_acpi = 3, mmap_nvs = 4;

struct BootModule {
    const uint8_t* data;
    uint64_t size;
    const char* cmdline; // nullptr reads as ""
};

enum class CopySource : uint8_t { kernel, module, info };

// Copy `length` bytes from offset `offset` of the source to guest-physical `dest`, then write
// `zero_length` zeroes at dest + length (bss).
struct LoadCopy {
    CopySource source;
    uint32_t module; // index into the modules when source == module
    uint64_t offset;
    uint64_t length;
    uint64_t dest;
    uint64_t zero_length;
};

struct LoadPlan {
    static constexpr size_t capacity = 64;
    LoadCopy copies[capacity];
    size_t count;
};

// A flat segment register as the VMCS/VMCB want it. `attributes` holds descriptor bits 40-47
// in bits 0-7 and bits 52-55 (AVL, L, D/B, G) in bits 8-11: the VMCB's attribute format; VT-x
// access rights are (a & 0xff) | (a & 0xf00) << 4 (Intel SDM 3 24.4.1, AMD APM 2 15.5.1).
struct SegmentState {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;
    uint16_t attributes;
};

struct EntryState {
    bool long_mode;
    uint64_t rip, rsp, rflags, rax, rbx, rsi, rdi;
    uint64_t cr0, cr3, cr4, efer; // cr3: 0 here, the caller's tables when paging is on
    SegmentState cs, data;        // data: DS, ES, FS, GS and SS alike
};

struct Multiboot1Header {
    uint32_t offset; // of the magic in the file
    uint32_t flags;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; // flag 16
};

inline constexpr uint32_t multiboot1_magic = 0x1BADB002, multiboot1_loader_magic = 0x2BADB002;
inline constexpr size_t multiboot1_search_limit = 8192;
inline constexpr size_t multiboot1_max_modules = 32, multiboot1_max_ranges = 128;
inline constexpr size_t multiboot1_info_struct_size = 116; // through color_info (3.3)

enum class Multiboot1Error : uint8_t {
    ok,
    no_header,
    bad_checksum,
    unsupported_required_flags,
    video_required,
    header_truncated,
    bad_address_fields,
    load_outside_file,
    entry_outside_image,
    elf,
    bad_request,
    bad_memory_map,
    string_too_long,
    info_too_small,
    above_4gib,
    outside_ram,
    overlap,
};

[[nodiscard]] const char* describe(Multiboot1Error e);

// 3.1.1: a magic at a 4-byte-aligned offset in the first 8192 bytes whose checksum holds. A
// magic with a bad checksum does not end the search (GRUB does the same); if no good header
// follows, bad_checksum says a header was probably meant.
[[nodiscard]] Multiboot1Error find_multiboot1_header(const uint8_t* image, size_t size,
                                                     Multiboot1Header& out);

struct Multiboot1Request {
    const uint8_t* image = nullptr;
    size_t image_size = 0;
    const char* cmdline = nullptr;
    const BootModule* modules = nullptr;
    size_t module_count = 0;
    const GuestRange* memory = nullptr; // the child's map, reported as mmap
    size_t memory_count = 0;
    uint64_t info_gpa = 0;   // where the caller copies `info`; 8-byte aligned
    uint8_t* info = nullptr; // receives the information structure, its arrays and strings
    size_t info_capacity = 0;
    uint64_t modules_gpa = 0; // first module's address; 0: page-aligned after the kernel
    const char* loader_name = "hv";
    bool ignore_video_request = false; // load kernels that require video info, as QEMU does
};

struct Multiboot1Plan {
    Multiboot1Header header;
    LoadPlan load;
    EntryState entry;
    uint64_t kernel_start, kernel_end; // guest-physical span of the kernel, bss included
    size_t info_size;                  // bytes of `info` used
    partitions::ElfError elf_error;    // when the error is `elf`
};

// Bytes of `info` the request needs (0 when a string is too long).
[[nodiscard]] size_t multiboot1_info_size(const Multiboot1Request& request);
[[nodiscard]] Multiboot1Error plan_multiboot1(const Multiboot1Request& request, Multiboot1Plan& out);

// Shared with child_image: is [base, base + length) covered by available ranges (adjacent
// ones join), and the end of the available memory contiguous from `addr` (addr itself if none).
[[nodiscard]] bool in_available_ram(const GuestRange* map, size_t count, uint64_t base, uint64_t length);
[[nodiscard]] uint64_t available_end(const GuestRange* map, size_t count, uint64_t addr);
// The copies' destination ranges lie in available RAM and are pairwise disjoint.
[[nodiscard]] Multiboot1Error check_destinations(const LoadPlan& plan, const GuestRange* map, size_t count,
                                                 uint64_t limit);

} // namespace devices
