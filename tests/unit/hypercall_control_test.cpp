// The control word and result value (TLFS 3.7, 3.8) and the table's shape.
#include <gtest/gtest.h>

#include "tests/fuzz/fake_platform.hpp"

namespace {

using hypercalls::Control;
namespace cw = tlfs::control;

TEST(HypercallControl, DecodesEveryField) {
    Control c;
    ASSERT_TRUE(hypercalls::decode_control(cw::make(0x1234, true, 0xabc, 0x123, 0x3ff), c));
    EXPECT_EQ(c.code, 0x1234);
    EXPECT_TRUE(c.fast);
    EXPECT_EQ(c.rep_count, 0xabc);
    EXPECT_EQ(c.rep_start, 0x123);
    EXPECT_EQ(c.var_qwords, 0x3ff);
    EXPECT_EQ(hypercalls::encode_control(c), cw::make(0x1234, true, 0xabc, 0x123, 0x3ff));
}

TEST(HypercallControl, EveryReservedBitIsRefused) {
    for (unsigned bit = 0; bit < 64; bit++) {
        Control c;
        bool ok = hypercalls::decode_control(1ull << bit, c);
        bool field = bit <= 26 || (bit >= 32 && bit <= 43) || (bit >= 48 && bit <= 59);
        EXPECT_EQ(ok, field) << "bit " << bit;
    }
}

TEST(HypercallControl, ResumeMovesOnlyTheStartIndex) {
    uint64_t raw = cw::make(0x50, false, 100, 3, 2);
    uint64_t next = hypercalls::with_rep_start(raw, 35);
    Control c;
    ASSERT_TRUE(hypercalls::decode_control(next, c));
    EXPECT_EQ(c.rep_start, 35);
    EXPECT_EQ(next & ~cw::rep_start_mask, raw & ~cw::rep_start_mask);
}

TEST(HypercallControl, ResultPacksStatusAndReps) {
    uint64_t r = hypercalls::make_result(tlfs::Status::invalid_parameter, 0xfff);
    EXPECT_EQ(tlfs::result::status(r), 5);
    EXPECT_EQ(tlfs::result::reps(r), 0xfff);
    EXPECT_EQ(r >> 44, 0u);
}

TEST(HypercallTable, CodesAreUniqueAndReservedSlotsHaveNoHandler) {
    const auto& t = hypercalls::table<hcfake::FakePlatform>;
    for (size_t i = 0; i < std::size(t); i++) {
        for (size_t j = i + 1; j < std::size(t); j++)
            EXPECT_NE(t[i].spec.code, t[j].spec.code);
        EXPECT_EQ(t[i].spec.kind == hypercalls::Kind::reserved, t[i].fn == nullptr);
        // A register form carries at most 16 bytes and never has output (no XMM input offered).
        if (t[i].spec.fast_ok) {
            EXPECT_TRUE(t[i].spec.in_fixed <= 16 && !t[i].spec.out_fixed && !t[i].spec.out_rep);
        }
    }
    for (uint16_t code : {0x40, 0x45, 0x48, 0x4f, 0x94, 0x99, 0xc2})
        EXPECT_NE(hypercalls::lookup<hcfake::FakePlatform>(code), nullptr);
    EXPECT_EQ(hypercalls::lookup<hcfake::FakePlatform>(0x7), nullptr);
}

} // namespace
