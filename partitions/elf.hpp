// ELF image parsing for partition images: ELF64 (the root kernel, test kernels) and ELF32
// (Multiboot version 1 kernels given to children). Pure and total: every header field is checked
// against the file's size before use, and base+length sums against overflow (System V gABI,
// "ELF Header" and "Program Header").
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace partitions {

struct ElfSegment {
    uint64_t vaddr;
    uint64_t paddr;
    uint64_t offset;      // in the file
    uint64_t file_size;
    uint64_t mem_size;    // >= file_size; the rest is zero-filled
    uint32_t flags;       // PF_X 1, PF_W 2, PF_R 4
};

inline constexpr size_t kMaxElfSegments = 16;

struct ElfImage {
    bool is64;
    uint64_t entry;
    ElfSegment segments[kMaxElfSegments];
    size_t segment_count;
    uint64_t lowest_vaddr, highest_vaddr;   // span of the PT_LOAD segments, [lowest, highest)
    uint64_t lowest_paddr, highest_paddr;
};

enum class ElfError {
    ok,
    too_small,
    bad_magic,
    unsupported_class,
    not_little_endian,
    not_executable,
    wrong_machine,
    bad_program_headers,
    too_many_segments,
    segment_outside_file,
    segment_overflow,
    memsz_smaller_than_filesz,
    no_loadable_segment,
    entry_outside_segments,
    overlapping_segments,
};

[[nodiscard]] const char* describe(ElfError e);
[[nodiscard]] ElfError parse_elf(const uint8_t* data, size_t size, ElfImage& out);

} // namespace partitions
