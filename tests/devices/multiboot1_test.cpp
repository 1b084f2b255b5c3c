// Multiboot 1 loading (spec 0.6.96): header search (3.1.1), flags (3.1.2), the a.out kludge and
// ELF placement (3.1.3), the boot information layout (3.3), entry state (3.2), and hostile
// images and requests.
#include "partitions/devices/multiboot1.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace devices;

namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& v, size_t o, uint16_t x) {
    std::memcpy(&v[o], &x, 2);
}
void put32(Bytes& v, size_t o, uint32_t x) {
    std::memcpy(&v[o], &x, 4);
}
void put64(Bytes& v, size_t o, uint64_t x) {
    std::memcpy(&v[o], &x, 8);
}
uint32_t get32(const Bytes& v, size_t o) {
    uint32_t x;
    std::memcpy(&x, &v[o], 4);
    return x;
}
uint64_t get64(const Bytes& v, size_t o) {
    uint64_t x;
    std::memcpy(&x, &v[o], 8);
    return x;
}

void mb_header(Bytes& f, size_t off, uint32_t flags) {
    put32(f, off, multiboot1_magic);
    put32(f, off + 4, flags);
    put32(f, off + 8, 0u - multiboot1_magic - flags);
}

constexpr uint32_t kludge = 1u << 16;

// An a.out-kludge kernel: file offset 0 loads at 0x100000, header at file offset 0x40.
struct Aout {
    size_t size = 0x3000, at = 0x40;
    uint32_t flags = kludge | 3;
    uint32_t header_addr = 0x100040, load_addr = 0x100000, load_end = 0x102000, bss_end = 0x105000,
             entry = 0x100080;
    Bytes build() const {
        Bytes f(size, 0x90);
        mb_header(f, at, flags);
        if (at + 32 <= size) {
            put32(f, at + 12, header_addr);
            put32(f, at + 16, load_addr);
            put32(f, at + 20, load_end);
            put32(f, at + 24, bss_end);
            put32(f, at + 28, entry);
        }
        return f;
    }
};

struct Seg {
    uint32_t flags;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

// A minimal ELF executable (gABI "ELF Header", "Program Header"); program headers at 64.
Bytes elf(bool is64, uint64_t entry, const std::vector<Seg>& segs, size_t size = 0x4000) {
    Bytes f(size, 0);
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', static_cast<uint8_t>(is64 ? 2 : 1), 1, 1};
    std::memcpy(f.data(), ident, sizeof ident);
    put16(f, 16, 2);
    put16(f, 18, is64 ? 62 : 3);
    put32(f, 20, 1);
    size_t ph = 64, phsize = is64 ? 56 : 32;
    if (is64) {
        put64(f, 24, entry);
        put64(f, 32, ph);
        put16(f, 54, 56);
        put16(f, 56, static_cast<uint16_t>(segs.size()));
    } else {
        put32(f, 24, static_cast<uint32_t>(entry));
        put32(f, 28, static_cast<uint32_t>(ph));
        put16(f, 42, 32);
        put16(f, 44, static_cast<uint16_t>(segs.size()));
    }
    for (size_t i = 0; i < segs.size(); i++) {
        size_t o = ph + phsize * i;
        const Seg& s = segs[i];
        put32(f, o, 1);
        if (is64) {
            put32(f, o + 4, s.flags);
            put64(f, o + 8, s.offset);
            put64(f, o + 16, s.vaddr);
            put64(f, o + 24, s.paddr);
            put64(f, o + 32, s.filesz);
            put64(f, o + 40, s.memsz);
        } else {
            put32(f, o + 4, static_cast<uint32_t>(s.offset));
            put32(f, o + 8, static_cast<uint32_t>(s.vaddr));
            put32(f, o + 12, static_cast<uint32_t>(s.paddr));
            put32(f, o + 16, static_cast<uint32_t>(s.filesz));
            put32(f, o + 20, static_cast<uint32_t>(s.memsz));
            put32(f, o + 24, s.flags);
        }
    }
    return f;
}

// A higher-half ELF32 kernel (linked at 0xC0100000, loaded at 1 MiB) with its header at 0x1000.
Bytes elf32_kernel(uint32_t mb_flags = 3) {
    Bytes f = elf(false, 0xC0100010,
                  {{5, 0x1000, 0xC0100000, 0x100000, 0x1000, 0x1000},
                   {6, 0x2000, 0xC0101000, 0x101000, 0x800, 0x3000}});
    mb_header(f, 0x1000, mb_flags);
    return f;
}

std::vector<GuestRange> pc_map(uint64_t ram = 128 << 20) {
    return {{0, 0x9fc00, mmap_available},
            {0x9fc00, 0x400, mmap_reserved},
            {0xf0000, 0x10000, mmap_reserved},
            {0x100000, ram - 0x100000, mmap_available}};
}

constexpr uint64_t info_gpa = 0x9000;

struct Load {
    Bytes image;
    std::vector<GuestRange> map = pc_map();
    std::vector<BootModule> mods;
    Bytes info = Bytes(8192, 0xee);
    Multiboot1Request r;
    Multiboot1Plan plan;

