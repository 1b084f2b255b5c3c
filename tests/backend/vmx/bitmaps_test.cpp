// MSR bitmap (SDM vol 3 24.6.9) and I/O bitmap (24.6.4) setters.
#include <gtest/gtest.h>

#include <vector>

#include "vmx/bitmaps.hpp"

namespace {

TEST(MsrBitmap, InterceptAllThenOpenOneMsrPerDirection) {
    std::vector<uint8_t> bm(vmx::msr_bitmap_bytes, 0);
    vmx::msr_bitmap_intercept_all(bm.data());
    EXPECT_TRUE(vmx::msr_bitmap_exits(bm.data(), 0x10, false));
    ASSERT_TRUE(vmx::msr_bitmap_set(bm.data(), 0x10, false, true));
    EXPECT_FALSE(vmx::msr_bitmap_exits(bm.data(), 0x10, false));
    EXPECT_TRUE(vmx::msr_bitmap_exits(bm.data(), 0x10, true));
    EXPECT_TRUE(vmx::msr_bitmap_exits(bm.data(), 0x11, false));
}

TEST(MsrBitmap, QuartersSitWhereTheSdmSays) {
    std::vector<uint8_t> bm(vmx::msr_bitmap_bytes, 0);
    ASSERT_TRUE(vmx::msr_bitmap_set(bm.data(), 0x1fff, true, false));        // read low, last bit
    EXPECT_EQ(bm[1023], 0x80);
    ASSERT_TRUE(vmx::msr_bitmap_set(bm.data(), 0xc0000000, true, false));    // read high, first bit
    EXPECT_EQ(bm[1024], 0x01);
    ASSERT_TRUE(vmx::msr_bitmap_set(bm.data(), 0x0, false, true));           // write low
    EXPECT_EQ(bm[2048], 0x01);
    ASSERT_TRUE(vmx::msr_bitmap_set(bm.data(), 0xc0001fff, false, true));    // write high, last bit
    EXPECT_EQ(bm[4095], 0x80);
    size_t set = 0;
    for (uint8_t b : bm)
        set += static_cast<size_t>(__builtin_popcount(b));
    EXPECT_EQ(set, 4u);
}

TEST(MsrBitmap, OutsideBothRangesAlwaysExits) {
    std::vector<uint8_t> bm(vmx::msr_bitmap_bytes, 0);
    for (uint32_t msr : {0x2000u, 0x40000000u, 0xbfffffffu, 0xc0002000u, 0xffffffffu}) {
        EXPECT_FALSE(vmx::msr_bitmap_set(bm.data(), msr, false, false)) << msr;
        EXPECT_TRUE(vmx::msr_bitmap_exits(bm.data(), msr, false)) << msr;
        EXPECT_TRUE(vmx::msr_bitmap_exits(bm.data(), msr, true)) << msr;
    }
    for (uint8_t b : bm)
        EXPECT_EQ(b, 0);
}

TEST(IoBitmap, PortsSplitOverPagesAAndB) {
    std::vector<uint8_t> bm(vmx::io_bitmap_bytes, 0);
    vmx::io_bitmap_set(bm.data(), 0x7fff, true);
    vmx::io_bitmap_set(bm.data(), 0x8000, true);
    EXPECT_EQ(bm[4095], 0x80);   // last bit of A
    EXPECT_EQ(bm[4096], 0x01);   // first bit of B
    EXPECT_TRUE(vmx::io_bitmap_exits(bm.data(), 0x7fff, 1));
    EXPECT_FALSE(vmx::io_bitmap_exits(bm.data(), 0x7ffe, 1));
}

TEST(IoBitmap, WideAccessExitsIfAnyPortDoesAndWhenItWraps) {
    std::vector<uint8_t> bm(vmx::io_bitmap_bytes, 0);
    vmx::io_bitmap_set(bm.data(), 0x3fb, true);
    EXPECT_TRUE(vmx::io_bitmap_exits(bm.data(), 0x3f8, 4));
    EXPECT_FALSE(vmx::io_bitmap_exits(bm.data(), 0x3f8, 2));
    EXPECT_TRUE(vmx::io_bitmap_exits(bm.data(), 0xfffe, 4));
    EXPECT_FALSE(vmx::io_bitmap_exits(bm.data(), 0xfffc, 4));
    vmx::io_bitmap_intercept_all(bm.data());
    vmx::io_bitmap_set(bm.data(), 0x80, false);
    EXPECT_FALSE(vmx::io_bitmap_exits(bm.data(), 0x80, 1));
    EXPECT_TRUE(vmx::io_bitmap_exits(bm.data(), 0x80, 2));
}

} // namespace
