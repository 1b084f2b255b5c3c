// GPADL assembly (vmbus/gpadl.hpp): a header alone, a header and bodies, and every refusal, with
// the platform's ownership check deciding which pages the guest may lend.
#include "vmbus/gpadl.hpp"

#include <gtest/gtest.h>
#include <string.h>
#include <vector>

using namespace vmbus;

namespace {

// The guest owns pages [0x1000, 0x1000 + 20000) except 0x1100.
bool owns(void*, uint64_t page) { return page >= 0x1000 && page < 0x1000 + 20000 && page != 0x1100; }

std::vector<uint8_t> header_bytes(uint32_t gpadl, uint32_t byte_count, uint32_t byte_offset, uint32_t npfn,
                                  uint64_t first_pfn, uint16_t range_count = 1, int buflen_delta = 0) {
    const uint32_t pages = static_cast<uint32_t>((uint64_t{byte_offset} + byte_count + 4095) / 4096);
    std::vector<uint8_t> m(28 + 8 * npfn);
    GpadlHeader h = make_message<GpadlHeader>();
    h.child_relid = 5;
    h.gpadl = gpadl;
    h.range_buflen = static_cast<uint16_t>(8 + 8 * pages + buflen_delta);
    h.range_count = range_count;
    memcpy(m.data(), &h, sizeof h);
    memcpy(&m[20], &byte_count, 4);
    memcpy(&m[24], &byte_offset, 4);
    for (uint32_t i = 0; i < npfn; i++) {
        const uint64_t pfn = first_pfn + i;
        memcpy(&m[28 + 8 * i], &pfn, 8);
    }
    return m;
}

std::vector<uint8_t> body_bytes(uint32_t gpadl, uint32_t npfn, uint64_t first_pfn) {
    std::vector<uint8_t> m(16 + 8 * npfn);
    GpadlBody b = make_message<GpadlBody>();
    b.gpadl = gpadl;
    memcpy(m.data(), &b, sizeof b);
    for (uint32_t i = 0; i < npfn; i++) {
        const uint64_t pfn = first_pfn + i;
        memcpy(&m[16 + 8 * i], &pfn, 8);
    }
    return m;
}

struct Table {
    std::vector<uint64_t> small = std::vector<uint64_t>(4), large = std::vector<uint64_t>(max_gpadl_pages);
    Gpadl slots[2];
    GpadlTable table;
    Table() : table(slots, 2, Platform{nullptr, owns}) {
        slots[0].pfns = small.data();
        slots[0].capacity = 4;
        slots[1].pfns = large.data();
        slots[1].capacity = max_gpadl_pages;
    }
    GpadlResult add(const std::vector<uint8_t>& m) {
        Parsed p;
        EXPECT_EQ(parse(m.data(), static_cast<uint32_t>(m.size()), p), MessageError::ok);
        return table.add(p);
    }
};

} // namespace

TEST(VmbusGpadl, HeaderAloneCompletes) {
    Table t;
    const GpadlResult r = t.add(header_bytes(0xe1e10, 3 * 4096, 0, 3, 0x2000));
    ASSERT_EQ(r.status, GpadlStatus::complete);
    EXPECT_EQ(r.gpadl, 0xe1e10u);
    EXPECT_EQ(r.child_relid, 5u);
    ASSERT_NE(r.entry, nullptr);
    EXPECT_EQ(r.entry, &t.slots[0]) << "the first slot large enough";
    EXPECT_EQ(r.entry->page_count, 3u);
    EXPECT_EQ(r.entry->pfns[2], 0x2002u);
    EXPECT_EQ(t.table.find(0xe1e10), r.entry);
}