    explicit Load(Bytes img) : image(std::move(img)) {}
    Multiboot1Request& request() {
        r.image = image.data();
        r.image_size = image.size();
        r.cmdline = "kernel console=ttyS0";
        r.memory = map.data();
        r.memory_count = map.size();
        r.modules = mods.data();
        r.module_count = mods.size();
        r.info_gpa = info_gpa;
        r.info = info.data();
        r.info_capacity = info.size();
        return r;
    }
    Multiboot1Error run() {
        request();
        return plan_multiboot1(r, plan);
    }
    uint32_t field(size_t off) const { return get32(info, off); }
    std::string string_at(uint32_t gpa) const { return reinterpret_cast<const char*>(&info[gpa - info_gpa]); }
    const LoadCopy* copy_of(CopySource s, uint32_t module = 0) const {
        for (size_t i = 0; i < plan.load.count; i++)
            if (plan.load.copies[i].source == s && plan.load.copies[i].module == module)
                return &plan.load.copies[i];
        return nullptr;
    }
};

} // namespace

TEST(Multiboot1Header, FoundAtAnAlignedOffset) {
    Bytes f(0x400, 0);
    mb_header(f, 0x100, 3);
    Multiboot1Header h;
    ASSERT_EQ(find_multiboot1_header(f.data(), f.size(), h), Multiboot1Error::ok);
    EXPECT_EQ(h.offset, 0x100u);
    EXPECT_EQ(h.flags, 3u);
}

TEST(Multiboot1Header, UnalignedMagicIsNotAHeader) {
    Bytes f(0x400, 0);
    mb_header(f, 0x102, 3);
    Multiboot1Header h;
    EXPECT_EQ(find_multiboot1_header(f.data(), f.size(), h), Multiboot1Error::no_header);
}

TEST(Multiboot1Header, MustLieWithinTheFirst8192Bytes) {
    Bytes f(0x4000, 0);
    mb_header(f, 8192 - 12, 0);
    Multiboot1Header h;
    ASSERT_EQ(find_multiboot1_header(f.data(), f.size(), h), Multiboot1Error::ok);
    EXPECT_EQ(h.offset, 8180u);
    Bytes g(0x4000, 0);
    mb_header(g, 8192 - 8, 0); // runs past 8192
    mb_header(g, 8192, 0);
    EXPECT_EQ(find_multiboot1_header(g.data(), g.size(), h), Multiboot1Error::no_header);
}

TEST(Multiboot1Header, BadChecksumIsReportedUnlessAGoodHeaderFollows) {
    Bytes f(0x400, 0);
    mb_header(f, 0x20, 3);
    put32(f, 0x28, get32(f, 0x28) + 1);
    Multiboot1Header h;
    EXPECT_EQ(find_multiboot1_header(f.data(), f.size(), h), Multiboot1Error::bad_checksum);
    mb_header(f, 0x80, 2);
    ASSERT_EQ(find_multiboot1_header(f.data(), f.size(), h), Multiboot1Error::ok);
    EXPECT_EQ(h.offset, 0x80u);
}

