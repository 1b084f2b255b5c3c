#include "partitions/elf.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using partitions::ElfError;
using partitions::ElfImage;
using partitions::parse_elf;

namespace {

struct Seg {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

// Builds a minimal ELF64 executable: header, program headers, then `payload` bytes.
std::vector<uint8_t> elf64(uint64_t entry, const std::vector<Seg>& segs, size_t payload = 0x2000) {
    size_t phoff = 64, size = phoff + 56 * segs.size() + payload;
    std::vector<uint8_t> f(size);
    uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    std::memcpy(f.data(), ident, 16);
    auto put16 = [&](size_t o, uint16_t v) { std::memcpy(&f[o], &v, 2); };
    auto put32 = [&](size_t o, uint32_t v) { std::memcpy(&f[o], &v, 4); };
    auto put64 = [&](size_t o, uint64_t v) { std::memcpy(&f[o], &v, 8); };
    put16(16, 2);
    put16(18, 62);
    put32(20, 1);
    put64(24, entry);
    put64(32, phoff);
    put16(52, 64);
    put16(54, 56);
    put16(56, static_cast<uint16_t>(segs.size()));
    for (size_t i = 0; i < segs.size(); i++) {
        size_t o = phoff + 56 * i;
        put32(o, segs[i].type);
        put32(o + 4, segs[i].flags);
        put64(o + 8, segs[i].offset);
        put64(o + 16, segs[i].vaddr);
        put64(o + 24, segs[i].paddr);
        put64(o + 32, segs[i].filesz);
        put64(o + 40, segs[i].memsz);
    }
    return f;
}

const Seg text{1, 5, 0x100, 0xffffffff80100000, 0x100000, 0x800, 0x800};
const Seg data{1, 6, 0x900, 0xffffffff80101000, 0x101000, 0x100, 0x4000};

} // namespace

TEST(Elf, ParsesTwoSegments) {
    auto f = elf64(0xffffffff80100010, {text, data});
    ElfImage img;
    ASSERT_EQ(parse_elf(f.data(), f.size(), img), ElfError::ok);
    EXPECT_TRUE(img.is64);
    EXPECT_EQ(img.segment_count, 2u);
    EXPECT_EQ(img.lowest_paddr, 0x100000u);
    EXPECT_EQ(img.highest_paddr, 0x105000u);
    EXPECT_EQ(img.segments[1].mem_size, 0x4000u);
}

TEST(Elf, SkipsNonLoadSegments) {
    Seg note{4, 4, 0x100, 0, 0, 0x10, 0x10};
    auto f = elf64(0xffffffff80100010, {note, text});
    ElfImage img;
    ASSERT_EQ(parse_elf(f.data(), f.size(), img), ElfError::ok);
    EXPECT_EQ(img.segment_count, 1u);
}

TEST(Elf, RejectsMalformedHeaders) {
    ElfImage img;
    auto f = elf64(0xffffffff80100010, {text});
    EXPECT_EQ(parse_elf(f.data(), 10, img), ElfError::too_small);
    EXPECT_EQ(parse_elf(nullptr, 100, img), ElfError::too_small);
    auto g = f;
    g[1] = 'X';
    EXPECT_EQ(parse_elf(g.data(), g.size(), img), ElfError::bad_magic);
    g = f;
    g[4] = 3;
    EXPECT_EQ(parse_elf(g.data(), g.size(), img), ElfError::unsupported_class);
    g = f;
    g[5] = 2;
    EXPECT_EQ(parse_elf(g.data(), g.size(), img), ElfError::not_little_endian);
    g = f;
    g[16] = 3;   // ET_DYN
    EXPECT_EQ(parse_elf(g.data(), g.size(), img), ElfError::not_executable);
    g = f;
    g[18] = 40;  // ARM
    EXPECT_EQ(parse_elf(g.data(), g.size(), img), ElfError::wrong_machine);
}

TEST(Elf, RejectsProgramHeaderTableOutsideFile) {
    auto f = elf64(0xffffffff80100010, {text});
    uint64_t off = ~0ull - 8;
    std::memcpy(&f[32], &off, 8);
    ElfImage img;
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::bad_program_headers);
    f = elf64(0xffffffff80100010, {text});
    uint16_t n = 0xffff;
    std::memcpy(&f[56], &n, 2);
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::bad_program_headers);
}

TEST(Elf, RejectsBadSegments) {
    ElfImage img;
    Seg s = text;
    s.offset = 0x100000;
    auto f = elf64(0xffffffff80100010, {s});
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::segment_outside_file);
    s = text;
    s.offset = ~0ull - 4;
    f = elf64(0xffffffff80100010, {s});
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::segment_outside_file);
    s = text;
    s.memsz = 0x10;
    f = elf64(0xffffffff80100010, {s});
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::memsz_smaller_than_filesz);
    s = text;
    s.vaddr = ~0ull - 0x10;
    f = elf64(~0ull - 8, {s});
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::segment_overflow);
}

TEST(Elf, RejectsOverlapsMissingEntryAndEmptyImages) {
    ElfImage img;
    Seg d = data;
    d.paddr = text.paddr + 0x10;
    auto f = elf64(0xffffffff80100010, {text, d});
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::overlapping_segments);
    f = elf64(0xffffffff80101010, {text, data});   // entry in the non-executable data segment
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::entry_outside_segments);
    Seg note{4, 4, 0x100, 0, 0, 0x10, 0x10};
    f = elf64(0, {note});
    EXPECT_EQ(parse_elf(f.data(), f.size(), img), ElfError::no_loadable_segment);
}

TEST(Elf, EveryErrorHasADescription) {
    for (int e = 0; e <= static_cast<int>(ElfError::overlapping_segments); e++)
        EXPECT_STRNE(partitions::describe(static_cast<ElfError>(e)), "unknown ELF error");
}
