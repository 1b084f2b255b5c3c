// Xen PVH hvm_start_info parsing through a fake physical memory.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "boot/pvh.hpp"
#include "fake_phys_mem.hpp"

using boot::BootInfo;
using boot::PvhError;
using hvtest::FakePhysMem;
using hvtest::fix_checksum;
using hvtest::put32;
using hvtest::put64;

namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t start_info = 0x8000, memmap_at = 0x9000, modlist_at = 0xA000, cmdline_at = 0xB000,
                   rsdp_at = 0xE0000;

Bytes cstr(const std::string& s) {
    Bytes b(s.begin(), s.end());
    b.push_back(0);
    return b;
}

Bytes rsdp(uint8_t revision) {
    Bytes r(36, 0);
    std::memcpy(r.data(), "RSD PTR ", 8);
    r[15] = revision;
    put32(r, 16, 0x7FE0000);
    put32(r, 20, 36);
    put64(r, 24, 0x7FE1000);
    fix_checksum(r, 8, 0, 20);
    fix_checksum(r, 32, 0, 36);
    return revision >= 2 ? r : Bytes(r.begin(), r.begin() + 20);
}

struct PvhMachine {
    FakePhysMem mem;
    Bytes info = Bytes(56, 0);
    Bytes memmap, modlist;
    uint64_t memmap_paddr = memmap_at, modlist_paddr = modlist_at;
    int64_t entries = -1, modules = -1;   // -1: as many as built
    std::unique_ptr<BootInfo> out = std::make_unique<BootInfo>();

    PvhMachine() {
        put32(info, 0, boot::pvh_magic);
        put32(info, 4, 1);
        add_range(0, 0x9F000, 1);
        add_range(0x100000, 0x7F00000, 1);
        add_range(0xFEC00000, 0x1000, 2);
        add_module(0x1000000, 0x20000, cmdline_at + 0x1000);
        mem.put(cmdline_at, cstr("console=hvc0"));
        mem.put(cmdline_at + 0x1000, cstr("root module"));
        mem.put(rsdp_at, rsdp(2));
        put64(info, 24, cmdline_at);
        put64(info, 32, rsdp_at);
    }
    void add_range(uint64_t base, uint64_t len, uint32_t type) {
        size_t o = memmap.size();
        memmap.resize(o + 24);
        put64(memmap, o, base);
        put64(memmap, o + 8, len);
        put32(memmap, o + 16, type);
    }
    void add_module(uint64_t paddr, uint64_t size, uint64_t cmdline) {
        size_t o = modlist.size();
        modlist.resize(o + 32);
        put64(modlist, o, paddr);
        put64(modlist, o + 8, size);
        put64(modlist, o + 16, cmdline);
    }
    PvhError parse() {
        put32(info, 12, static_cast<uint32_t>(modules >= 0 ? modules : int64_t(modlist.size() / 32)));
        put64(info, 16, modlist_paddr);
        put64(info, 40, memmap_paddr);
        put32(info, 48, static_cast<uint32_t>(entries >= 0 ? entries : int64_t(memmap.size() / 24)));
        mem.put(start_info, info);
        mem.put(memmap_at, memmap);
        mem.put(modlist_at, modlist);
        return boot::parse_pvh(mem, start_info, *out);
    }
};

} // namespace

TEST(Pvh, ParsesEverything) {
    PvhMachine m;
    ASSERT_EQ(m.parse(), PvhError::none) << boot::describe(PvhError::none);
    const BootInfo& b = *m.out;
    EXPECT_EQ(b.loader, boot::Loader::pvh);
    EXPECT_STREQ(b.str(b.cmdline), "console=hvc0");
    ASSERT_EQ(b.memory_count, 3u);
    EXPECT_EQ(b.memory[1].base, 0x100000u);
    EXPECT_EQ(b.memory[2].type, boot::MemoryType::reserved);
    ASSERT_EQ(b.module_count, 1u);
    EXPECT_EQ(b.modules[0].start, 0x1000000u);
    EXPECT_EQ(b.modules[0].end, 0x1020000u);
    EXPECT_STREQ(b.str(b.modules[0].cmdline), "root module");
    EXPECT_EQ(b.rsdp_length, 36u);
    EXPECT_EQ(b.rsdp_phys, rsdp_at);
    EXPECT_EQ(std::memcmp(b.rsdp, "RSD PTR ", 8), 0);
    EXPECT_EQ(b.info_phys, start_info);
}

TEST(Pvh, OptionalPartsAbsent) {
    PvhMachine m;
    m.modlist.clear();
    put64(m.info, 24, 0);
    put64(m.info, 32, 0);
    ASSERT_EQ(m.parse(), PvhError::none);
    EXPECT_EQ(m.out->module_count, 0u);
    EXPECT_STREQ(m.out->str(m.out->cmdline), "");
    EXPECT_EQ(m.out->rsdp_length, 0u);
}

TEST(Pvh, AcpiV1Rsdp) {
    PvhMachine m;
    m.mem.put(0xF0000, rsdp(0));
    put64(m.info, 32, 0xF0000);
    ASSERT_EQ(m.parse(), PvhError::none);
    EXPECT_EQ(m.out->rsdp_length, 20u);
}

