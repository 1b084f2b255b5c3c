#include "partitions/page_ledger.hpp"

#include <gtest/gtest.h>
#include <vector>

using partitions::PageLedger;

namespace {
struct Fixture {
    std::vector<uint8_t> store = std::vector<uint8_t>(100);
    PageLedger l;
    Fixture() {
        l.init(store.data(), 1000, 1100);
        l.set_range(1000, 80, PageLedger::root);
    }
};
} // namespace

TEST(PageLedger, StartsForeignAndCountsOwners) {
    Fixture f;
    EXPECT_EQ(f.l.count(PageLedger::root), 80u);
    EXPECT_EQ(f.l.count(PageLedger::foreign), 20u);
    EXPECT_EQ(f.l.owner(999), PageLedger::foreign) << "outside the span";
    EXPECT_EQ(f.l.owner(1100), PageLedger::foreign);
    EXPECT_EQ(f.l.owner(1079), PageLedger::root);
}

TEST(PageLedger, TransferOnlyFromTheExpectedOwner) {
    Fixture f;
    EXPECT_TRUE(f.l.transfer(1010, PageLedger::root, PageLedger::mapped(3)));
    EXPECT_FALSE(f.l.transfer(1010, PageLedger::root, PageLedger::mapped(4))) << "a page maps into one child";
    EXPECT_FALSE(f.l.transfer(1090, PageLedger::root, PageLedger::deposited(3))) << "not the root's";
    EXPECT_FALSE(f.l.transfer(5, PageLedger::root, PageLedger::deposited(3))) << "outside the span";
    EXPECT_TRUE(f.l.transfer(1011, PageLedger::root, PageLedger::deposited(3)));
    EXPECT_EQ(f.l.count(PageLedger::mapped(3)), 1u);
    EXPECT_EQ(f.l.count(PageLedger::deposited(3)), 1u);
    EXPECT_EQ(f.l.count(PageLedger::root), 78u);
}

TEST(PageLedger, ForEachVisitsEveryFrameOfAnOwner) {
    Fixture f;
    for (uint64_t fr = 1020; fr < 1030; fr++)
        ASSERT_TRUE(f.l.transfer(fr, PageLedger::root, PageLedger::deposited(7)));
    std::vector<uint64_t> seen;
    f.l.for_each(PageLedger::deposited(7), [&](uint64_t fr) { seen.push_back(fr); });
    ASSERT_EQ(seen.size(), 10u);
    EXPECT_EQ(seen.front(), 1020u);
    EXPECT_EQ(seen.back(), 1029u);
}

TEST(PageLedger, SlotEncodingsNeverCollide) {
    for (unsigned s = 1; s <= partitions::kMaxChildSlots; s++) {
        auto m = PageLedger::mapped(static_cast<uint8_t>(s));
        auto d = PageLedger::deposited(static_cast<uint8_t>(s));
        EXPECT_NE(m, PageLedger::root);
        EXPECT_NE(m, PageLedger::foreign);
        EXPECT_NE(d, PageLedger::foreign);
        EXPECT_NE(m, d);
        EXPECT_LT(m, 0x80);
        EXPECT_GE(d, 0x80);
    }
}