TEST(Multiboot1Header, TruncatedFiles) {
    Bytes f(12, 0);
    mb_header(f, 0, 0);
    Multiboot1Header h;
    EXPECT_EQ(find_multiboot1_header(f.data(), 12, h), Multiboot1Error::ok);
    EXPECT_EQ(find_multiboot1_header(f.data(), 11, h), Multiboot1Error::no_header);
    EXPECT_EQ(find_multiboot1_header(f.data(), 0, h), Multiboot1Error::no_header);
    EXPECT_EQ(find_multiboot1_header(nullptr, 100, h), Multiboot1Error::no_header);
}

TEST(Multiboot1, AoutKludgePlan) {
    Load l(Aout{}.build());
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    const LoadCopy* k = l.copy_of(CopySource::kernel);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->offset, 0u);
    EXPECT_EQ(k->length, 0x2000u);
    EXPECT_EQ(k->dest, 0x100000u);
    EXPECT_EQ(k->zero_length, 0x3000u);
    EXPECT_EQ(l.plan.kernel_start, 0x100000u);
    EXPECT_EQ(l.plan.kernel_end, 0x105000u);
    EXPECT_EQ(l.plan.entry.rip, 0x100080u);
}

TEST(Multiboot1, AoutLoadOffsetFollowsTheHeader) {
    Aout a; // the header sits 0x1040 into the file but 0x40 into the loaded image
    a.at = 0x1040;
    a.size = 0x4000;
    Load l(a.build());
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    EXPECT_EQ(l.copy_of(CopySource::kernel)->offset, 0x1000u);
}

TEST(Multiboot1, AoutZeroEndsMeanRestOfFileAndNoBss) {
    Aout a;
    a.load_end = 0;
    a.bss_end = 0;
    Load l(a.build());
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    EXPECT_EQ(l.copy_of(CopySource::kernel)->length, 0x3000u);
    EXPECT_EQ(l.copy_of(CopySource::kernel)->zero_length, 0u);
}

TEST(Multiboot1, AoutInconsistentAddressesAreRefused) {
    auto run = [](Aout a) { return Load(a.build()).run(); };
    Aout a;
    a.load_addr = 0x100100; // above header_addr
    EXPECT_EQ(run(a), Multiboot1Error::bad_address_fields);
    a = Aout{};
    a.header_addr = 0x101000; // would start loading before the file
    EXPECT_EQ(run(a), Multiboot1Error::bad_address_fields);
    a = Aout{};
    a.load_end = 0xfffff;
    EXPECT_EQ(run(a), Multiboot1Error::bad_address_fields);
    a = Aout{};
    a.bss_end = 0x101000; // below load_end
    EXPECT_EQ(run(a), Multiboot1Error::bad_address_fields);
    a = Aout{};
    a.entry = 0x105000;
    EXPECT_EQ(run(a), Multiboot1Error::entry_outside_image);
}

TEST(Multiboot1, AoutLoadPastTheEndOfTheFile) {
    Aout a;
    a.load_end = 0x104000;
    EXPECT_EQ(Load(a.build()).run(), Multiboot1Error::load_outside_file);
    a.load_end = 0xffffffff;
    a.bss_end = 0;
    EXPECT_EQ(Load(a.build()).run(), Multiboot1Error::load_outside_file);
}

TEST(Multiboot1, AoutAddressFieldsMustBeInTheFile) {
    Aout a;
    a.size = 0x50; // header at 0x40: only 16 bytes of it
    EXPECT_EQ(Load(a.build()).run(), Multiboot1Error::header_truncated);
}

TEST(Multiboot1, ElfLoadsAtPhysicalAddressesAndTranslatesTheEntry) {
    Load l(elf32_kernel());
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    ASSERT_EQ(l.plan.load.count, 3u); // two segments and the info block
    const LoadCopy& text = l.plan.load.copies[0];
    EXPECT_EQ(text.dest, 0x100000u);
    EXPECT_EQ(text.offset, 0x1000u);
    EXPECT_EQ(text.length, 0x1000u);
    const LoadCopy& data = l.plan.load.copies[1];
    EXPECT_EQ(data.dest, 0x101000u);
    EXPECT_EQ(data.zero_length, 0x2800u);
    EXPECT_EQ(l.plan.entry.rip, 0x100010u);
    EXPECT_EQ(l.plan.kernel_end, 0x104000u);
}

