// Page-table builder for long mode, NPT and EPT over a fake memory that records every table.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <memory>
#include <vector>

#include "hv/memory/page_table.hpp"

using hv::CacheType;
using hv::EptFormat;
using hv::GuestPhysAddr;
using hv::LongModeFormat;
using hv::NptFormat;
using hv::PagePerms;
using hv::PageSize;
using hv::PageTable;
using hv::PhysAddr;
using hv::PtError;
using hv::VirtAddr;

namespace {

// Tables live at fake physical addresses 0x1000, 0x2000, ...; `limit` simulates exhaustion.
struct FakeTables {
    std::map<uint64_t, std::unique_ptr<std::array<uint64_t, 512>>> tables;
    uint64_t next = 0x1000;
    size_t limit = SIZE_MAX;
    std::vector<uint64_t> freed;

    bool alloc_table(PhysAddr& out) {
        if (tables.size() - freed.size() >= limit) {
            return false;
        }
        tables[next] = std::make_unique<std::array<uint64_t, 512>>();
        tables[next]->fill(0);
        out = PhysAddr(next);
        next += 0x1000;
        return true;
    }
    uint64_t* table(PhysAddr p) {
        auto it = tables.find(p.raw());
        EXPECT_NE(it, tables.end()) << "walk reached a non-table address " << std::hex << p.raw();
        return it == tables.end() ? nullptr : it->second->data();
    }
    void free_table(PhysAddr p) { freed.push_back(p.raw()); }
    size_t live() const { return tables.size() - freed.size(); }
};

constexpr uint64_t k4 = 0x1000, m2 = 0x200000, g1 = 0x40000000;
const PagePerms rw{true, true, false, false, CacheType::write_back};
const PagePerms rx{true, false, true, false, CacheType::write_back};

template <class F> struct Fixture {
    FakeTables mem;
    PageTable<F, FakeTables> pt{mem};
    Fixture() { EXPECT_EQ(pt.create(), PtError::none); }
};

using LongSetup = Fixture<LongModeFormat>;
using EptSetup = Fixture<EptFormat>;

} // namespace

TEST(PageTable, MapAndTranslate4K) {
    LongSetup s;
    ASSERT_EQ(s.pt.map(VirtAddr(0x400000), PhysAddr(0x1234000), PageSize::size_4k, rw), PtError::none);
    EXPECT_EQ(s.mem.live(), 4u);   // root, PDPT, PD, PT
    auto t = s.pt.translate(VirtAddr(0x400abc));
    ASSERT_TRUE(t.mapped);
    EXPECT_EQ(t.phys.raw(), 0x1234abcu);
    EXPECT_EQ(t.size, PageSize::size_4k);
    EXPECT_EQ(t.perms, rw);
    EXPECT_FALSE(s.pt.translate(VirtAddr(0x401000)).mapped);
}

TEST(PageTable, LongModeEntryBits) {
    LongSetup s;
    PagePerms user_x{true, false, true, true, CacheType::uncacheable};
    ASSERT_EQ(s.pt.map(VirtAddr(0x0), PhysAddr(0x5000), PageSize::size_4k, user_x), PtError::none);
    ASSERT_EQ(s.pt.map(VirtAddr(m2), PhysAddr(0x800000), PageSize::size_2m, rw), PtError::none);
    uint64_t pml4e = s.mem.table(s.pt.root())[0];
    EXPECT_EQ(pml4e & 7, 7u);   // P, RW, US on non-leaves: the leaf decides
    uint64_t* pdpt = s.mem.table(PhysAddr(pml4e & hv::detail::addr_mask));
    uint64_t* pd = s.mem.table(PhysAddr(pdpt[0] & hv::detail::addr_mask));
    uint64_t* pt = s.mem.table(PhysAddr(pd[0] & hv::detail::addr_mask));
    EXPECT_EQ(pt[0], 0x5000u | 1 | 4 | 8 | 16);               // P, US, PWT|PCD = UC, executable
    EXPECT_EQ(pd[1], 0x800000u | 1 | 2 | 0x80 | (1ull << 63)); // P, RW, PS, NX
}

