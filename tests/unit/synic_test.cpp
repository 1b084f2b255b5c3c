// The SynIC's pure parts (hv/virt/synic.hpp): SINT register validation and decoding, the page
// registers, and the bounded FIFO of messages waiting for a busy slot.
#include "hv/virt/synic.hpp"

#include <gtest/gtest.h>

namespace {

using namespace hv::virt;
using Pool = MessagePool<16>;

TEST(SynicRegisters, SintValidation) {
    EXPECT_TRUE(sint_valid(0x10));
    EXPECT_TRUE(sint_valid(0xff | sint_reg::masked | sint_reg::auto_eoi | sint_reg::polling));
    EXPECT_FALSE(sint_valid(0x0f));                  // exception vectors
    EXPECT_FALSE(sint_valid(0));
    EXPECT_TRUE(sint_valid(sint_reg::masked));        // the reset value writes back
    EXPECT_TRUE(sint_valid(0x0f | sint_reg::masked)); // masked: the vector is not used
    EXPECT_FALSE(sint_valid(0x50 | (1ull << 8)));     // 15:8 reserved
    EXPECT_FALSE(sint_valid(0x50 | (1ull << 19)));    // 63:19 reserved
    EXPECT_FALSE(sint_valid(0x50 | (1ull << 63)));
}

TEST(SynicRegisters, SintDecoding) {
    EXPECT_EQ(sint_vector(0x1234 | sint_reg::masked), 0x34);
    EXPECT_TRUE(sint_interrupts(0x50));
    EXPECT_TRUE(sint_interrupts(0x50 | sint_reg::auto_eoi));
    EXPECT_FALSE(sint_interrupts(0x50 | sint_reg::masked));
    EXPECT_FALSE(sint_interrupts(0x50 | sint_reg::polling));   // unmasked, but no interrupt
    SynicVp vp;
    for (uint64_t s : vp.sint)
        EXPECT_EQ(s, sint_reg::masked);   // every SINT starts masked
}

TEST(SynicRegisters, PagesNeedSynicAndEnable) {
    EXPECT_TRUE(page_reg_valid(0x12345000 | 1));
    EXPECT_FALSE(page_reg_valid(0x12345000 | 2));
    SynicVp vp;
    vp.simp = 0x1000 | 1;
    EXPECT_FALSE(vp.simp_on());   // SCONTROL off
    vp.scontrol = 1;
    EXPECT_TRUE(vp.simp_on());
    EXPECT_FALSE(vp.siefp_on());
}

TEST(SynicQueue, FifoPerSlot) {
    Pool pool;
    SlotKey a{1, 0, 2}, b{1, 1, 2};
    uint64_t w = 0;
    for (uint32_t i = 0; i < 3; i++) {
        w = 100 + i;
        ASSERT_EQ(pool.push(a, make_message(0x42, 1, &w, 8)), Pool::Push::ok);
        w = 200 + i;
        ASSERT_EQ(pool.push(b, make_message(0x43, 2, &w, 8)), Pool::Push::ok);
    }
    EXPECT_EQ(pool.count(a), 3u);
    tlfs::root::Message m;
    for (uint32_t i = 0; i < 3; i++) {
        ASSERT_TRUE(pool.pop(a, m));
        EXPECT_EQ(m.payload[0], 100 + i);
        EXPECT_EQ(static_cast<uint32_t>(m.header.type), 0x42u);
        EXPECT_EQ(m.header.payload_size, 8);
        EXPECT_EQ(m.header.origin, 1u);
    }
    EXPECT_FALSE(pool.pop(a, m));
    EXPECT_EQ(pool.count(b), 3u);
}

TEST(SynicQueue, BoundedPerSlotAndPool) {
    Pool pool;
    uint64_t w = 1;
    SlotKey a{1, 0, 2};
    for (uint32_t i = 0; i < messages_queued_per_sint; i++)
        ASSERT_EQ(pool.push(a, make_message(1, 1, &w, 8)), Pool::Push::ok);
    EXPECT_EQ(pool.push(a, make_message(1, 1, &w, 8)), Pool::Push::slot_full);
    SlotKey b{2, 0, 2};
    for (uint32_t i = 0; i < 8; i++)
        ASSERT_EQ(pool.push(b, make_message(1, 1, &w, 8)), Pool::Push::ok);
    EXPECT_EQ(pool.push(SlotKey{3, 0, 0}, make_message(1, 1, &w, 8)), Pool::Push::pool_full);
    pool.drop(2);
    EXPECT_EQ(pool.count(b), 0u);
    EXPECT_EQ(pool.push(SlotKey{3, 0, 0}, make_message(1, 1, &w, 8)), Pool::Push::ok);
}

TEST(SynicQueue, DropOneVp) {
    Pool pool;
    uint64_t w = 1;
    ASSERT_EQ(pool.push(SlotKey{5, 0, 1}, make_message(1, 1, &w, 8)), Pool::Push::ok);
    ASSERT_EQ(pool.push(SlotKey{5, 1, 1}, make_message(1, 1, &w, 8)), Pool::Push::ok);
    pool.drop(5, 1);
    EXPECT_EQ(pool.count(SlotKey{5, 0, 1}), 1u);
    EXPECT_EQ(pool.count(SlotKey{5, 1, 1}), 0u);
}

TEST(SynicMessage, OnlyThePayloadIsCopied) {
    uint8_t payload[240];
    for (int i = 0; i < 240; i++)
        payload[i] = static_cast<uint8_t>(i + 1);
    auto m = make_message(0x99, 7, payload, 5);
    auto* bytes = reinterpret_cast<const uint8_t*>(m.payload);
    EXPECT_EQ(bytes[4], 5);
    EXPECT_EQ(bytes[5], 0);
    EXPECT_EQ(m.header.flags, 0);
}

} // namespace