TEST(Multiboot1, NotElfWithoutAddressFields) {
    Bytes f(0x1000, 0);
    mb_header(f, 0, 3);
    Load l(f);
    EXPECT_EQ(l.run(), Multiboot1Error::elf);
    EXPECT_EQ(l.plan.elf_error, partitions::ElfError::bad_magic);
}

TEST(Multiboot1, UnknownRequiredFlagsAreRefused) {
    for (uint32_t bit = 3; bit < 16; bit++) {
        Aout a;
        a.flags = kludge | (1u << bit);
        EXPECT_EQ(Load(a.build()).run(), Multiboot1Error::unsupported_required_flags) << bit;
    }
}

TEST(Multiboot1, UnknownOptionalFlagsAreIgnored) {
    Aout a;
    a.flags = kludge | (1u << 20) | (1u << 31) | 1;
    EXPECT_EQ(Load(a.build()).run(), Multiboot1Error::ok);
}

TEST(Multiboot1, VideoRequestRefusedUnlessIgnored) {
    Aout a;
    a.flags = kludge | 4;
    Load l(a.build());
    EXPECT_EQ(l.run(), Multiboot1Error::video_required);
    l.request().ignore_video_request = true;
    ASSERT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::ok);
    EXPECT_EQ(l.field(0) & ((1u << 11) | (1u << 12)), 0u) << "no video information offered";
}

TEST(Multiboot1, InfoStructureLayout) {
    Load l(Aout{}.build());
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    uint32_t flags = l.field(0);
    EXPECT_EQ(flags, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    EXPECT_EQ(l.field(4), 639u);                // mem_lower, KiB from 0
    EXPECT_EQ(l.field(8), (127u << 20) / 1024); // mem_upper, KiB from 1 MiB
    EXPECT_EQ(l.string_at(l.field(16)), "kernel console=ttyS0");
    EXPECT_EQ(l.field(20), 0u);                // mods_count
    EXPECT_EQ(l.string_at(l.field(64)), "hv"); // boot_loader_name
    for (size_t off : {12, 28, 32, 36, 40, 52, 56, 60, 68, 72, 76, 88, 96, 100, 104, 108, 112})
        EXPECT_EQ(l.field(off), 0u) << off;
    EXPECT_LE(l.plan.info_size, l.info.size());
    EXPECT_EQ(l.info[l.plan.info_size], 0xee) << "nothing written past info_size";
    const LoadCopy* c = l.copy_of(CopySource::info);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->dest, info_gpa);
    EXPECT_EQ(c->length, l.plan.info_size);
}

TEST(Multiboot1, MemoryMapEntries) {
    Load l(Aout{}.build());
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    ASSERT_EQ(l.field(44), 24u * l.map.size()); // mmap_length counts the size fields
    size_t at = l.field(48) - info_gpa;
    for (const GuestRange& g : l.map) {
        EXPECT_EQ(get32(l.info, at), 20u);
        EXPECT_EQ(get64(l.info, at + 4), g.base);
        EXPECT_EQ(get64(l.info, at + 12), g.length);
        EXPECT_EQ(get32(l.info, at + 20), g.type);
        at += get32(l.info, at) + 4; // how a kernel walks it
    }
}

TEST(Multiboot1, ModulesArePageAlignedAfterTheKernel) {
    Bytes m1(5000, 1), m2(10, 2);
    Load l(Aout{}.build());
    l.mods = {{m1.data(), m1.size(), "initrd"}, {m2.data(), m2.size(), nullptr}};
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    EXPECT_EQ(l.field(20), 2u);
    size_t mods = l.field(24) - info_gpa;
    EXPECT_EQ(get32(l.info, mods), 0x105000u);
    EXPECT_EQ(get32(l.info, mods + 4), 0x105000u + 5000); // mod_end is exclusive
    EXPECT_EQ(l.string_at(get32(l.info, mods + 8)), "initrd");
    EXPECT_EQ(get32(l.info, mods + 16), 0x107000u);
    EXPECT_EQ(l.string_at(get32(l.info, mods + 24)), "");
    const LoadCopy* c = l.copy_of(CopySource::module, 1);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->dest, 0x107000u);
    EXPECT_EQ(c->length, 10u);
}

