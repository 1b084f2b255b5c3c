// What a child partition boots from an image's bytes: one decision, one plan.
//  - A Multiboot 1 header in the first 8192 bytes: the image is loaded as GRUB would
//    (multiboot1.hpp), whatever its executable format, and starts in 32-bit protected mode.
//  - Else an ELF64 executable: a 64-bit kernel linked as our partition images are
//    (partitions/rt/partition.ld: upper half, nominal physical addresses from 1 MiB). Decision:
//    segments are copied to their physical addresses plus a caller bias (a multiple of 2 MiB,
//    0 by default), which must lie in the child's RAM; every segment must share one link offset
//    (virtual - physical), so one window of 2 MiB pages maps the link addresses. The child starts
//    in 64-bit mode at the ELF entry with CR3 = tables the caller builds from `PagingPlan`:
//    [0, identity_limit) one-to-one, plus the window (unless the image is identity-linked).
//    RSP, RDI and RSI are the caller's (a stack and a handoff of its choosing); ELF64 children
//    get no Multiboot information, so the command line and modules travel in that handoff.
//  - Else an error naming the problem (an ELF32 without a Multiboot header, say).
#pragma once
#include "partitions/devices/multiboot1.hpp"
#include "partitions/elf.hpp"

#include <stddef.h>
#include <stdint.h>

namespace devices {

enum class ChildKind : uint8_t { none, multiboot1, elf64 };

enum class ChildError : uint8_t {
    ok,
    empty,
    multiboot1, // see ChildPlan::multiboot1_error
    elf,        // see ChildPlan::elf_error
    elf32_without_multiboot,
    unrecognized,
    bad_bias,
    mixed_link_offsets,
    window_misaligned,
    non_canonical,
    window_overlaps_identity,
    outside_ram,
    overlap,
};

struct PagingPlan {
    uint64_t identity_limit; // map [0, identity_limit) one-to-one (2 MiB multiple)
    uint64_t window_virt;    // map [window_virt, + window_size) to window_phys (2 MiB aligned)
    uint64_t window_phys;
    uint64_t window_size; // 0: identity-linked, nothing more to map
};

struct Elf64Plan {
    LoadPlan load;    // kernel copies only
    EntryState entry; // long mode; cr3, rsp, rdi, rsi for the caller to fill
    PagingPlan paging;
    uint64_t image_start, image_end; // guest-physical span of the segments
};

struct ChildRequest {
    // Image, command line, modules, memory map and info buffer; for ELF64 only the image and
    // the memory map are used.
    Multiboot1Request image;
    uint64_t elf64_phys_bias = 0;
};

struct ChildPlan {
    ChildKind kind;
    ChildError error;
    Multiboot1Error multiboot1_error;
    partitions::ElfError elf_error;
    Multiboot1Plan multiboot1; // kind == multiboot1
    Elf64Plan elf64;           // kind == elf64
};

[[nodiscard]] ChildError plan_child(const ChildRequest& request, ChildPlan& out);
// The most specific explanation of out.error (the Multiboot or ELF reason when there is one).
[[nodiscard]] const char* describe(const ChildPlan& plan);

} // namespace devices
