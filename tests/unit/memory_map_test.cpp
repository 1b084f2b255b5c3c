// Normalization of the loader's memory map: union of usable, minus anything non-usable, pages
// rounded inward, plus caller reservations.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "hv/memory/memory_map.hpp"

using boot::MemoryRange;
using boot::MemoryType;
using hv::MemoryMap;
using hv::MemoryMapError;
using hv::PhysAddr;

namespace {

constexpr MemoryType usable = MemoryType::usable, reserved = MemoryType::reserved;

struct Expect {
    uint64_t base, end;
};

void expect_ranges(const MemoryMap& m, const std::vector<Expect>& want) {
    ASSERT_EQ(m.count(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(m[i].base.raw(), want[i].base) << "range " << i;
        EXPECT_EQ(m[i].end().raw(), want[i].end) << "range " << i;
    }
}

std::unique_ptr<MemoryMap> build(const std::vector<MemoryRange>& r, MemoryMapError want = MemoryMapError::none) {
    auto m = std::make_unique<MemoryMap>();
    EXPECT_EQ(m->build(r.data(), r.size()), want);
    return m;
}

} // namespace

TEST(MemoryMap, SortsAndMergesUsable) {
    auto m = build({{0x200000, 0x100000, usable}, {0x1000, 0x1000, usable}, {0x300000, 0x100000, usable},
                    {0x250000, 0x10000, usable}});
    expect_ranges(*m, {{0x1000, 0x2000}, {0x200000, 0x400000}});
    EXPECT_EQ(m->total_bytes(), 0x1000u + 0x200000u);
}

TEST(MemoryMap, ReservedWinsRegardlessOfOrder) {
    auto a = build({{0x100000, 0x100000, reserved}, {0, 0x400000, usable}});
    auto b = build({{0, 0x400000, usable}, {0x100000, 0x100000, reserved}});
    expect_ranges(*a, {{0, 0x100000}, {0x200000, 0x400000}});
    expect_ranges(*b, {{0, 0x100000}, {0x200000, 0x400000}});
}

TEST(MemoryMap, EveryNonUsableTypeReserves) {
    for (MemoryType t : {MemoryType::reserved, MemoryType::acpi_reclaimable, MemoryType::acpi_nvs, MemoryType::bad,
                         static_cast<MemoryType>(99)}) {
        auto m = build({{0, 0x10000, usable}, {0x4000, 0x1000, t}});
        expect_ranges(*m, {{0, 0x4000}, {0x5000, 0x10000}});
    }
}

TEST(MemoryMap, AlignsInward) {
    auto m = build({{0x1234, 0x5000, usable}, {0x10000, 0xFFF, usable}});
    expect_ranges(*m, {{0x2000, 0x6000}});
}

TEST(MemoryMap, PartialReservedPageIsLost) {
    auto m = build({{0, 0x10000, usable}, {0x4800, 0x10, reserved}});
    expect_ranges(*m, {{0, 0x4000}, {0x5000, 0x10000}});
}

TEST(MemoryMap, DropsZeroLength) {
    auto m = build({{0x5000, 0, usable}, {0x1000, 0x1000, usable}, {0x1000, 0, reserved}});
    expect_ranges(*m, {{0x1000, 0x2000}});
}

TEST(MemoryMap, ClipsBeyond52BitsAndWrap) {
    auto m = build({{0x1000, 0x1000, usable},
                    {hv::max_phys_end - 0x2000, ~0ull, usable},   // base + length wraps 2^64
                    {hv::max_phys_end + 0x1000, 0x1000, usable}});
    expect_ranges(*m, {{0x1000, 0x2000}, {hv::max_phys_end - 0x2000, hv::max_phys_end}});
    EXPECT_EQ(m->clipped(), 2u);
}

TEST(MemoryMap, NoUsableMemoryIsError) {
    build({{0, 0x1000, reserved}, {0x1000, 0x800, usable}}, MemoryMapError::no_usable_memory);
    auto m = std::make_unique<MemoryMap>();
    EXPECT_EQ(m->build(nullptr, 5), MemoryMapError::no_usable_memory);
}

TEST(MemoryMap, TooManyRangesIsError) {
    // One big usable range punched by capacity + 1 reservations needs capacity + 2 pieces.
    std::vector<MemoryRange> r{{0, 0x10000000, usable}};
    for (uint64_t i = 0; i <= MemoryMap::capacity; ++i) {
        r.push_back({0x2000 * (i + 1), 0x1000, reserved});
    }
    auto m = std::make_unique<MemoryMap>();
    EXPECT_EQ(m->build(r.data(), r.size()), MemoryMapError::too_many_ranges);
}

TEST(MemoryMap, ReserveRoundsOutward) {
    auto m = build({{0, 0x100000, usable}});
    ASSERT_EQ(m->reserve(PhysAddr(0x3010), 0x1000), MemoryMapError::none);
    expect_ranges(*m, {{0, 0x3000}, {0x5000, 0x100000}});
    ASSERT_EQ(m->reserve(PhysAddr(0xFF000), 0x100000), MemoryMapError::none);
    expect_ranges(*m, {{0, 0x3000}, {0x5000, 0xFF000}});
    EXPECT_EQ(m->reserve(PhysAddr(0x1000), 0), MemoryMapError::none);
    EXPECT_EQ(m->reserve(PhysAddr(0x1000), ~0ull), MemoryMapError::bad_reservation);
    EXPECT_EQ(m->reserve(PhysAddr(~0ull - 10), 5), MemoryMapError::none);   // beyond RAM: no-op
    EXPECT_EQ(m->count(), 2u);
}

TEST(MemoryMap, ReserveBootStructures) {
    auto info = std::make_unique<boot::BootInfo>();
    info->memory[0] = {0, 0x9F000, usable};
    info->memory[1] = {0x100000, 0x1000000, usable};
    info->memory_count = 2;
    info->info_phys = 0x200100;
    info->info_size = 0x200;
    info->modules[0] = {0x400000, 0x401001, 0};
    info->module_count = 1;
    auto m = std::make_unique<MemoryMap>();
    ASSERT_EQ(m->build(*info), MemoryMapError::none);
    ASSERT_EQ(m->reserve_boot_structures(*info), MemoryMapError::none);
    expect_ranges(*m, {{0x100000, 0x200000}, {0x201000, 0x400000}, {0x402000, 0x1100000}});
    info->modules[0] = {0x5000, 0x4000, 0};
    EXPECT_EQ(m->reserve_boot_structures(*info), MemoryMapError::bad_reservation);
}

TEST(MemoryMap, FindFreeAndContains) {
    auto m = build({{0x1000, 0x3000, usable}, {0x100000, 0x400000, usable}});
    PhysAddr at;
    ASSERT_TRUE(m->find_free(0x2000, 0x1000, at));
    EXPECT_EQ(at.raw(), 0x1000u);
    ASSERT_TRUE(m->find_free(0x5000, 0x1000, at));
    EXPECT_EQ(at.raw(), 0x100000u);
    ASSERT_TRUE(m->find_free(0x1000, 0x200000, at));
    EXPECT_EQ(at.raw(), 0x200000u);
    EXPECT_FALSE(m->find_free(0x500000, 0x1000, at));
    EXPECT_FALSE(m->find_free(0, 0x1000, at));
    EXPECT_FALSE(m->find_free(0x1000, 0x1800, at));
    EXPECT_TRUE(m->contains(PhysAddr(0x1000), 0x3000));
    EXPECT_FALSE(m->contains(PhysAddr(0x1000), 0x3001));
    EXPECT_FALSE(m->contains(PhysAddr(0x4000), 1));
    EXPECT_EQ(m->lowest().raw(), 0x1000u);
    EXPECT_EQ(m->highest_end().raw(), 0x500000u);
}

TEST(MemoryMap, DescribeNamesErrors) {
    EXPECT_STRNE(hv::describe(MemoryMapError::too_many_ranges), hv::describe(MemoryMapError::no_usable_memory));
    EXPECT_EQ(std::string(hv::describe(MemoryMapError::bad_reservation)).rfind("memory map: ", 0), 0u);
}

TEST(MemoryMap, RandomMapsMatchPageModel) {
    // Reference: a page is usable iff some usable entry covers all of it and no other entry
    // touches any byte of it. Addresses are in 0x100-byte units over 64 pages.
    uint32_t seed = 7;
    auto rnd = [&] { return seed = seed * 1664525u + 1013904223u, seed >> 8; };
    for (int round = 0; round < 300; ++round) {
        std::vector<MemoryRange> r;
        size_t n = 1 + rnd() % 12;
        for (size_t i = 0; i < n; ++i) {
            uint64_t base = (rnd() % (64 * 16)) * 0x100, len = (rnd() % (20 * 16)) * 0x100;
            r.push_back({base, len, rnd() % 3 ? usable : static_cast<MemoryType>(2 + rnd() % 4)});
        }
        std::vector<int> covered(64 * 16 + 20 * 16, 0), blocked(covered.size(), 0);
        for (const auto& e : r) {
            for (uint64_t u = e.base / 0x100; u < (e.base + e.length) / 0x100; ++u) {
                (e.type == usable ? covered : blocked)[u] = 1;
            }
        }
        auto m = std::make_unique<MemoryMap>();
        MemoryMapError err = m->build(r.data(), r.size());
        uint64_t want_total = 0;
        for (uint64_t page = 0; page < covered.size() / 16; ++page) {
            bool ok = true;
            for (uint64_t u = page * 16; u < page * 16 + 16; ++u) {
                ok = ok && covered[u] && !blocked[u];
            }
            bool got = m->contains(PhysAddr(page * 0x1000), 0x1000);
            ASSERT_EQ(got, ok) << "round " << round << " page " << page;
            want_total += ok ? 0x1000 : 0;
        }
        ASSERT_EQ(m->total_bytes(), want_total);
        ASSERT_EQ(err, want_total ? MemoryMapError::none : MemoryMapError::no_usable_memory);
        for (size_t i = 0; i + 1 < m->count(); ++i) {
            ASSERT_LT((*m)[i].end(), (*m)[i + 1].base) << "ranges must be sorted, disjoint and not touching";
        }
    }
}