TEST(Multiboot1, ModulesAtTheCallersAddress) {
    Bytes m(100, 1);
    Load l(Aout{}.build());
    l.mods = {{m.data(), m.size(), "a"}};
    l.request().modules_gpa = 0x800000;
    ASSERT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::ok);
    EXPECT_EQ(l.copy_of(CopySource::module)->dest, 0x800000u);
    l.r.modules_gpa = 0x800010;
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::bad_request);
}

TEST(Multiboot1, ModulesStepOverTheInfoBlock) {
    Bytes m(100, 1);
    Load l(Aout{}.build());
    l.mods = {{m.data(), m.size(), "a"}};
    l.request().info_gpa = 0x105000; // right where the module would go
    ASSERT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::ok);
    ASSERT_LT(l.plan.info_size, 0x1000u);
    EXPECT_EQ(l.copy_of(CopySource::module)->dest, 0x106000u);
}

TEST(Multiboot1, EmptyModuleHasNoCopy) {
    Load l(Aout{}.build());
    l.mods = {{nullptr, 0, "empty"}};
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    EXPECT_EQ(l.copy_of(CopySource::module), nullptr);
    size_t mods = l.field(24) - info_gpa;
    EXPECT_EQ(get32(l.info, mods), get32(l.info, mods + 4));
}

TEST(Multiboot1, EntryState) {
    Load l(Aout{}.build());
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    const EntryState& e = l.plan.entry;
    EXPECT_FALSE(e.long_mode);
    EXPECT_EQ(e.rax, 0x2BADB002u);
    EXPECT_EQ(e.rbx, info_gpa);
    EXPECT_EQ(e.cr0 & 0x80000001u, 1u) << "PE on, PG off";
    EXPECT_EQ(e.rflags & ((1u << 9) | (1u << 17)), 0u) << "IF and VM clear";
    EXPECT_EQ(e.cs.base, 0u);
    EXPECT_EQ(e.cs.limit, 0xffffffffu);
    EXPECT_EQ(e.cs.attributes & 0x8, 0x8) << "code";
    EXPECT_EQ(e.cs.attributes & 0x400, 0x400) << "32-bit";
    EXPECT_EQ(e.data.attributes & 0xa, 0x2) << "writable data";
    EXPECT_EQ(e.cr4 | e.efer | e.cr3, 0u);
}

TEST(Multiboot1, InfoBufferTooSmall) {
    Load l(Aout{}.build());
    l.request().info_capacity = 100;
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::info_too_small);
    l.r.info = nullptr;
    l.r.info_capacity = 8192;
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::info_too_small);
    EXPECT_GT(multiboot1_info_size(l.r), 100u);
}

TEST(Multiboot1, KernelInAHoleIsOutsideRam) {
    Aout a; // 0xA0000: VGA hole, not in the map
    a.header_addr = 0xA0040;
    a.load_addr = 0xA0000;
    a.load_end = 0xA2000;
    a.bss_end = 0xA5000;
    a.entry = 0xA0080;
    EXPECT_EQ(Load(a.build()).run(), Multiboot1Error::outside_ram);
}

TEST(Multiboot1, KernelBeyondRam) {
    Aout a;
    Load l(a.build());
    l.map = pc_map(0x104000); // bss runs past the end of RAM
    EXPECT_EQ(l.run(), Multiboot1Error::outside_ram);
}

TEST(Multiboot1, AdjacentRamRangesJoin) {
    Load l(Aout{}.build());
    l.map = {{0, 0x9fc00, 1}, {0x100000, 0x3000, 1}, {0x103000, 0x1000000, 1}};
    ASSERT_EQ(l.run(), Multiboot1Error::ok);
    EXPECT_EQ(l.field(8), (0x1103000u - 0x100000) / 1024);
    EXPECT_TRUE(in_available_ram(l.map.data(), 3, 0x102000, 0x2000));
    EXPECT_FALSE(in_available_ram(l.map.data(), 3, 0x9f000, 0x1000));
}