TEST(PageTable, CanonicalHighHalf) {
    LongSetup s;
    VirtAddr va(0xFFFFFFFF80000000ull);
    ASSERT_EQ(s.pt.map(va, PhysAddr(0x200000), PageSize::size_2m, rx), PtError::none);
    auto t = s.pt.translate(VirtAddr(0xFFFFFFFF80001234ull));
    ASSERT_TRUE(t.mapped);
    EXPECT_EQ(t.phys.raw(), 0x201234u);
    EXPECT_TRUE(t.perms.execute);
    EXPECT_EQ(s.pt.map(VirtAddr(0x0000800000000000ull), PhysAddr(0), PageSize::size_4k, rw),
              PtError::bad_input_address);
    // A range that would cross the non-canonical hole.
    EXPECT_EQ(s.pt.map_range(VirtAddr(0x00007FFFFFFFF000ull), PhysAddr(0), 0x2000, rw), PtError::bad_input_address);
    EXPECT_EQ(s.pt.map_range(VirtAddr(0xFFFFFFFFFFFFF000ull), PhysAddr(0), 0x2000, rw), PtError::bad_size);
}

TEST(PageTable, MisalignmentRejected) {
    LongSetup s;
    EXPECT_EQ(s.pt.map(VirtAddr(0x1001000), PhysAddr(0x200000), PageSize::size_2m, rw), PtError::misaligned);
    EXPECT_EQ(s.pt.map(VirtAddr(0x200000), PhysAddr(0x201000), PageSize::size_2m, rw), PtError::misaligned);
    EXPECT_EQ(s.pt.map(VirtAddr(0x1800), PhysAddr(0x1000), PageSize::size_4k, rw), PtError::misaligned);
    EXPECT_EQ(s.pt.map(VirtAddr(0x40000000), PhysAddr(0x20000000), PageSize::size_1g, rw), PtError::misaligned);
    EXPECT_EQ(s.pt.map(VirtAddr(0), PhysAddr(1ull << 52), PageSize::size_4k, rw), PtError::bad_output_address);
    EXPECT_EQ(s.mem.live(), 1u);
}

TEST(PageTable, ConflictsDetected) {
    LongSetup s;
    ASSERT_EQ(s.pt.map(VirtAddr(0x200000), PhysAddr(0x200000), PageSize::size_2m, rw), PtError::none);
    EXPECT_EQ(s.pt.map(VirtAddr(0x201000), PhysAddr(0x5000), PageSize::size_4k, rw), PtError::already_mapped);
    EXPECT_EQ(s.pt.map(VirtAddr(0x200000), PhysAddr(0x400000), PageSize::size_2m, rw), PtError::already_mapped);
    ASSERT_EQ(s.pt.map(VirtAddr(0x600000), PhysAddr(0x5000), PageSize::size_4k, rw), PtError::none);
    EXPECT_EQ(s.pt.map(VirtAddr(0x600000), PhysAddr(0x6000), PageSize::size_4k, rw), PtError::already_mapped);
    EXPECT_EQ(s.pt.map(VirtAddr(0x600000), PhysAddr(0x400000), PageSize::size_2m, rw), PtError::already_mapped);
    EXPECT_EQ(s.pt.map(VirtAddr(0), PhysAddr(0), PageSize::size_1g, rw), PtError::already_mapped);
    EXPECT_EQ(s.pt.translate(VirtAddr(0x600000)).phys.raw(), 0x5000u);
}

