#include "partitions/region_list.hpp"

#include <gtest/gtest.h>

using partitions::RegionList;

namespace {
void expect(const RegionList& l, std::initializer_list<partitions::TypedRange> want) {
    ASSERT_EQ(l.count(), want.size());
    size_t i = 0;
    for (const auto& w : want) {
        EXPECT_EQ(l[i].base, w.base) << i;
        EXPECT_EQ(l[i].length, w.length) << i;
        EXPECT_EQ(l[i].type, w.type) << i;
        i++;
    }
}
} // namespace

TEST(RegionList, InsertsSortedAndMergesNeighboursOfOneType) {
    RegionList l;
    ASSERT_TRUE(l.set(0x3000, 0x1000, 1));
    ASSERT_TRUE(l.set(0x1000, 0x1000, 1));
    ASSERT_TRUE(l.set(0x2000, 0x1000, 1));
    expect(l, {{0x1000, 0x3000, 1}});
}

TEST(RegionList, LaterSetWinsAndSplits) {
    RegionList l;
    ASSERT_TRUE(l.set(0, 0x10000, 1));
    ASSERT_TRUE(l.set(0x4000, 0x2000, 16));
    expect(l, {{0, 0x4000, 1}, {0x4000, 0x2000, 16}, {0x6000, 0xa000, 1}});
    ASSERT_TRUE(l.set(0x3000, 0x4000, 2));
    expect(l, {{0, 0x3000, 1}, {0x3000, 0x4000, 2}, {0x7000, 0x9000, 1}});
    EXPECT_EQ(l.type_at(0x3fff, 0), 2u);
    EXPECT_EQ(l.type_at(0x10000, 0), 0u);
}

TEST(RegionList, CoversSeveralAndLeavesGaps) {
    RegionList l;
    ASSERT_TRUE(l.set(0x1000, 0x1000, 1));
    ASSERT_TRUE(l.set(0x5000, 0x1000, 2));
    ASSERT_TRUE(l.set(0x9000, 0x1000, 3));
    ASSERT_TRUE(l.set(0x0, 0x8000, 4));
    expect(l, {{0, 0x8000, 4}, {0x9000, 0x1000, 3}});
}

TEST(RegionList, RejectsWrapAndOverflowWithoutChange) {
    RegionList l;
    EXPECT_FALSE(l.set(~0ull - 10, 100, 1));
    EXPECT_TRUE(l.set(5, 0, 1));
    EXPECT_EQ(l.count(), 0u);
    for (uint64_t i = 0; i < RegionList::capacity; i++)
        ASSERT_TRUE(l.set(i * 0x2000, 0x1000, 1));
    EXPECT_FALSE(l.set(RegionList::capacity * 0x2000, 0x1000, 1));
    EXPECT_EQ(l.count(), RegionList::capacity);
    EXPECT_FALSE(l.set(0x1000, 0x800, 2)) << "not even one more range fits";
    EXPECT_EQ(l[0].type, 1u);
}
