#include <gtest/gtest.h>

#include "svm/decode.hpp"
#include "vmcb_fixture.hpp"

using hv::virt::ExitKind;
using svm::Features;

namespace {

Features with_nrip(bool nrip, bool decode = false) {
    Features f;
    f.svm = f.npt = true;
    f.nrip_save = nrip;
    f.decode_assists = decode;
    return f;
}

hv::virt::Intercept decode(uint64_t code, uint64_t i1, uint64_t i2, uint64_t rip, uint64_t nrip, const Features& f) {
    auto v = svm_test::zeroed_vmcb();
    v->control.exit_code = code;
    v->control.exit_info1 = i1;
    v->control.exit_info2 = i2;
    v->control.next_rip = nrip;
    v->save.rip = rip;
    return svm::decode_exit(*v, f);
}

TEST(Decode, InstructionLengthOnlyFromNripSave) {
    EXPECT_EQ(decode(0x72, 0, 0, 0x1000, 0x1002, with_nrip(true)).instruction_length, 2);
    EXPECT_EQ(decode(0x72, 0, 0, 0x1000, 0x1002, with_nrip(false)).instruction_length, 0);
    // A stale nRIP (behind RIP, or too far) is never trusted.
    EXPECT_EQ(decode(0x72, 0, 0, 0x1000, 0x0fff, with_nrip(true)).instruction_length, 0);
    EXPECT_EQ(decode(0x72, 0, 0, 0x1000, 0x1010, with_nrip(true)).instruction_length, 0);
    // Faults and interrupts are not instruction intercepts: nRIP is ignored.
    EXPECT_EQ(decode(0x400, 0, 0x5000, 0x1000, 0x1002, with_nrip(true)).instruction_length, 0);
    EXPECT_EQ(decode(0x60, 0, 0, 0x1000, 0x1002, with_nrip(true)).instruction_length, 0);
}

TEST(Decode, SimpleKinds) {
    struct {
        uint64_t code;
        ExitKind kind;
    } cases[] = {
        {0x72, ExitKind::cpuid},          {0x81, ExitKind::hypercall},        {0x78, ExitKind::hlt},
        {0x60, ExitKind::external_interrupt}, {0x61, ExitKind::nmi},         {0x63, ExitKind::init_signal},
        {0x64, ExitKind::interrupt_window}, {0x7f, ExitKind::triple_fault},  {0x8d, ExitKind::xsetbv},
        {0x76, ExitKind::invd},           {0x77, ExitKind::pause},            {0x80, ExitKind::virt_instruction},
        {0x82, ExitKind::virt_instruction}, {0x83, ExitKind::virt_instruction}, {0x84, ExitKind::virt_instruction},
        {0x85, ExitKind::virt_instruction}, {0x86, ExitKind::virt_instruction}, {0x7a, ExitKind::virt_instruction},
    };
    for (auto& c : cases) {
        auto x = decode(c.code, 0, 0, 0, 0, with_nrip(false));
        EXPECT_EQ(x.kind, c.kind) << std::hex << c.code;
        EXPECT_EQ(x.raw_reason, c.code);
    }
}

TEST(Decode, Msr) {
    EXPECT_EQ(decode(0x7c, 0, 0, 0, 0, with_nrip(false)).kind, ExitKind::msr_read);
    EXPECT_EQ(decode(0x7c, 1, 0, 0, 0, with_nrip(false)).kind, ExitKind::msr_write);
}

TEST(Decode, IoioFieldsAndLengthFromExitInfo2) {
    // OUT DX, AX to 0x510: size16, not IN; EXITINFO2 = next RIP even without NRIP-save.
    auto x = decode(0x7b, (0x510ull << 16) | svm::ioio::size16, 0x1002, 0x1000, 0, with_nrip(false));
    EXPECT_EQ(x.kind, ExitKind::io);
    EXPECT_EQ(x.io.port, 0x510);
    EXPECT_EQ(x.io.size, 2);
    EXPECT_FALSE(x.io.in);
    EXPECT_FALSE(x.io.string);
    EXPECT_FALSE(x.io.rep);
    EXPECT_EQ(x.instruction_length, 2);
    // REP INSD from 0xcfc.
    x = decode(0x7b, (0xcfcull << 16) | svm::ioio::size32 | svm::ioio::in | svm::ioio::string | svm::ioio::rep,
               0x2003, 0x2000, 0, with_nrip(true));
    EXPECT_EQ(x.io.port, 0xcfc);
    EXPECT_EQ(x.io.size, 4);
    EXPECT_TRUE(x.io.in && x.io.string && x.io.rep);
    EXPECT_EQ(x.instruction_length, 3);
    EXPECT_EQ(decode(0x7b, svm::ioio::size8, 0x1, 0x0, 0, with_nrip(false)).io.size, 1);
}

TEST(Decode, NestedPageFault) {
    auto x = decode(0x400, svm::npf::final_translation, 0x200000, 0x1000, 0, with_nrip(false));
    EXPECT_EQ(x.kind, ExitKind::gpa_access);
    EXPECT_EQ(x.gpa.gpa, 0x200000u);
    EXPECT_TRUE(x.gpa.read);
    EXPECT_FALSE(x.gpa.write || x.gpa.execute || x.gpa.present || x.gpa.gva_valid);
    x = decode(0x400, svm::npf::present | svm::npf::write, 0x3000, 0, 0, with_nrip(false));
    EXPECT_TRUE(x.gpa.write && x.gpa.present);
    EXPECT_FALSE(x.gpa.read || x.gpa.execute);
    x = decode(0x400, svm::npf::fetch | svm::npf::user, 0x4000, 0, 0, with_nrip(false));
    EXPECT_TRUE(x.gpa.execute);
    EXPECT_FALSE(x.gpa.read || x.gpa.write);
}

TEST(Decode, ExceptionsAndErrorCodes) {
    auto x = decode(0x40 + 14, 0x2, 0xdead000, 0, 0, with_nrip(false));
    EXPECT_EQ(x.kind, ExitKind::exception);
    EXPECT_EQ(x.exception.vector, 14);
    EXPECT_TRUE(x.exception.has_error_code);
    EXPECT_EQ(x.exception.error_code, 2u);
    EXPECT_EQ(x.exception.cr2, 0xdead000u);
    x = decode(0x40 + 6, 0x1234, 0x99, 0, 0, with_nrip(false));   // #UD: EXITINFO1 is noise
    EXPECT_EQ(x.exception.vector, 6);
    EXPECT_FALSE(x.exception.has_error_code);
    EXPECT_EQ(x.exception.error_code, 0u);
    EXPECT_EQ(x.exception.cr2, 0u);
    EXPECT_TRUE(decode(0x40 + 13, 8, 0, 0, 0, with_nrip(false)).exception.has_error_code);
    for (int v : {8, 10, 11, 12, 13, 14, 17, 21, 29, 30})
        EXPECT_TRUE(svm::exception_has_error_code(static_cast<uint8_t>(v))) << v;
    for (int v : {0, 1, 2, 3, 4, 5, 6, 7, 9, 16, 18, 19})
        EXPECT_FALSE(svm::exception_has_error_code(static_cast<uint8_t>(v))) << v;
}

TEST(Decode, CrAccessWithAndWithoutDecodeAssists) {
    auto x = decode(0x13, (1ull << 63) | 5, 0, 0, 0, with_nrip(true, true));
    EXPECT_EQ(x.kind, ExitKind::cr_access);
    EXPECT_EQ(x.cr.cr, 3);
    EXPECT_TRUE(x.cr.write);
    EXPECT_EQ(x.cr.gpr, 5);
    x = decode(0x04, (1ull << 63) | 5, 0, 0, 0, with_nrip(false, false));
    EXPECT_EQ(x.cr.cr, 4);
    EXPECT_FALSE(x.cr.write);
    EXPECT_EQ(x.cr.gpr, 0xff);
    x = decode(0x65, 0, 0, 0, 0, with_nrip(false));   // selective CR0 write
    EXPECT_EQ(x.cr.cr, 0);
    EXPECT_TRUE(x.cr.write);
}

TEST(Decode, InvalidComparesLow32BitsAndNamesCheck) {
    for (uint64_t code : {0xffffffffull, ~0ull}) {
        auto x = decode(code, 0, 0, 0, 0, with_nrip(false));   // zeroed VMCB: EFER.SVME clear
        EXPECT_EQ(x.kind, ExitKind::invalid_state);
        EXPECT_EQ(x.entry.code, 0xffffffffu);
        EXPECT_STREQ(x.entry.check, "guest EFER.SVME is clear");
    }
    EXPECT_EQ(decode(0xfffffffe, 0, 0, 0, 0, with_nrip(false)).kind, ExitKind::invalid_state);
}

TEST(Decode, UnknownCodesAreTotal) {
    Features f = with_nrip(true, true);
    uint64_t seed = 88172645463325252ull;
    for (uint64_t code = 0; code < 0x500; ++code) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        auto x = decode(code, seed, ~seed, seed >> 3, seed >> 5, f);
        EXPECT_NE(x.kind, ExitKind::none);
        EXPECT_EQ(x.raw_reason, code);
        EXPECT_LE(x.instruction_length, 15);
    }
    auto x = decode(0x6e, 0, 0, 0, 0, f);   // RDTSC: no neutral kind
    EXPECT_EQ(x.kind, ExitKind::unknown);
    EXPECT_EQ(x.raw_reason, 0x6eu);
}

} // namespace