TEST(PageTable, OutOfMemory) {
    LongSetup s;
    s.mem.limit = 2;   // root + one more
    EXPECT_EQ(s.pt.map(VirtAddr(0x1000), PhysAddr(0x1000), PageSize::size_4k, rw), PtError::out_of_memory);
    FakeTables none;
    none.limit = 0;
    PageTable<LongModeFormat, FakeTables> pt(none);
    EXPECT_EQ(pt.create(), PtError::out_of_memory);
    EXPECT_EQ(pt.map(VirtAddr(0), PhysAddr(0), PageSize::size_4k, rw), PtError::no_root);
    EXPECT_FALSE(pt.translate(VirtAddr(0)).mapped);
}

TEST(PageTable, MapRangeChoosesLargestPages) {
    LongSetup s;
    // 4K head up to 2M, 2M pages up to 1G, one 1G page, then 2M and 4K tails.
    uint64_t start = 0x3FE000, len = (g1 - start) + g1 + m2 + k4;
    ASSERT_EQ(s.pt.map_range(VirtAddr(start), PhysAddr(start), len, rw), PtError::none);
    EXPECT_EQ(s.pt.translate(VirtAddr(0x3FE000)).size, PageSize::size_4k);
    EXPECT_EQ(s.pt.translate(VirtAddr(0x400000)).size, PageSize::size_2m);
    EXPECT_EQ(s.pt.translate(VirtAddr(g1 + 5)).size, PageSize::size_1g);
    EXPECT_EQ(s.pt.translate(VirtAddr(2 * g1)).size, PageSize::size_2m);
    EXPECT_EQ(s.pt.translate(VirtAddr(2 * g1 + m2)).size, PageSize::size_4k);
    EXPECT_FALSE(s.pt.translate(VirtAddr(2 * g1 + m2 + k4)).mapped);
    EXPECT_EQ(s.pt.translate(VirtAddr(g1 + 0x12345678)).phys.raw(), g1 + 0x12345678);
}

TEST(PageTable, MapRangeRespectsLargestAndPhysAlignment) {
    LongSetup s;
    ASSERT_EQ(s.pt.map_range(VirtAddr(0), PhysAddr(0x1000), 4 * m2, rw), PtError::none);   // phys misaligned
    EXPECT_EQ(s.pt.translate(VirtAddr(m2)).size, PageSize::size_4k);
    ASSERT_EQ(s.pt.map_range(VirtAddr(g1), PhysAddr(g1), g1, rw, PageSize::size_2m), PtError::none);
    EXPECT_EQ(s.pt.translate(VirtAddr(g1)).size, PageSize::size_2m);
}

TEST(PageTable, MapRangeRollsBackOnConflict) {
    LongSetup s;
    ASSERT_EQ(s.pt.map(VirtAddr(0x5000), PhysAddr(0x9000), PageSize::size_4k, rw), PtError::none);
    EXPECT_EQ(s.pt.map_range(VirtAddr(0x1000), PhysAddr(0x1000), 0x8000, rw), PtError::already_mapped);
    for (uint64_t a = 0x1000; a < 0x5000; a += k4) {
        EXPECT_FALSE(s.pt.translate(VirtAddr(a)).mapped) << std::hex << a;
    }
    EXPECT_TRUE(s.pt.translate(VirtAddr(0x5000)).mapped);
}

TEST(PageTable, UnmapSplits2MPage) {
    LongSetup s;
    ASSERT_EQ(s.pt.map(VirtAddr(m2), PhysAddr(0x800000), PageSize::size_2m, rx), PtError::none);
    ASSERT_EQ(s.pt.unmap(VirtAddr(m2 + 0x3000), k4), PtError::none);
    EXPECT_FALSE(s.pt.translate(VirtAddr(m2 + 0x3000)).mapped);
    auto t = s.pt.translate(VirtAddr(m2 + 0x4010));
    ASSERT_TRUE(t.mapped);
    EXPECT_EQ(t.size, PageSize::size_4k);
    EXPECT_EQ(t.phys.raw(), 0x804010u);
    EXPECT_EQ(t.perms, rx);
    EXPECT_EQ(s.pt.translate(VirtAddr(m2 + 0x1FF000)).phys.raw(), 0x9FF000u);
}

