#include <gtest/gtest.h>

#include "svm/checks.hpp"
#include "svm/vcpu.hpp"
#include "vmcb_fixture.hpp"

namespace {

struct Checks : ::testing::Test {
    std::unique_ptr<svm::Vmcb> vmcb = svm_test::zeroed_vmcb();
    alignas(4096) uint8_t xsave[4096];
    svm::Features f;
    std::unique_ptr<svm::Vcpu> vcpu;
    void SetUp() override {
        f.svm = f.npt = true;
        f.asid_count = 16;
        vcpu.reset(new svm::Vcpu({vmcb.get(), hv::PhysAddr(0x10000), xsave},
                                 {hv::PhysAddr(0x20000), hv::PhysAddr(0x30000), hv::PhysAddr(0x40000), 1}, f));
        vcpu->reset({hv::virt::StartState::Mode::long_mode, 0, 0x1000, 0x2000, 0x3000, 0, 0});
    }
    const char* check() { return svm::check_vmcb(*vmcb, f); }
};

TEST_F(Checks, ResetStatesPass) {
    EXPECT_EQ(check(), nullptr);
    vcpu->reset({hv::virt::StartState::Mode::real_mode_sipi, 0x9a, 0, 0, 0, 0, 0});
    EXPECT_EQ(check(), nullptr);
}

TEST_F(Checks, EachViolationIsNamed) {
    struct {
        void (*break_it)(svm::Vmcb&);
        const char* words;
    } cases[] = {
        {[](svm::Vmcb& v) { v.save.efer &= ~svm::efer_svme; }, "EFER.SVME"},
        {[](svm::Vmcb& v) { v.save.efer |= 1ull << 2; }, "EFER has a must-be-zero"},
        {[](svm::Vmcb& v) { v.save.cr0 = (v.save.cr0 & ~(1ull << 30)) | (1ull << 29); }, "CR0.NW"},
        {[](svm::Vmcb& v) { v.save.cr0 |= 1ull << 40; }, "CR0[63:32]"},
        {[](svm::Vmcb& v) { v.save.cr3 |= 1ull << 60; }, "CR3"},
        {[](svm::Vmcb& v) { v.save.cr4 |= 1ull << 13; }, "CR4"},
        {[](svm::Vmcb& v) { v.save.dr6 |= 1ull << 33; }, "DR6"},
        {[](svm::Vmcb& v) { v.save.dr7 |= 1ull << 33; }, "DR7"},
        {[](svm::Vmcb& v) { v.save.cr4 &= ~0x20ull; }, "CR4.PAE clear"},
        {[](svm::Vmcb& v) { v.save.cr0 &= ~1ull; }, "CR0.PE clear"},
        {[](svm::Vmcb& v) { v.save.cs.attrib |= 1u << 10; }, "CS.L and CS.D"},
        {[](svm::Vmcb& v) { v.control.intercept_misc2 &= ~svm::misc2_vmrun; }, "VMRUN intercept"},
        {[](svm::Vmcb& v) { v.control.guest_asid = 0; }, "ASID is 0"},
        {[](svm::Vmcb& v) { v.control.guest_asid = 16; }, "beyond CPUID"},
        {[](svm::Vmcb& v) { v.control.event_inj = svm::event::valid | (1ull << 8); }, "EVENTINJ"},
        {[](svm::Vmcb& v) { v.control.msrpm_base_pa = 1ull << 55; }, "MSRPM"},
        {[](svm::Vmcb& v) { v.control.iopm_base_pa = 1ull << 55; }, "IOPM"},
        {[](svm::Vmcb& v) { v.control.n_cr3 = 1ull << 55; }, "nested CR3"},
        {[](svm::Vmcb& v) { v.save.g_pat = 0x0007040600070402ull; }, "G_PAT"},
    };
    for (auto& c : cases) {
        SetUp();
        c.break_it(*vmcb);
        const char* why = check();
        ASSERT_NE(why, nullptr) << c.words;
        EXPECT_NE(std::string(why).find(c.words), std::string::npos) << why << " / " << c.words;
    }
}

TEST(EventInjection, TypeAndVectorRules) {
    using namespace svm::event;
    EXPECT_TRUE(svm::event_injection_valid(0));
    EXPECT_TRUE(svm::event_injection_valid(encode(intr, 0x40, false, 0)));
    EXPECT_TRUE(svm::event_injection_valid(encode(nmi, 2, false, 0)));
    EXPECT_TRUE(svm::event_injection_valid(encode(exception, 13, true, 0)));
    EXPECT_TRUE(svm::event_injection_valid(encode(soft_int, 0x80, false, 0)));
    EXPECT_FALSE(svm::event_injection_valid(encode(exception, 2, false, 0)));
    EXPECT_FALSE(svm::event_injection_valid(encode(exception, 32, false, 0)));
    for (uint64_t t : {1u, 5u, 6u, 7u})
        EXPECT_FALSE(svm::event_injection_valid(valid | (t << type_shift)));
}

} // namespace
