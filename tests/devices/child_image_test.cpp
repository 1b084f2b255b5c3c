// child_image: one entry decides between a Multiboot 1 kernel and an ELF64 kernel linked like
// our partition images (partitions/rt/partition.ld), or names what is wrong with the image.
#include "partitions/devices/child_image.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace devices;

namespace {

using Bytes = std::vector<uint8_t>;

template <class T> void put(Bytes& v, size_t o, T x) {
    std::memcpy(&v[o], &x, sizeof x);
}

void mb_header(Bytes& f, size_t off, uint32_t flags, uint32_t checksum_error = 0) {
    put<uint32_t>(f, off, multiboot1_magic);
    put<uint32_t>(f, off + 4, flags);
    put<uint32_t>(f, off + 8, 0u - multiboot1_magic - flags + checksum_error);
}

struct Seg {
    uint32_t flags;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

// A minimal ELF executable (gABI); program headers at 64. ELF32 only for the dispatch tests.
Bytes elf(bool is64, uint64_t entry, const std::vector<Seg>& segs, size_t size = 0x4000) {
    Bytes f(size, 0);
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', static_cast<uint8_t>(is64 ? 2 : 1), 1, 1};
    std::memcpy(f.data(), ident, sizeof ident);
    put<uint16_t>(f, 16, 2);
    put<uint16_t>(f, 18, is64 ? 62 : 3);
    if (!is64) {
        put<uint32_t>(f, 24, static_cast<uint32_t>(entry));
        put<uint32_t>(f, 28, 64);
        put<uint16_t>(f, 42, 32);
        put<uint16_t>(f, 44, static_cast<uint16_t>(segs.size()));
        for (size_t i = 0; i < segs.size(); i++) {
            size_t o = 64 + 32 * i;
            const uint32_t ph[] = {1,
                                   static_cast<uint32_t>(segs[i].offset),
                                   static_cast<uint32_t>(segs[i].vaddr),
                                   static_cast<uint32_t>(segs[i].paddr),
                                   static_cast<uint32_t>(segs[i].filesz),
                                   static_cast<uint32_t>(segs[i].memsz),
                                   segs[i].flags};
            std::memcpy(&f[o], ph, sizeof ph);
        }
        return f;
    }
    put<uint64_t>(f, 24, entry);
    put<uint64_t>(f, 32, 64);
    put<uint16_t>(f, 54, 56);
    put<uint16_t>(f, 56, static_cast<uint16_t>(segs.size()));
    for (size_t i = 0; i < segs.size(); i++) {
        size_t o = 64 + 56 * i;
        put<uint32_t>(f, o, 1);
        put<uint32_t>(f, o + 4, segs[i].flags);
        const uint64_t rest[] = {segs[i].offset, segs[i].vaddr, segs[i].paddr, segs[i].filesz, segs[i].memsz};
        std::memcpy(&f[o + 8], rest, sizeof rest);
    }
    return f;
}

constexpr uint64_t kvma = 0xFFFFFFFF80000000ull;

// Like a partition image: text at KERNEL_VMA + 1 MiB, data after it, physical = virtual - KERNEL_VMA.
Bytes partition_image(uint64_t text_phys = 0x100000) {
    return elf(true, kvma + text_phys + 0x10,
               {{5, 0x1000, kvma + text_phys, text_phys, 0x1000, 0x1000},
                {6, 0x2000, kvma + text_phys + 0x1000, text_phys + 0x1000, 0x800, 0x10000}});
}

// An a.out-kludge Multiboot kernel at 1 MiB.
Bytes multiboot_image() {
    Bytes f(0x3000, 0x90);
    mb_header(f, 0x40, (1u << 16) | 3);
    const uint32_t addrs[] = {0x100040, 0x100000, 0x102000, 0x105000, 0x100080};
    std::memcpy(&f[0x4c], addrs, sizeof addrs);
    return f;
}

struct Child {
    Bytes image;
    std::vector<GuestRange> map = {{0, 0x9fc00, mmap_available},
                                   {0x100000, (256ull << 20) - 0x100000, mmap_available}};
    Bytes info = Bytes(4096);
    ChildRequest r;
    ChildPlan plan;

