#include <gtest/gtest.h>

#include <vector>

#include "svm/bitmaps.hpp"

namespace {

TEST(Msrpm, RangesAndBitPositions) {
    std::vector<uint8_t> m(svm::msrpm_bytes, 0);
    struct {
        uint32_t msr;
        size_t byte;
        int bit;
    } cases[] = {{0, 0, 0},           {0x1fff, 0x7ff, 6},      {0xc0000000, 0x800, 0},
                 {0xc0000081, 0x820, 2}, {0xc0010000, 0x1000, 0}, {0xc0011fff, 0x17ff, 6}};
    for (auto& c : cases) {
        std::fill(m.begin(), m.end(), 0);
        ASSERT_TRUE(svm::set_msr_intercept(m.data(), c.msr, true, false));
        EXPECT_EQ(m[c.byte], 1u << c.bit) << std::hex << c.msr;
        ASSERT_TRUE(svm::set_msr_intercept(m.data(), c.msr, false, true));
        EXPECT_EQ(m[c.byte], 2u << c.bit) << std::hex << c.msr;
        auto r = svm::msr_intercepted(m.data(), c.msr);
        EXPECT_FALSE(r.read);
        EXPECT_TRUE(r.write);
    }
}

TEST(Msrpm, OutsideRangesAlwaysIntercepted) {
    std::vector<uint8_t> m(svm::msrpm_bytes, 0);
    for (uint32_t msr : {0x2000u, 0xbfffffffu, 0xc0002000u, 0xc000ffffu, 0xc0012000u, 0xffffffffu}) {
        EXPECT_FALSE(svm::set_msr_intercept(m.data(), msr, false, false)) << std::hex << msr;
        auto r = svm::msr_intercepted(m.data(), msr);
        EXPECT_TRUE(r.read && r.write);
    }
    for (uint8_t b : m)
        EXPECT_EQ(b, 0);
}

TEST(Msrpm, FillAndClearOne) {
    std::vector<uint8_t> m(svm::msrpm_bytes);
    svm::msrpm_fill(m.data(), true);
    ASSERT_TRUE(svm::set_msr_intercept(m.data(), 0x10, false, false));
    EXPECT_EQ(m[4], 0xfc);
    EXPECT_TRUE(svm::msr_intercepted(m.data(), 0x11).read);
}

TEST(Iopm, OneBitPerPort) {
    std::vector<uint8_t> m(svm::iopm_bytes, 0);
    svm::set_io_intercept(m.data(), 0x3f8, true);
    EXPECT_EQ(m[0x7f], 1);
    svm::set_io_intercept(m.data(), 0xffff, true);
    EXPECT_EQ(m[0x1fff], 0x80);
    EXPECT_TRUE(svm::io_intercepted(m.data(), 0x3f8));
    EXPECT_FALSE(svm::io_intercepted(m.data(), 0x3f9));
    svm::set_io_intercept(m.data(), 0x3f8, false);
    EXPECT_EQ(m[0x7f], 0);
}

TEST(Iopm, RangeStopsAtLastPort) {
    std::vector<uint8_t> m(svm::iopm_bytes, 0);
    svm::set_io_intercept_range(m.data(), 0xfff0, 0x100, true);
    EXPECT_EQ(m[0x1ffe], 0xff);
    EXPECT_EQ(m[0x1fff], 0xff);
    EXPECT_EQ(m[0x2000], 0);
    svm::iopm_fill(m.data(), true);
    EXPECT_EQ(m[svm::iopm_bytes - 1], 0xff);
}

} // namespace