TEST(PageTable, UnmapSplits1GDownTo4K) {
    Fixture<NptFormat> s;
    ASSERT_EQ(s.pt.map(GuestPhysAddr(g1), PhysAddr(2 * g1), PageSize::size_1g, rw), PtError::none);
    ASSERT_EQ(s.pt.unmap(GuestPhysAddr(g1 + 5 * m2 + 7 * k4), k4), PtError::none);
    EXPECT_FALSE(s.pt.translate(GuestPhysAddr(g1 + 5 * m2 + 7 * k4)).mapped);
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(g1 + 5 * m2)).size, PageSize::size_4k);
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(g1 + 6 * m2)).size, PageSize::size_2m);
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(g1 + 6 * m2 + 3)).phys.raw(), 2 * g1 + 6 * m2 + 3);
    EXPECT_TRUE(s.pt.translate(GuestPhysAddr(g1)).perms.user);   // NPT leaves are user pages
}

TEST(PageTable, UnmapRangeAndNotMapped) {
    LongSetup s;
    ASSERT_EQ(s.pt.map_range(VirtAddr(0), PhysAddr(0), 4 * m2, rw), PtError::none);
    ASSERT_EQ(s.pt.unmap(VirtAddr(m2 - k4), m2 + 2 * k4), PtError::none);
    EXPECT_TRUE(s.pt.translate(VirtAddr(m2 - 2 * k4)).mapped);
    EXPECT_FALSE(s.pt.translate(VirtAddr(m2 - k4)).mapped);
    EXPECT_FALSE(s.pt.translate(VirtAddr(2 * m2)).mapped);
    EXPECT_TRUE(s.pt.translate(VirtAddr(2 * m2 + k4)).mapped);
    EXPECT_EQ(s.pt.unmap(VirtAddr(g1), m2), PtError::not_mapped);
    EXPECT_EQ(s.pt.unmap(VirtAddr(0x10), k4), PtError::misaligned);
    EXPECT_EQ(s.pt.unmap(VirtAddr(0), 0), PtError::bad_size);
}

TEST(PageTable, UnmapSplitOutOfMemoryLeavesMapping) {
    LongSetup s;
    ASSERT_EQ(s.pt.map(VirtAddr(m2), PhysAddr(m2), PageSize::size_2m, rw), PtError::none);
    s.mem.limit = s.mem.live();
    EXPECT_EQ(s.pt.unmap(VirtAddr(m2), k4), PtError::out_of_memory);
    auto t = s.pt.translate(VirtAddr(m2 + 0x1000));
    EXPECT_TRUE(t.mapped);
    EXPECT_EQ(t.size, PageSize::size_2m);
}

TEST(PageTable, LargePageReplacesEmptyTable) {
    LongSetup s;
    ASSERT_EQ(s.pt.map(VirtAddr(m2), PhysAddr(0x5000), PageSize::size_4k, rw), PtError::none);
    ASSERT_EQ(s.pt.unmap(VirtAddr(m2), k4), PtError::none);
    ASSERT_EQ(s.pt.map(VirtAddr(m2), PhysAddr(m2), PageSize::size_2m, rw), PtError::none);
    EXPECT_EQ(s.mem.freed.size(), 1u);
    EXPECT_EQ(s.pt.translate(VirtAddr(m2 + 8)).size, PageSize::size_2m);
}

TEST(PageTable, ProtectSplitsAndRequiresMapping) {
    EptSetup s;
    ASSERT_EQ(s.pt.map(GuestPhysAddr(0), PhysAddr(m2), PageSize::size_2m, PagePerms{true, true, true, false, CacheType::write_back}),
              PtError::none);
    PagePerms ro{true, false, false, false, CacheType::write_back};
    ASSERT_EQ(s.pt.protect(GuestPhysAddr(0x10000), 2 * k4, ro), PtError::none);
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(0x10000)).perms, ro);
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(0x11000)).perms, ro);
    EXPECT_TRUE(s.pt.translate(GuestPhysAddr(0x12000)).perms.write);
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(0x11008)).phys.raw(), m2 + 0x11008);
    size_t before = s.mem.live();
    EXPECT_EQ(s.pt.protect(GuestPhysAddr(m2 - k4), 2 * k4, ro), PtError::not_mapped);
    EXPECT_TRUE(s.pt.translate(GuestPhysAddr(m2 - k4)).perms.write);   // checked before changing
    EXPECT_EQ(s.mem.live(), before);
}

