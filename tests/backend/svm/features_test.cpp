#include <gtest/gtest.h>

#include "svm/xstate.hpp"

namespace {

TEST(Features, QemuMaxModel) {
    // HARNESS: QEMU 7.2 `-cpu max` reports EDX=0x10010001 (NPT, VGIF, SVME-addr-check), 16 ASIDs.
    svm::CpuidLeaves l{0x80000021, 1u << 2, 1, 16, 0x10010001, 1u << 26, 0x207, 0x340, 0};
    svm::Features f = svm::parse_features(l);
    EXPECT_TRUE(f.svm && f.npt && f.vgif);
    EXPECT_FALSE(f.nrip_save || f.vmcb_clean || f.flush_by_asid || f.decode_assists);
    EXPECT_EQ(f.asid_count, 16u);
    EXPECT_EQ(f.revision, 1);
    EXPECT_TRUE(f.xsave);
    EXPECT_EQ(f.xcr0_supported, 0x207u);
}

TEST(Features, BochsRyzenAndAbsentLeaves) {
    svm::CpuidLeaves l{0x8000001f, 1u << 2, 1, 32768, (1u << 0) | (1u << 1) | (1u << 3) | (1u << 6) | (1u << 10),
                       0, 0, 0, 0};
    svm::Features f = svm::parse_features(l);
    EXPECT_TRUE(f.npt && f.lbr_virt && f.nrip_save && f.flush_by_asid && f.pause_filter);
    EXPECT_EQ(f.asid_count, 32768u);
    EXPECT_FALSE(f.xsave);
    l.ext_max = 0x80000008;   // no SVM leaf: no features even with the SVM bit
    f = svm::parse_features(l);
    EXPECT_TRUE(f.svm);
    EXPECT_FALSE(f.npt);
    l.ext1_ecx = 0;
    EXPECT_FALSE(svm::parse_features(l).svm);
    EXPECT_NE(svm::describe(svm::Status::disabled_by_bios), nullptr);
}

TEST(Xcr0, AllowedWithholdsAmx) {
    svm::Features f;
    f.xsave = true;
    f.xcr0_supported = 0x602e7;   // x87 SSE AVX AVX-512 PKRU TILECFG TILEDATA
    EXPECT_EQ(svm::guest_xcr0_allowed(f), 0x2e7u);
    f.xsave = false;
    EXPECT_EQ(svm::guest_xcr0_allowed(f), 0u);
}

TEST(Xcr0, XsetbvRules) {
    const uint64_t all = 0x2ff | (3ull << 17);
    EXPECT_TRUE(svm::xcr0_valid(0, 0x1, all));
    EXPECT_TRUE(svm::xcr0_valid(0, 0x3, all));
    EXPECT_TRUE(svm::xcr0_valid(0, 0x7, all));
    EXPECT_TRUE(svm::xcr0_valid(0, 0xe7, all));
    EXPECT_TRUE(svm::xcr0_valid(0, 0x1b, all));
    EXPECT_TRUE(svm::xcr0_valid(0, 0x60003, all));
    EXPECT_FALSE(svm::xcr0_valid(1, 0x3, all));        // XCR1
    EXPECT_FALSE(svm::xcr0_valid(0, 0x2, all));        // x87 clear
    EXPECT_FALSE(svm::xcr0_valid(0, 0x5, all));        // AVX without SSE
    EXPECT_FALSE(svm::xcr0_valid(0, 0x67, all));       // AVX-512 partly
    EXPECT_FALSE(svm::xcr0_valid(0, 0xe3, all));       // AVX-512 without AVX
    EXPECT_FALSE(svm::xcr0_valid(0, 0xb, all));        // BNDREGS without BNDCSR
    EXPECT_FALSE(svm::xcr0_valid(0, 0x20003, all));    // TILEDATA without TILECFG
    EXPECT_FALSE(svm::xcr0_valid(0, 0x7, 0x3));        // not offered
    EXPECT_FALSE(svm::xcr0_valid(0, 1ull << 63 | 3, all));
}

} // namespace