TEST(VmbusGpadl, HeaderAndBodiesAssembleInOrder) {
    Table t;
    // 100 pages with a 100-byte offset: 101 pages; 26 in the header, then 28 + 28 + 19.
    const uint32_t bytes = 100 * 4096;
    GpadlResult r = t.add(header_bytes(7, bytes, 100, 26, 0x3000));
    ASSERT_EQ(r.status, GpadlStatus::incomplete);
    EXPECT_EQ(t.table.find(7), nullptr) << "not created yet";
    r = t.add(body_bytes(7, 28, 0x3000 + 26));
    ASSERT_EQ(r.status, GpadlStatus::incomplete);
    r = t.add(body_bytes(7, 28, 0x3000 + 54));
    ASSERT_EQ(r.status, GpadlStatus::incomplete);
    r = t.add(body_bytes(7, 19, 0x3000 + 82));
    ASSERT_EQ(r.status, GpadlStatus::complete);
    EXPECT_EQ(r.child_relid, 5u);
    ASSERT_NE(r.entry, nullptr);
    EXPECT_EQ(r.entry->page_count, 101u);
    EXPECT_EQ(r.entry->byte_offset, 100u);
    EXPECT_EQ(r.entry->byte_count, bytes);
    for (uint32_t i = 0; i < 101; i++)
        ASSERT_EQ(r.entry->pfns[i], 0x3000u + i) << i;
    EXPECT_EQ(t.add(body_bytes(7, 1, 0x3000)).status, GpadlStatus::unknown_gpadl) << "already complete";
}

TEST(VmbusGpadl, LargestGpadl) {
    Table t;
    const uint32_t bytes = max_gpadl_pages * 4096;
    ASSERT_EQ(t.add(header_bytes(1, bytes, 0, 26, 0x2000)).status, GpadlStatus::incomplete);
    uint32_t sent = 26;
    GpadlResult r{};
    while (sent < max_gpadl_pages) {
        const uint32_t n = max_gpadl_pages - sent < 28 ? max_gpadl_pages - sent : 28;
        r = t.add(body_bytes(1, n, 0x2000 + sent));
        sent += n;
    }
    ASSERT_EQ(r.status, GpadlStatus::complete);
    EXPECT_EQ(r.entry->page_count, max_gpadl_pages);
}

TEST(VmbusGpadl, ReleaseFreesTheSlot) {
    Table t;
    ASSERT_EQ(t.add(header_bytes(3, 4096, 0, 1, 0x2000)).status, GpadlStatus::complete);
    EXPECT_EQ(t.add(header_bytes(3, 4096, 0, 1, 0x2000)).status, GpadlStatus::duplicate_gpadl);
    EXPECT_TRUE(t.table.release(3));
    EXPECT_FALSE(t.table.release(3));
    EXPECT_EQ(t.table.find(3), nullptr);
    EXPECT_EQ(t.add(header_bytes(3, 4096, 0, 1, 0x2000)).status, GpadlStatus::complete);
}

TEST(VmbusGpadl, RefusesInconsistentHeaders) {
    Table t;
    EXPECT_EQ(t.add(header_bytes(1, 4096, 0, 1, 0x2000, 2)).status, GpadlStatus::unsupported_range_count);
    EXPECT_EQ(t.add(header_bytes(1, 4096, 0, 1, 0x2000, 0)).status, GpadlStatus::unsupported_range_count);
    EXPECT_EQ(t.add(header_bytes(1, 4096, 4096, 1, 0x2000)).status, GpadlStatus::byte_offset_too_large);
    EXPECT_EQ(t.add(header_bytes(1, 0, 0, 0, 0x2000)).status, GpadlStatus::zero_length);
    EXPECT_EQ(t.add(header_bytes(1, 4096, 0, 1, 0x2000, 1, 8)).status, GpadlStatus::range_length_mismatch)
        << "announces one PFN more than the byte count spans";
    EXPECT_EQ(t.add(header_bytes(1, 4096, 0, 1, 0x2000, 1, -8)).status, GpadlStatus::range_length_mismatch);
    EXPECT_EQ(t.add(header_bytes(1, 4096, 0, 2, 0x2000, 1, 0)).status, GpadlStatus::too_many_pfns);
    for (const auto& s : t.slots)
        EXPECT_EQ(s.state, Gpadl::State::free) << "a refusal keeps nothing";
}

