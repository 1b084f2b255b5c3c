// VMCB editing for svm::Vcpu: pure, so the host tests build it unchanged.
#include "svm/vcpu.hpp"

#include "svm/decode.hpp"

namespace svm {
namespace {

using hv::virt::Reg;
using hv::virt::Seg;

constexpr uint64_t rflags_if = 1ull << 9;
constexpr uint64_t rflags_vm = 1ull << 17;
constexpr uint64_t cr0_pe = 1;
constexpr uint64_t default_pat = 0x0007040600070406ull;   // the power-on PAT (APM vol 2 7.8.2)

// Always on (APM 15.9-15.13): the instructions the hypervisor must see, the SVM instructions
// (a guest may not run its own VMCBs), physical interrupts, NMIs and INITs (V_INTR_MASKING
// keeps the host's IF in charge), shutdown, and the two permission maps.
constexpr uint32_t base_misc1 = misc1_intr | misc1_nmi | misc1_init | misc1_cpuid | misc1_invd |
                                misc1_hlt | misc1_invlpga | misc1_ioio_prot | misc1_msr_prot |
                                misc1_shutdown;
constexpr uint32_t base_misc2 = misc2_vmrun | misc2_vmmcall | misc2_vmload | misc2_vmsave |
                                misc2_stgi | misc2_clgi | misc2_skinit | misc2_xsetbv;

VmcbSegment seg(uint16_t sel, uint16_t attr, uint32_t limit, uint64_t base) { return {sel, attr, limit, base}; }

} // namespace

Vcpu::Vcpu(const Pages& p, const hv::virt::PartitionHw& hw, const Features& f)
    : vmcb_(p.vmcb), vmcb_pa_(p.vmcb_pa), features_(f) {
    auto* bytes = reinterpret_cast<uint8_t*>(vmcb_);
    for (uint32_t i = 0; i < sizeof(Vmcb); ++i)
        bytes[i] = 0;
    VmcbControl& c = vmcb_->control;
    c.intercept_misc1 = base_misc1;
    c.intercept_misc2 = base_misc2;
    c.iopm_base_pa = hw.io_bitmap.raw();
    c.msrpm_base_pa = hw.msr_bitmap.raw();
    c.guest_asid = hw.tag;
    c.int_ctl = int_ctl::v_intr_masking;
    c.np_control = np_enable;
    c.n_cr3 = hw.nested_root.raw();
    xstate_init(xstate_, p.xsave_area, f);
}

void Vcpu::reset(const hv::virt::StartState& st) {
    VmcbSave& s = vmcb_->save;
    VmcbControl& c = vmcb_->control;
    c.event_inj = 0;
    c.exit_int_info = 0;
    c.int_state = 0;
    request_interrupt_window(false);
    s.dr6 = 0xffff0ff0;
    s.dr7 = 0x400;
    s.g_pat = default_pat;
    s.rflags = 2;
    s.cr2 = 0;
    s.cpl = 0;
    s.rax = 0;
    if (st.mode == hv::virt::StartState::Mode::real_mode_sipi) {
        // INIT state (Intel SDM vol 3 table 10-1, APM vol 2 14.1.3) with the SIPI's CS:IP.
        s.cr0 = 0x60000010;   // CD | NW | ET
        s.cr3 = 0;
        s.cr4 = 0;
        s.efer = efer_svme;   // VMRUN requires guest EFER.SVME; read() hides it
        s.cs = seg(static_cast<uint16_t>(st.sipi_vector << 8), 0x9b, 0xffff, static_cast<uint64_t>(st.sipi_vector) << 12);
        s.ds = s.es = s.fs = s.gs = s.ss = seg(0, 0x93, 0xffff, 0);
        s.gdtr = s.idtr = seg(0, 0, 0xffff, 0);
        s.ldtr = seg(0, 0x82, 0xffff, 0);
        s.tr = seg(0, 0x8b, 0xffff, 0);
        s.rip = 0;
        s.rsp = 0;
    } else {
        s.cr0 = 0x80050033;   // PG | AM | WP | NE | ET | MP | PE
        s.cr3 = st.cr3;
        s.cr4 = 0x20;         // PAE
        s.efer = 0xd00 | efer_svme;   // NXE | LMA | LME
        s.cs = seg(0x08, 0xa9b, 0xffffffff, 0);   // G | L | P | S | code, read, accessed
        s.ds = s.es = s.fs = s.gs = s.ss = seg(0x10, 0xc93, 0xffffffff, 0);
        s.gdtr = s.idtr = seg(0, 0, 0, 0);
        s.ldtr = seg(0, 0, 0, 0);
        s.tr = seg(0, 0x8b, 0x67, 0);             // a busy 64-bit TSS
        s.rip = st.rip;
        s.rsp = st.rsp;
    }
    start_ = st;
    start_pending_ = true;
    flush_ = true;
}

void Vcpu::prepare_entry(hv::virt::GuestGprs& g) {
    // GuestGprs are the core's: it sets them at a start (hv::virt::start_gprs).
    start_pending_ = false;
    vmcb_->save.rax = g[hv::virt::Gpr::rax];
    vmcb_->save.rsp = g[hv::virt::Gpr::rsp];
}

hv::virt::Intercept Vcpu::complete_exit(hv::virt::GuestGprs& g) {
    VmcbControl& c = vmcb_->control;
    g[hv::virt::Gpr::rax] = vmcb_->save.rax;
    g[hv::virt::Gpr::rsp] = vmcb_->save.rsp;
    c.tlb_control = tlb_nothing;
    // APM 15.7.2: an event whose delivery the exit interrupted must be delivered again. Software
    // events (INTn, INT3, INTO) are left out: RIP still points at their instruction, which
    // raises them again when re-executed.
    uint64_t ii = c.exit_int_info;
    if (ii & event::valid) {
        uint8_t type = event::type_of(ii);
        uint8_t vec = static_cast<uint8_t>(ii & event::vector_mask);
        bool soft = type == event::soft_int || (type == event::exception && (vec == 3 || vec == 4));
        if (!soft)
            c.event_inj = ii & (event::vector_mask | event::type_mask | event::error_valid | event::valid |
                                0xffffffff00000000ull);
    }
    if (static_cast<uint32_t>(c.exit_code) == exit::vintr)
        request_interrupt_window(false);
    return decode_exit(*vmcb_, features_);
}

uint64_t Vcpu::read(Reg r) const {
    const VmcbSave& s = vmcb_->save;
    switch (r) {
    case Reg::rip: return s.rip;
    case Reg::rflags: return s.rflags;
    case Reg::rsp: return s.rsp;
    case Reg::cr0:
    case Reg::cr0_read_shadow: return s.cr0;
    case Reg::cr2: return s.cr2;
    case Reg::cr3: return s.cr3;
    case Reg::cr4:
    case Reg::cr4_read_shadow: return s.cr4;
    case Reg::dr7: return s.dr7;
    case Reg::efer: return s.efer & ~efer_svme;
    case Reg::pat: return s.g_pat;
    case Reg::sysenter_cs: return s.sysenter_cs;
    case Reg::sysenter_esp: return s.sysenter_esp;
    case Reg::sysenter_eip: return s.sysenter_eip;
    case Reg::star: return s.star;
    case Reg::lstar: return s.lstar;
    case Reg::cstar: return s.cstar;
    case Reg::sfmask: return s.sfmask;
    case Reg::kernel_gs_base: return s.kernel_gs_base;
    case Reg::count: break;
    }
    return 0;
}

void Vcpu::write(Reg r, uint64_t v) {
    VmcbSave& s = vmcb_->save;
    switch (r) {
    case Reg::rip: s.rip = v; break;
    case Reg::rflags: s.rflags = v; break;
    case Reg::rsp: s.rsp = v; break;
    // A changed paging mode or root invalidates this ASID's guest translations.
    case Reg::cr0: s.cr0 = v; flush_ = true; break;
    case Reg::cr2: s.cr2 = v; break;
    case Reg::cr3: s.cr3 = v; flush_ = true; break;
    case Reg::cr4: s.cr4 = v; flush_ = true; break;
    case Reg::dr7: s.dr7 = v; break;
    case Reg::efer: s.efer = v | efer_svme; flush_ = true; break;
    case Reg::pat: s.g_pat = v; break;
    case Reg::sysenter_cs: s.sysenter_cs = v; break;
    case Reg::sysenter_esp: s.sysenter_esp = v; break;
    case Reg::sysenter_eip: s.sysenter_eip = v; break;
    case Reg::star: s.star = v; break;
    case Reg::lstar: s.lstar = v; break;
    case Reg::cstar: s.cstar = v; break;
    case Reg::sfmask: s.sfmask = v; break;
    case Reg::kernel_gs_base: s.kernel_gs_base = v; break;
    case Reg::cr0_read_shadow:   // AMD-V has no read shadows: the guest reads CR0/CR4 itself
    case Reg::cr4_read_shadow:
    case Reg::count: break;
    }
}

hv::virt::Segment Vcpu::segment(Seg s) const {
    const VmcbSave& v = vmcb_->save;
    const VmcbSegment* table[] = {&v.es, &v.cs, &v.ss, &v.ds, &v.fs, &v.gs, &v.ldtr, &v.tr};
    auto i = static_cast<uint8_t>(s);
    if (i >= static_cast<uint8_t>(Seg::count))
        return {};
    const VmcbSegment& x = *table[i];
    return {x.selector, x.attrib, x.limit, x.base};
}

void Vcpu::set_segment(Seg s, const hv::virt::Segment& seg_in) {
    VmcbSave& v = vmcb_->save;
    VmcbSegment* table[] = {&v.es, &v.cs, &v.ss, &v.ds, &v.fs, &v.gs, &v.ldtr, &v.tr};
    auto i = static_cast<uint8_t>(s);
    if (i >= static_cast<uint8_t>(Seg::count))
        return;
    *table[i] = {seg_in.selector, seg_in.attr, seg_in.limit, seg_in.base};
    // APM 15.5.1: the VMCB CPL is separate state; it follows SS.DPL in protected mode and is 0
    // in real mode (virtual-8086 mode runs at 3).
    if (s == Seg::ss) {
        bool pm = (v.cr0 & cr0_pe) != 0;
        v.cpl = !pm ? 0 : (v.rflags & rflags_vm) ? 3 : static_cast<uint8_t>((seg_in.attr >> 5) & 3);
    }
}

void Vcpu::set_gdtr(const hv::virt::DescriptorTable& t) { vmcb_->save.gdtr = seg(0, 0, t.limit, t.base); }
void Vcpu::set_idtr(const hv::virt::DescriptorTable& t) { vmcb_->save.idtr = seg(0, 0, t.limit, t.base); }

void Vcpu::advance_rip(uint8_t length) {
    vmcb_->save.rip += length;
    vmcb_->control.int_state &= ~int_state_shadow;   // the STI / MOV SS shadow ends with it
}

void Vcpu::inject(const hv::virt::Event& e) {
    using T = hv::virt::Event::Type;
    event::Type t = e.type == T::external_interrupt ? event::intr
                  : e.type == T::nmi                ? event::nmi
                  : e.type == T::exception          ? event::exception
                                                    : event::soft_int;
    if (t == event::soft_int) {
        // The return address pushed is nRIP with NRIP-save, else the VMCB RIP (APM 15.20).
        if (features_.nrip_save)
            vmcb_->control.next_rip = vmcb_->save.rip + e.instruction_length;
        else
            vmcb_->save.rip += e.instruction_length;
    }
    vmcb_->control.event_inj = event::encode(t, t == event::nmi ? 2 : e.vector, e.has_error_code, e.error_code);
}

bool Vcpu::injection_pending() const { return (vmcb_->control.event_inj & event::valid) != 0; }

bool Vcpu::interruptible() const {
    return (vmcb_->save.rflags & rflags_if) != 0 && !(vmcb_->control.int_state & int_state_shadow);
}

void Vcpu::request_interrupt_window(bool on) {
    VmcbControl& c = vmcb_->control;
    // APM 15.21.4: a virtual interrupt with V_IGN_TPR and top priority is recognized exactly
    // when the guest could take any interrupt; the VINTR intercept fires before it is taken,
    // so its vector never matters.
    constexpr uint64_t bits = int_ctl::v_irq | int_ctl::v_ign_tpr | int_ctl::v_intr_prio_mask |
                              int_ctl::v_intr_vector_mask;
    c.int_ctl &= ~bits;
    c.intercept_misc1 &= ~misc1_vintr;
    if (on) {
        c.int_ctl |= int_ctl::v_irq | int_ctl::v_ign_tpr | int_ctl::v_intr_prio_mask;
        c.intercept_misc1 |= misc1_vintr;
    }
}

void Vcpu::set_exception_intercepts(uint32_t mask) { vmcb_->control.intercept_exceptions = mask; }

} // namespace svm