    explicit Child(Bytes img) : image(std::move(img)) {
        r.image.image = image.data();
        r.image.image_size = image.size();
        r.image.memory = map.data();
        r.image.memory_count = map.size();
        r.image.info_gpa = 0x9000;
        r.image.info = info.data();
        r.image.info_capacity = info.size();
    }
    ChildError run() {
        r.image.memory = map.data();
        r.image.memory_count = map.size();
        return plan_child(r, plan);
    }
};

} // namespace

TEST(ChildImage, MultibootKernelsGoThroughTheMultibootLoader) {
    Child c(multiboot_image());
    ASSERT_EQ(c.run(), ChildError::ok);
    EXPECT_EQ(c.plan.kind, ChildKind::multiboot1);
    EXPECT_EQ(c.plan.multiboot1.entry.rax, multiboot1_loader_magic);
    EXPECT_EQ(c.plan.multiboot1.entry.rip, 0x100080u);
    EXPECT_FALSE(c.plan.multiboot1.entry.long_mode);
}

TEST(ChildImage, MultibootErrorsAreNamed) {
    Child c(multiboot_image());
    c.r.image.info_capacity = 16;
    EXPECT_EQ(c.run(), ChildError::multiboot1);
    EXPECT_EQ(c.plan.multiboot1_error, Multiboot1Error::info_too_small);
    EXPECT_STREQ(describe(c.plan), describe(Multiboot1Error::info_too_small));
}

TEST(ChildImage, Elf64PartitionImagePlan) {
    Child c(partition_image());
    ASSERT_EQ(c.run(), ChildError::ok) << describe(c.plan);
    EXPECT_EQ(c.plan.kind, ChildKind::elf64);
    const Elf64Plan& p = c.plan.elf64;
    ASSERT_EQ(p.load.count, 2u);
    EXPECT_EQ(p.load.copies[0].dest, 0x100000u);
    EXPECT_EQ(p.load.copies[0].offset, 0x1000u);
    EXPECT_EQ(p.load.copies[1].dest, 0x101000u);
    EXPECT_EQ(p.load.copies[1].zero_length, 0x10000u - 0x800);
    EXPECT_EQ(p.image_start, 0x100000u);
    EXPECT_EQ(p.image_end, 0x111000u);
    EXPECT_EQ(p.paging.identity_limit, 256ull << 20);
    EXPECT_EQ(p.paging.window_virt, kvma);
    EXPECT_EQ(p.paging.window_phys, 0u);
    EXPECT_EQ(p.paging.window_size, 2ull << 20);
}

TEST(ChildImage, Elf64EntryStateIsLongMode) {
    Child c(partition_image());
    ASSERT_EQ(c.run(), ChildError::ok);
    const EntryState& e = c.plan.elf64.entry;
    EXPECT_TRUE(e.long_mode);
    EXPECT_EQ(e.rip, kvma + 0x100010);
    EXPECT_EQ(e.cr0 & 0x80000001u, 0x80000001u);
    EXPECT_EQ(e.cr4 & 0x20, 0x20u);
    EXPECT_EQ(e.efer & 0x500, 0x500u);
    EXPECT_EQ(e.cs.attributes & 0x600, 0x200) << "L set, D/B clear";
    EXPECT_EQ(e.cr3, 0u) << "the caller's tables";
}

TEST(ChildImage, Elf64PhysicalBias) {
    Child c(partition_image());
    c.r.elf64_phys_bias = 64ull << 20;
    ASSERT_EQ(c.run(), ChildError::ok);
    EXPECT_EQ(c.plan.elf64.load.copies[0].dest, (64ull << 20) + 0x100000);
    EXPECT_EQ(c.plan.elf64.paging.window_virt, kvma);
    EXPECT_EQ(c.plan.elf64.paging.window_phys, 64ull << 20);
    c.r.elf64_phys_bias = 0x1000;
    EXPECT_EQ(c.run(), ChildError::bad_bias);
}

TEST(ChildImage, Elf64WindowSpansEveryTwoMibPage) {
    Child c(elf(true, kvma + 0x1ff000, {{5, 0x1000, kvma + 0x1ff000, 0x1ff000, 0x1000, 0x3000}}));
    ASSERT_EQ(c.run(), ChildError::ok);
    EXPECT_EQ(c.plan.elf64.paging.window_virt, kvma);
    EXPECT_EQ(c.plan.elf64.paging.window_size, 4ull << 20);
}

TEST(ChildImage, IdentityLinkedElf64NeedsNoWindow) {
    Child c(elf(true, 0x200010, {{5, 0x1000, 0x200000, 0x200000, 0x1000, 0x1000}}));
    ASSERT_EQ(c.run(), ChildError::ok);
    EXPECT_EQ(c.plan.elf64.paging.window_size, 0u);
    c.r.elf64_phys_bias = 2ull << 20; // would alias the identity map
    EXPECT_EQ(c.run(), ChildError::window_overlaps_identity);
}

TEST(ChildImage, MixedLinkOffsetsAreRefused) {
    Child c(elf(true, kvma + 0x100010,
                {{5, 0x1000, kvma + 0x100000, 0x100000, 0x1000, 0x1000},
                 {6, 0x2000, kvma + 0x101000, 0x300000, 0x100, 0x100}}));
    EXPECT_EQ(c.run(), ChildError::mixed_link_offsets);
}

TEST(ChildImage, LinkAndLoadMustAgreeModuloTwoMib) {
    Child c(elf(true, kvma + 0x101010, {{5, 0x1000, kvma + 0x101000, 0x100000, 0x1000, 0x1000}}));
    EXPECT_EQ(c.run(), ChildError::window_misaligned);
}

TEST(ChildImage, NonCanonicalSpan) {
    uint64_t v = 0x00007FFFFFE00000ull; // runs across the canonical hole
    Child c(elf(true, v, {{5, 0x1000, v, 0x200000, 0x1000, 0x400000}}));
    c.map = {{0, 1ull << 30, mmap_available}};
    EXPECT_EQ(c.run(), ChildError::non_canonical);
}

TEST(ChildImage, Elf64OutsideRam) {
    Child c(partition_image(0x20000000)); // 512 MiB, past the child's 256
    EXPECT_EQ(c.run(), ChildError::outside_ram);
    Child hole(partition_image(0xA0000));
    EXPECT_EQ(hole.run(), ChildError::outside_ram) << "the VGA hole";
    Child top(elf(true, kvma + 0x100000, {{5, 0x1000, kvma + 0x100000, 0x100000, 0x1000, 0x1000}}));
    top.r.elf64_phys_bias = ~0ull & ~((2ull << 20) - 1);
    EXPECT_EQ(top.run(), ChildError::outside_ram);
}

TEST(ChildImage, Elf64ParseErrorsAreNamed) {
    Bytes f = partition_image();
    f.resize(0x1800); // the data segment's bytes are missing
    Child c(f);
    EXPECT_EQ(c.run(), ChildError::elf);
    EXPECT_EQ(c.plan.elf_error, partitions::ElfError::segment_outside_file);
    EXPECT_STREQ(describe(c.plan), partitions::describe(partitions::ElfError::segment_outside_file));
}

TEST(ChildImage, OverlappingSegmentsAreRefused) {
    Child c(elf(true, kvma + 0x100010,
                {{5, 0x1000, kvma + 0x100000, 0x100000, 0x1000, 0x2000},
                 {6, 0x2000, kvma + 0x101000, 0x101000, 0x100, 0x100}}));
    EXPECT_EQ(c.run(), ChildError::elf);
    EXPECT_EQ(c.plan.elf_error, partitions::ElfError::overlapping_segments);
}

TEST(ChildImage, Elf32WithoutMultibootHeader) {
    Child c(elf(false, 0x100010, {{5, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000}}));
    EXPECT_EQ(c.run(), ChildError::elf32_without_multiboot);
    EXPECT_NE(std::string(describe(c.plan)).find("ELF32"), std::string::npos);
}

TEST(ChildImage, Elf32WithMultibootHeaderLoads) {
    Bytes f = elf(false, 0x100010, {{5, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000}});
    mb_header(f, 0x1000, 3);
    Child c(f);
    ASSERT_EQ(c.run(), ChildError::ok);
    EXPECT_EQ(c.plan.kind, ChildKind::multiboot1);
    EXPECT_EQ(c.plan.multiboot1.entry.rip, 0x100010u);
}

TEST(ChildImage, Elf64WithMultibootHeaderIsLoadedAsMultiboot) {
    Bytes f = elf(true, 0x100010, {{5, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000}});
    mb_header(f, 0x1000, 3);
    Child c(f);
    ASSERT_EQ(c.run(), ChildError::ok);
    EXPECT_EQ(c.plan.kind, ChildKind::multiboot1) << "as GRUB: the header decides";
}

TEST(ChildImage, BadMultibootChecksum) {
    Bytes f(0x2000, 0);
    mb_header(f, 0x100, 3, 1);
    Child c(f);
    EXPECT_EQ(c.run(), ChildError::multiboot1);
    EXPECT_EQ(c.plan.multiboot1_error, Multiboot1Error::bad_checksum);
    Bytes g = elf(false, 0x100010, {{5, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000}});
    mb_header(g, 0x1000, 3, 1);
    Child d(g);
    EXPECT_EQ(d.run(), ChildError::multiboot1);
}

TEST(ChildImage, StrayMagicInAnElf64IsNotAHeader) {
    Bytes f = partition_image();
    mb_header(f, 0x1100, 3, 5); // chance bytes in .text with a wrong checksum
    Child c(f);
    ASSERT_EQ(c.run(), ChildError::ok);
    EXPECT_EQ(c.plan.kind, ChildKind::elf64);
    EXPECT_EQ(c.plan.multiboot1_error, Multiboot1Error::ok);
}

TEST(ChildImage, UnrecognizedAndEmptyImages) {
    Child c(Bytes(0x1000, 0x42));
    EXPECT_EQ(c.run(), ChildError::unrecognized);
    EXPECT_EQ(c.plan.kind, ChildKind::none);
    Child e(Bytes{});
    e.r.image.image = nullptr;
    EXPECT_EQ(e.run(), ChildError::empty);
    Child tiny(Bytes{0x7f, 'E', 'L', 'F', 2});
    EXPECT_EQ(tiny.run(), ChildError::elf);
    EXPECT_EQ(tiny.plan.elf_error, partitions::ElfError::too_small);
}

TEST(ChildImage, TruncatedImagesNeverCrash) {
    const Bytes seeds[] = {partition_image(), multiboot_image()};
    for (const Bytes& s : seeds) {
        for (size_t n = 0; n <= s.size(); n += 7) {
            Child c(Bytes(s.begin(), s.begin() + static_cast<long>(n)));
            if (n == 0)
                c.r.image.image = nullptr;
            ChildError e = c.run();
            EXPECT_NE(describe(c.plan), nullptr);
            if (e == ChildError::ok && c.plan.kind == ChildKind::elf64) {
                for (size_t i = 0; i < c.plan.elf64.load.count; i++)
                    ASSERT_LE(c.plan.elf64.load.copies[i].offset + c.plan.elf64.load.copies[i].length, n);
            }
        }
    }
}
