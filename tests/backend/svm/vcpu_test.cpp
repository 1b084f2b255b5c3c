#include <gtest/gtest.h>

#include "svm/vcpu.hpp"
#include "vmcb_fixture.hpp"

using hv::virt::Event;
using hv::virt::ExitKind;
using hv::virt::Gpr;
using hv::virt::Reg;
using hv::virt::Seg;
using hv::virt::StartState;

namespace {

struct VcpuTest : ::testing::Test {
    std::unique_ptr<svm::Vmcb> vmcb = svm_test::zeroed_vmcb();
    alignas(4096) uint8_t xsave[4096];
    svm::Features f;
    std::unique_ptr<svm::Vcpu> v;
    hv::virt::GuestGprs g{};

    void make(bool nrip) {
        f.svm = f.npt = true;
        f.nrip_save = nrip;
        f.xsave = true;
        v.reset(new svm::Vcpu({vmcb.get(), hv::PhysAddr(0x10000), xsave},
                              {hv::PhysAddr(0x20000), hv::PhysAddr(0x30000), hv::PhysAddr(0x40000), 7}, f));
    }
    void SetUp() override { make(false); }
    svm::VmcbControl& c() { return vmcb->control; }
    svm::VmcbSave& s() { return vmcb->save; }
};

TEST_F(VcpuTest, ConstructionSetsTheAlwaysOnIntercepts) {
    for (uint32_t bit : {svm::misc1_intr, svm::misc1_nmi, svm::misc1_init, svm::misc1_cpuid, svm::misc1_invd,
                         svm::misc1_hlt, svm::misc1_ioio_prot, svm::misc1_msr_prot, svm::misc1_shutdown})
        EXPECT_TRUE(c().intercept_misc1 & bit) << std::hex << bit;
    for (uint32_t bit : {svm::misc2_vmrun, svm::misc2_vmmcall, svm::misc2_vmload, svm::misc2_vmsave,
                         svm::misc2_stgi, svm::misc2_clgi, svm::misc2_skinit, svm::misc2_xsetbv})
        EXPECT_TRUE(c().intercept_misc2 & bit) << std::hex << bit;
    EXPECT_TRUE(c().int_ctl & svm::int_ctl::v_intr_masking);
    EXPECT_EQ(c().np_control, svm::np_enable);
    EXPECT_EQ(c().n_cr3, 0x20000u);
    EXPECT_EQ(c().msrpm_base_pa, 0x30000u);
    EXPECT_EQ(c().iopm_base_pa, 0x40000u);
    EXPECT_EQ(c().guest_asid, 7u);
    EXPECT_EQ(xsave[24], 0x80);   // MXCSR 0x1f80
    EXPECT_EQ(xsave[25], 0x1f);
    EXPECT_EQ(v->guest_xcr0(), 3u);
}

TEST_F(VcpuTest, RealModeSipiStart) {
    v->reset({StartState::Mode::real_mode_sipi, 0x9a, 0, 0, 0, 0, 0});
    auto cs = v->segment(Seg::cs);
    EXPECT_EQ(cs.selector, 0x9a00);
    EXPECT_EQ(cs.base, 0x9a000u);
    EXPECT_EQ(cs.limit, 0xffffu);
    EXPECT_EQ(v->read(Reg::rip), 0u);
    EXPECT_EQ(v->read(Reg::cr0), 0x60000010u);
    EXPECT_EQ(v->read(Reg::efer), 0u);           // SVME is the hypervisor's, not the guest's
    EXPECT_TRUE(s().efer & svm::efer_svme);
    EXPECT_EQ(v->read(Reg::rflags), 2u);
    // The core sets the GPRs at a start (hv::virt::start_gprs); the backend only mirrors
    // RAX and RSP into the VMCB, and never touches the others.
    hv::virt::start_gprs(g, {StartState::Mode::real_mode_sipi, 0x9a, 0, 0, 0, 0, 0});
    g.r[3] = 99;
    v->prepare_entry(g);
    EXPECT_EQ(g.r[3], 99u);
    EXPECT_EQ(s().rax, 0u);
    EXPECT_EQ(s().rsp, 0u);
}

TEST_F(VcpuTest, LongModeStartMirrorsCoreGprs) {
    StartState st{StartState::Mode::long_mode, 0, 0xffff800000001000, 0x8000, 0x5000, 0x11, 0x22};
    v->reset(st);
    hv::virt::start_gprs(g, st);
    EXPECT_EQ(v->read(Reg::efer), 0xd00u);       // LME | LMA | NXE
    EXPECT_EQ(v->read(Reg::cr3), 0x5000u);
    EXPECT_TRUE(v->read(Reg::cr0) & 0x80000001u);
    EXPECT_TRUE(v->read(Reg::cr4) & 0x20u);
    EXPECT_TRUE(v->segment(Seg::cs).attr & (1u << 9));   // L
    v->prepare_entry(g);
    EXPECT_EQ(g[Gpr::rsp], 0x8000u);
    EXPECT_EQ(g[Gpr::rdi], 0x11u);
    EXPECT_EQ(g[Gpr::rsi], 0x22u);
    EXPECT_EQ(s().rsp, 0x8000u);
    g[Gpr::rax] = 5;
    g[Gpr::rsp] = 0x7000;
    v->prepare_entry(g);                           // later entries mirror GuestGprs
    EXPECT_EQ(s().rax, 5u);
    EXPECT_EQ(s().rsp, 0x7000u);
    EXPECT_EQ(g[Gpr::rdi], 0x11u);
}

TEST_F(VcpuTest, CompleteExitMirrorsAndDecodes) {
    s().rax = 0x1234;
    s().rsp = 0x4321;
    c().exit_code = svm::exit::cpuid;
    c().tlb_control = svm::tlb_flush_all;
    auto x = v->complete_exit(g);
    EXPECT_EQ(x.kind, ExitKind::cpuid);
    EXPECT_EQ(g[Gpr::rax], 0x1234u);
    EXPECT_EQ(g[Gpr::rsp], 0x4321u);
    EXPECT_EQ(c().tlb_control, svm::tlb_nothing);
    EXPECT_FALSE(v->injection_pending());
}

TEST_F(VcpuTest, InterruptedDeliveryIsRequeued) {
    c().exit_code = svm::exit::npf;
    c().exit_int_info = svm::event::encode(svm::event::exception, 14, true, 0x6) | (1ull << 20);   // junk bit
    static_cast<void>(v->complete_exit(g));
    EXPECT_TRUE(v->injection_pending());
    EXPECT_EQ(c().event_inj, svm::event::encode(svm::event::exception, 14, true, 0x6));
    // Software events are raised again by re-executing their instruction.
    c().event_inj = 0;
    c().exit_int_info = svm::event::encode(svm::event::soft_int, 0x80, false, 0);
    static_cast<void>(v->complete_exit(g));
    EXPECT_FALSE(v->injection_pending());
    c().exit_int_info = svm::event::encode(svm::event::exception, 3, false, 0);
    static_cast<void>(v->complete_exit(g));
    EXPECT_FALSE(v->injection_pending());
}

TEST_F(VcpuTest, InterruptWindowIsOneShot) {
    v->request_interrupt_window(true);
    EXPECT_TRUE(c().int_ctl & svm::int_ctl::v_irq);
    EXPECT_TRUE(c().int_ctl & svm::int_ctl::v_ign_tpr);
    EXPECT_TRUE(c().intercept_misc1 & svm::misc1_vintr);
    EXPECT_TRUE(c().int_ctl & svm::int_ctl::v_intr_masking);
    c().exit_code = svm::exit::vintr;
    EXPECT_EQ(v->complete_exit(g).kind, ExitKind::interrupt_window);
    EXPECT_FALSE(c().int_ctl & svm::int_ctl::v_irq);
    EXPECT_FALSE(c().intercept_misc1 & svm::misc1_vintr);
    EXPECT_TRUE(c().int_ctl & svm::int_ctl::v_intr_masking);
}

TEST_F(VcpuTest, InjectEncodings) {
    v->inject({Event::Type::external_interrupt, 0x40, false, 0, 0});
    EXPECT_EQ(c().event_inj, svm::event::valid | 0x40);
    v->inject({Event::Type::nmi, 0, false, 0, 0});
    EXPECT_EQ(c().event_inj, svm::event::valid | (2ull << 8) | 2);
    v->inject({Event::Type::exception, 13, true, 0x18, 0});
    EXPECT_EQ(c().event_inj, svm::event::valid | svm::event::error_valid | (3ull << 8) | 13 | (0x18ull << 32));
    s().rip = 0x1000;
    v->inject({Event::Type::software_interrupt, 0x80, false, 0, 2});
    EXPECT_EQ(c().event_inj, svm::event::valid | (4ull << 8) | 0x80);
    EXPECT_EQ(s().rip, 0x1002u);                   // no NRIP-save: the pushed RIP is the VMCB's
    make(true);
    s().rip = 0x1000;
    v->inject({Event::Type::software_interrupt, 0x80, false, 0, 2});
    EXPECT_EQ(s().rip, 0x1000u);
    EXPECT_EQ(c().next_rip, 0x1002u);
}

TEST_F(VcpuTest, InterruptibleAndAdvanceRip) {
    s().rflags = 0x202;
    EXPECT_TRUE(v->interruptible());
    c().int_state = svm::int_state_shadow;
    EXPECT_FALSE(v->interruptible());
    s().rip = 0x10;
    v->advance_rip(3);
    EXPECT_EQ(v->read(Reg::rip), 0x13u);
    EXPECT_TRUE(v->interruptible());
    s().rflags = 2;
    EXPECT_FALSE(v->interruptible());
}

TEST_F(VcpuTest, RegistersSegmentsAndExceptionIntercepts) {
    v->write(Reg::efer, 0x500);
    EXPECT_EQ(s().efer, 0x500u | svm::efer_svme);
    EXPECT_EQ(v->read(Reg::efer), 0x500u);
    v->write(Reg::lstar, 0xabc);
    EXPECT_EQ(s().lstar, 0xabcu);
    v->write(Reg::cr4, 0x6a0);
    EXPECT_EQ(v->read(Reg::cr4_read_shadow), 0x6a0u);
    v->write(Reg::cr0, 0x80000011);
    v->set_segment(Seg::ss, {0x2b, 0xcf3, 0xffffffff, 0});   // DPL 3
    EXPECT_EQ(v->cpl(), 3);
    EXPECT_EQ(v->segment(Seg::ss).selector, 0x2b);
    v->write(Reg::cr0, 0x10);
    v->set_segment(Seg::ss, {0, 0xf3, 0xffff, 0});          // real mode: CPL 0
    EXPECT_EQ(v->cpl(), 0);
    v->set_exception_intercepts(1u << 14);
    EXPECT_EQ(c().intercept_exceptions, 1u << 14);
    v->set_idtr({0x5000, 0xfff});
    EXPECT_EQ(v->idtr().base, 0x5000u);
    EXPECT_EQ(v->idtr().limit, 0xfff);
}

} // namespace