TEST(Pvh, RejectsBadMagicAndVersion0) {
    PvhMachine m;
    put32(m.info, 0, 0x12345678);
    EXPECT_EQ(m.parse(), PvhError::bad_magic);
    PvhMachine v0;
    put32(v0.info, 4, 0);
    EXPECT_EQ(v0.parse(), PvhError::missing_memory_map);
    FakePhysMem empty;
    auto b = std::make_unique<BootInfo>();
    EXPECT_EQ(boot::parse_pvh(empty, 0x8000, *b), PvhError::start_info_unmappable);
}

TEST(Pvh, RejectsMissingOrOversizedMemoryMap) {
    PvhMachine m;
    m.memmap.clear();
    EXPECT_EQ(m.parse(), PvhError::missing_memory_map);
    PvhMachine big;
    for (size_t i = 0; i < boot::max_memory_ranges; ++i) {
        big.add_range(i * 0x1000, 0x1000, 1);
    }
    EXPECT_EQ(big.parse(), PvhError::too_many_ranges);
    PvhMachine huge;
    huge.entries = 0xFFFFFFFF;
    EXPECT_EQ(huge.parse(), PvhError::too_many_ranges);
}

TEST(Pvh, RejectsUnmappableTables) {
    PvhMachine m;
    m.memmap_paddr = 0xDEAD000;
    EXPECT_EQ(m.parse(), PvhError::memmap_unmappable);
    PvhMachine n;
    n.modlist_paddr = 0xDEAE000;
    EXPECT_EQ(n.parse(), PvhError::modlist_unmappable);
    PvhMachine o;
    o.modules = 200;   // more than the readable page holds... and more than BootInfo holds
    EXPECT_EQ(o.parse(), PvhError::too_many_modules);
    PvhMachine p;
    p.memmap_paddr = 0x9F00;   // the table starts 256 bytes before the end of its only page
    p.mem.put(0x9F00, Bytes(24 * 3, 0));
    p.entries = 20;
    EXPECT_EQ(p.parse(), PvhError::memmap_unmappable);
}

TEST(Pvh, RejectsModuleOverflowAndTooMany) {
    PvhMachine m;
    m.add_module(0xFFFFFFFFFFFFF000ull, 0x2000, 0);
    EXPECT_EQ(m.parse(), PvhError::module_overflow);
    PvhMachine many;
    for (size_t i = 0; i < boot::max_modules; ++i) {
        many.add_module(0x1000, 0x1000, 0);
    }
    EXPECT_EQ(many.parse(), PvhError::too_many_modules);
}

TEST(Pvh, RejectsUnterminatedAndUnmappableStrings) {
    PvhMachine m;
    m.mem.put(0x20000, Bytes(8192, 'a'));
    put64(m.info, 24, 0x20000);
    EXPECT_EQ(m.parse(), PvhError::string_not_terminated);
    PvhMachine n;
    n.mem.put(0x30F00, Bytes(256, 'b'));   // string runs off its page into a hole
    put64(n.info, 24, 0x30F00);
    EXPECT_EQ(n.parse(), PvhError::string_unmappable);
    PvhMachine o;
    put64(o.info, 24, 0x55000);
    EXPECT_EQ(o.parse(), PvhError::string_unmappable);
}

TEST(Pvh, StringCrossingPageBoundary) {
    PvhMachine m;
    std::string s(300, 'x');
    s += "END";
    m.mem.put(0x40F00, cstr(s));   // 256 bytes in the first page, the rest in the next
    put64(m.info, 24, 0x40F00);
    ASSERT_EQ(m.parse(), PvhError::none);
    EXPECT_EQ(std::string(m.out->str(m.out->cmdline)), s);
    PvhMachine exact;
    std::string t(256, 'y');
    exact.mem.put(0x50F00, cstr(t));   // the NUL is the first byte of the next page
    put64(exact.info, 24, 0x50F00);
    ASSERT_EQ(exact.parse(), PvhError::none);
    EXPECT_EQ(std::string(exact.out->str(exact.out->cmdline)), t);
}

TEST(Pvh, RejectsBadRsdp) {
    PvhMachine sig;
    sig.mem.at(rsdp_at)[0] = 'X';
    EXPECT_EQ(sig.parse(), PvhError::rsdp_bad_signature);
    PvhMachine sum;
    sum.mem.at(rsdp_at)[16] ^= 1;
    EXPECT_EQ(sum.parse(), PvhError::rsdp_bad_checksum);
    PvhMachine ext;
    ext.mem.at(rsdp_at)[30] ^= 1;
    EXPECT_EQ(ext.parse(), PvhError::rsdp_bad_checksum);
    PvhMachine len;
    len.mem.at(rsdp_at)[20] = 8;
    EXPECT_EQ(len.parse(), PvhError::rsdp_bad_length);
    PvhMachine gone;
    put64(gone.info, 32, 0xDD000);
    EXPECT_EQ(gone.parse(), PvhError::rsdp_unmappable);
}

TEST(Pvh, StringPoolOverflow) {
    PvhMachine m;
    m.mem.put(0x60000, cstr(std::string(2000, 'c')));
    put64(m.info, 24, 0x60000);
    for (int i = 0; i < 3; ++i) {
        m.add_module(0x1000, 0x1000, 0x60000);
    }
    EXPECT_EQ(m.parse(), PvhError::string_pool_full);
}

TEST(Pvh, DescribeNamesEveryError) {
    for (uint32_t i = 0; i <= static_cast<uint32_t>(PvhError::rsdp_bad_length); ++i) {
        std::string s = boot::describe(static_cast<PvhError>(i));
        EXPECT_EQ(s.rfind("pvh: ", 0), 0u);
        EXPECT_EQ(s.find("unknown"), std::string::npos);
    }
}