TEST(VmbusGpadl, RefusesSizesThatOverflowOrExceedTheLimit) {
    Table t;
    EXPECT_EQ(t.add(header_bytes(1, 0xffffffff, 4095, 1, 0x2000)).status, GpadlStatus::too_many_pages)
        << "offset + count would wrap in 32 bits";
    EXPECT_EQ(t.add(header_bytes(1, (max_gpadl_pages + 1) * 4096, 0, 1, 0x2000)).status,
              GpadlStatus::too_many_pages);
    EXPECT_EQ(t.add(header_bytes(1, max_gpadl_pages * 4096, 1, 1, 0x2000)).status, GpadlStatus::too_many_pages)
        << "the offset pushes it onto one more page";
}

TEST(VmbusGpadl, RefusesPagesTheGuestDoesNotOwn) {
    Table t;
    EXPECT_EQ(t.add(header_bytes(1, 2 * 4096, 0, 2, 0x10ff)).status, GpadlStatus::page_not_owned);
    EXPECT_EQ(t.add(header_bytes(1, 4096, 0, 1, 0x10)).status, GpadlStatus::page_not_owned);
    ASSERT_EQ(t.add(header_bytes(2, 40 * 4096, 0, 26, 0x10e0)).status, GpadlStatus::incomplete);
    const GpadlResult r = t.add(body_bytes(2, 14, 0x10e0 + 26));   // reaches 0x1100
    EXPECT_EQ(r.status, GpadlStatus::page_not_owned);
    EXPECT_EQ(r.gpadl, 2u);
    EXPECT_EQ(r.child_relid, 5u) << "for the failure answer";
    EXPECT_EQ(t.add(body_bytes(2, 1, 0x2000)).status, GpadlStatus::unknown_gpadl) << "dropped whole";
}

TEST(VmbusGpadl, NoOwnershipFunctionOwnsNothing) {
    std::vector<uint64_t> store(4);
    Gpadl slot;
    slot.pfns = store.data();
    slot.capacity = 4;
    GpadlTable table(&slot, 1, Platform{});
    const auto m = header_bytes(1, 4096, 0, 1, 0x2000);
    Parsed p;
    ASSERT_EQ(parse(m.data(), static_cast<uint32_t>(m.size()), p), MessageError::ok);
    EXPECT_EQ(table.add(p).status, GpadlStatus::page_not_owned);
}

TEST(VmbusGpadl, RefusesBodiesForUnknownGpadlsAndSurplusPfns) {
    Table t;
    EXPECT_EQ(t.add(body_bytes(9, 1, 0x2000)).status, GpadlStatus::unknown_gpadl);
    ASSERT_EQ(t.add(header_bytes(9, 30 * 4096, 0, 26, 0x2000)).status, GpadlStatus::incomplete);
    const GpadlResult r = t.add(body_bytes(9, 5, 0x2000 + 26));
    EXPECT_EQ(r.status, GpadlStatus::too_many_pfns) << "4 were due";
    EXPECT_EQ(t.add(body_bytes(9, 4, 0x2000 + 26)).status, GpadlStatus::unknown_gpadl) << "dropped whole";
    EXPECT_EQ(t.add(body_bytes(10, 1, 0x2000)).status, GpadlStatus::unknown_gpadl);
}

TEST(VmbusGpadl, RunsOutOfSlots) {
    Table t;
    ASSERT_EQ(t.add(header_bytes(1, 4096, 0, 1, 0x2000)).status, GpadlStatus::complete);
    ASSERT_EQ(t.add(header_bytes(2, 8 * 4096, 0, 8, 0x2000)).status, GpadlStatus::complete) << "the large slot";
    EXPECT_EQ(t.add(header_bytes(3, 4096, 0, 1, 0x2000)).status, GpadlStatus::no_free_slot);
    ASSERT_TRUE(t.table.release(2));
    EXPECT_EQ(t.add(header_bytes(3, 4096, 0, 1, 0x2000)).status, GpadlStatus::complete);
}

TEST(VmbusGpadl, OtherMessagesAreNotGpadls) {
    Table t;
    const auto m = make_message<RequestOffers>();
    Parsed p;
    ASSERT_EQ(parse(&m, sizeof m, p), MessageError::ok);
    EXPECT_EQ(t.table.add(p).status, GpadlStatus::not_gpadl_message);
}