TEST(PageTable, EptEntryBitsAndMemoryTypes) {
    EptSetup s;
    PagePerms wb{true, true, true, false, CacheType::write_back};
    PagePerms uc{true, true, false, false, CacheType::uncacheable};
    PagePerms wc{true, false, false, false, CacheType::write_combining};
    ASSERT_EQ(s.pt.map(GuestPhysAddr(0), PhysAddr(0x7000), PageSize::size_4k, wb), PtError::none);
    ASSERT_EQ(s.pt.map(GuestPhysAddr(k4), PhysAddr(0xFEE00000), PageSize::size_4k, uc), PtError::none);
    ASSERT_EQ(s.pt.map(GuestPhysAddr(2 * k4), PhysAddr(0xA0000), PageSize::size_4k, wc), PtError::none);
    uint64_t pml4e = s.mem.table(s.pt.root())[0];
    EXPECT_EQ(pml4e & 0xFF, 7u);   // RWX, no memory type on non-leaves (SDM 28.3.2)
    uint64_t* pdpt = s.mem.table(PhysAddr(pml4e & hv::detail::addr_mask));
    uint64_t* pd = s.mem.table(PhysAddr(pdpt[0] & hv::detail::addr_mask));
    uint64_t* pt = s.mem.table(PhysAddr(pd[0] & hv::detail::addr_mask));
    EXPECT_EQ(pt[0], 0x7000u | 7 | (6 << 3));
    EXPECT_EQ(pt[1], 0xFEE00000u | 3);
    EXPECT_EQ(pt[2], 0xA0000u | 1 | (1 << 3));
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(k4)).perms, uc);
    EXPECT_EQ(s.pt.translate(GuestPhysAddr(2 * k4)).perms, wc);
}

TEST(PageTable, PermissionValidation) {
    EptSetup e;
    EXPECT_EQ(e.pt.map(GuestPhysAddr(0), PhysAddr(0), PageSize::size_4k, PagePerms{false, true, false, false, CacheType::write_back}),
              PtError::bad_permissions);   // write-only: EPT misconfiguration
    EXPECT_EQ(e.pt.map(GuestPhysAddr(0), PhysAddr(0), PageSize::size_4k, PagePerms{false, false, false, false, CacheType::write_back}),
              PtError::bad_permissions);
    EXPECT_EQ(e.pt.map(GuestPhysAddr(0), PhysAddr(0), PageSize::size_4k, PagePerms{false, false, true, false, CacheType::write_back}),
              PtError::none);   // execute-only is expressible
    EXPECT_EQ(e.pt.map(GuestPhysAddr(1ull << 48), PhysAddr(0), PageSize::size_4k, rw), PtError::bad_input_address);
    LongSetup l;
    EXPECT_EQ(l.pt.map(VirtAddr(0), PhysAddr(0), PageSize::size_4k, PagePerms{false, false, true, false, CacheType::write_back}),
              PtError::bad_permissions);
    EXPECT_EQ(l.pt.map(VirtAddr(0), PhysAddr(0), PageSize::size_4k, PagePerms{true, true, false, false, CacheType::write_combining}),
              PtError::bad_permissions);
}

TEST(PageTable, DescribeNamesErrors) {
    EXPECT_STRNE(hv::describe(PtError::already_mapped), hv::describe(PtError::not_mapped));
    EXPECT_EQ(std::string(hv::describe(PtError::out_of_memory)).rfind("page table: ", 0), 0u);
}
