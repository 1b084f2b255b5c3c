// Control adjustment (SDM vol 3 A.3), CR fixed bits (A.7/A.8), XCR0 rules, names.
#include <gtest/gtest.h>

#include <cstring>

#include "vmx/caps.hpp"
#include "vmx/guest_check.hpp"
#include "vmx/vmcs.hpp"

namespace {

TEST(AdjustControls, Allowed0ForcesAndAllowed1Limits) {
    // allowed-0 (low half) forces bits 1 and 2; allowed-1 (high half) permits bits 0-7.
    constexpr uint64_t cap = (0xffull << 32) | 0x6;
    auto r = vmx::adjust_controls(0x81, cap);
    EXPECT_EQ(r.value, 0x87u);
    EXPECT_EQ(r.unsupported, 0u);
}

TEST(AdjustControls, ReportsDesiredBitsTheProcessorCannotSet) {
    constexpr uint64_t cap = (0x0full << 32) | 0x1;
    auto r = vmx::adjust_controls(0x30 | 0x2, cap);
    EXPECT_EQ(r.unsupported, 0x30u);
    EXPECT_EQ(r.value, 0x3u);
    EXPECT_EQ(vmx::supported_subset(0x30 | 0x2, cap), 0x2u);
}

TEST(AdjustControls, SkylakeTrueProcbasedClearsCr3Exiting) {
    // TRUE_PROCBASED_CTLS: CR3 load/store exiting are allowed to be 0 (A.3.2).
    constexpr uint64_t cap = 0xfff9fffe04006172ull;
    auto r = vmx::adjust_controls(vmx::primary_hlt_exiting | vmx::primary_secondary_controls, cap);
    EXPECT_EQ(r.unsupported, 0u);
    EXPECT_EQ(r.value & (vmx::primary_cr3_load_exiting | vmx::primary_cr3_store_exiting), 0u);
}

TEST(FixedBits, ApplyAndFit) {
    constexpr uint64_t fixed0 = 0x80000021, fixed1 = 0xffffffff;
    EXPECT_EQ(vmx::apply_fixed(0x10, fixed0, fixed1), 0x80000031u);
    EXPECT_FALSE(vmx::fits_fixed(0x10, fixed0, fixed1));
    EXPECT_TRUE(vmx::fits_fixed(0x80000031, fixed0, fixed1));
    EXPECT_EQ(vmx::apply_fixed(1ull << 40, 0, fixed1), 0u);
}

TEST(Xcr0, Rules) {
    constexpr uint64_t all = 0x2e7;   // x87 SSE AVX opmask ZMM_hi256 Hi16_ZMM PKRU
    EXPECT_TRUE(vmx::xcr0_valid(1, all));
    EXPECT_TRUE(vmx::xcr0_valid(3, all));
    EXPECT_TRUE(vmx::xcr0_valid(7, all));
    EXPECT_TRUE(vmx::xcr0_valid(0xe7, all));
    EXPECT_FALSE(vmx::xcr0_valid(0, all));       // x87 clear
    EXPECT_FALSE(vmx::xcr0_valid(2, all));
    EXPECT_FALSE(vmx::xcr0_valid(5, all));       // AVX without SSE
    EXPECT_FALSE(vmx::xcr0_valid(0x67, all));    // partial AVX-512
    EXPECT_FALSE(vmx::xcr0_valid(0xe3, all));    // AVX-512 without AVX
    EXPECT_FALSE(vmx::xcr0_valid(0x0b, 0x1f));   // one MPX half
    EXPECT_TRUE(vmx::xcr0_valid(0x1b, 0x1f));
    EXPECT_FALSE(vmx::xcr0_valid(0x7 | 0x8, 0x7));   // not supported
    EXPECT_FALSE(vmx::xcr0_valid(0x20003, 0x60003)); // one AMX half
}

TEST(Names, VmInstructionErrorsAndExitReasons) {
    EXPECT_STREQ(vmx::vm_instruction_error_name(7), "VM entry with invalid control field(s)");
    EXPECT_STREQ(vmx::vm_instruction_error_name(8), "VM entry with invalid host-state field(s)");
    EXPECT_STREQ(vmx::vm_instruction_error_name(26), "VM entry with events blocked by MOV SS");
    EXPECT_STREQ(vmx::vm_instruction_error_name(14), "unknown VM-instruction error");
    EXPECT_STREQ(vmx::vm_instruction_error_name(0xffffffff), "unknown VM-instruction error");
    EXPECT_STREQ(vmx::exit_reason_name(48), "EPT violation");
    EXPECT_STREQ(vmx::exit_reason_name(999), "unknown exit reason");
}

TEST(AccessRights, NeutralAttributesRoundTrip) {
    EXPECT_EQ(vmx::ar_from_attr(0), vmx::ar_unusable);
    EXPECT_EQ(vmx::attr_from_ar(vmx::ar_unusable | 0x93), 0);
    EXPECT_EQ(vmx::ar_from_attr(0xa9b), 0xa09bu);   // 64-bit code: L and G move to 13 and 15
    EXPECT_EQ(vmx::attr_from_ar(0xc093), 0xc93);
    for (uint32_t a = 1; a < 0x1000; ++a)
        EXPECT_EQ(vmx::attr_from_ar(vmx::ar_from_attr(static_cast<uint16_t>(a))), a);
}

} // namespace