TEST(Multiboot1, Elf64SegmentsAbove4GibAreRefused) {
    Bytes f = elf(true, 0x100000000ull, {{5, 0x1000, 0x100000000ull, 0x100000000ull, 0x1000, 0x1000}});
    mb_header(f, 0x1000, 3);
    Load l(f);
    l.map.push_back({0x100000000ull, 1ull << 30, 1});
    EXPECT_EQ(l.run(), Multiboot1Error::above_4gib);
}

TEST(Multiboot1, InfoOverlappingTheKernel) {
    Load l(Aout{}.build());
    l.request().info_gpa = 0x101000;
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::overlap);
}

TEST(Multiboot1, MalformedRequests) {
    Load l(Aout{}.build());
    l.request().info_gpa = 0x9004;
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::bad_request);
    l.request().image = nullptr;
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::bad_request);
    l.request().module_count = multiboot1_max_modules + 1;
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::bad_request);
    Bytes m(10);
    l.mods = {{nullptr, 10, "x"}};
    EXPECT_EQ(l.run(), Multiboot1Error::bad_request);
    l.mods = {{m.data(), 1ull << 32, "x"}};
    EXPECT_EQ(l.run(), Multiboot1Error::bad_request);
}

TEST(Multiboot1, MalformedMemoryMaps) {
    Load l(Aout{}.build());
    l.map.push_back({0x200000000ull, 0, 1});
    EXPECT_EQ(l.run(), Multiboot1Error::bad_memory_map);
    l.map.back() = {~0ull - 10, 100, 1};
    EXPECT_EQ(l.run(), Multiboot1Error::bad_memory_map);
    l.map.assign(multiboot1_max_ranges + 1, {0, 1, 2});
    EXPECT_EQ(l.run(), Multiboot1Error::bad_memory_map);
}

TEST(Multiboot1, OverlongCommandLine) {
    Load l(Aout{}.build());
    std::string huge(70000, 'x');
    l.request().cmdline = huge.c_str();
    EXPECT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::string_too_long);
}

TEST(Multiboot1, NoLowMemoryReportsZero) {
    Load l(Aout{}.build());
    l.map = {{0x100000, 0x1000000, 1}};
    l.request().info_gpa = 0x200000;
    ASSERT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::ok);
    EXPECT_EQ(l.field(4), 0u);
    EXPECT_EQ(l.field(8), 0x1000000u / 1024);
}

TEST(Multiboot1, NullCommandLineAndLoaderName) {
    Load l(Aout{}.build());
    l.request().cmdline = nullptr;
    l.r.loader_name = nullptr;
    ASSERT_EQ(plan_multiboot1(l.r, l.plan), Multiboot1Error::ok);
    EXPECT_EQ(l.string_at(l.field(16)), "");
    EXPECT_EQ(l.field(0) & (1u << 9), 0u);
    EXPECT_STRNE(describe(Multiboot1Error::overlap), "");
}

// Mutated images and headers: every outcome is an error code or a consistent plan, and the
// sanitizers see no out-of-bounds access.
TEST(Multiboot1, MutatedImagesAreSafe) {
    const Bytes seeds[] = {Aout{}.build(), elf32_kernel()};
    uint64_t x = 0x243f6a8885a308d3ull;
    for (int round = 0; round < 3000; round++) {
        Bytes f = seeds[round % 2];
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (x >> 16) % (round % 3 == 0 ? f.size() : 0x1080);
            f[at] = static_cast<uint8_t>(x);
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        f.resize(f.size() - (x % 64 == 0 ? (x >> 8) % f.size() : 0));
        Load l(f);
        if (l.run() != Multiboot1Error::ok)
            continue;
        for (size_t i = 0; i < l.plan.load.count; i++) {
            const LoadCopy& c = l.plan.load.copies[i];
            if (c.source == CopySource::kernel) {
                ASSERT_LE(c.offset + c.length, f.size());
            }
            ASSERT_TRUE(in_available_ram(l.map.data(), l.map.size(), c.dest, c.length + c.zero_length));
        }
    }
}
