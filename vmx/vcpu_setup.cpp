// vmx::Vcpu construction, controls, host state and the architectural start states.
#include "hv/arch/x86.hpp"
#include "hv/panic.hpp"
#include "hv/percpu.hpp"
#include "vmx/guest_check.hpp"
#include "vmx/vcpu.hpp"
#include "vmx/vmcs.hpp"

extern "C" char vmx_exit_stub[];

namespace vmx {

using hv::virt::Reg;
using hv::virt::Seg;
using hv::virt::Segment;

namespace {

constexpr uint64_t cr0_pe = 1, cr0_mp = 2, cr0_et = 0x10, cr0_ne = 0x20, cr0_wp = 1u << 16;
constexpr uint64_t cr0_nw = 1u << 29, cr0_cd = 1u << 30, cr0_pg = 1ull << 31;
constexpr uint64_t cr4_pae = 1u << 5, cr4_osfxsr = 1u << 9, cr4_osxmmexcpt = 1u << 10;
constexpr uint64_t efer_lme = 1u << 8, efer_lma = 1u << 10, efer_nxe = 1u << 11;
constexpr uint64_t default_pat = 0x0007040600070406ull;   // SDM vol 3 11.12.4, power-up value
constexpr uint64_t default_backstop_tsc = 1ull << 22;

constexpr Seg data_segments[] = {Seg::ss, Seg::ds, Seg::es, Seg::fs, Seg::gs};

struct [[gnu::packed]] Dtr {
    uint16_t limit;
    uint64_t base;
};

uint16_t selector_of(int which) {
    uint16_t s = 0;
    switch (which) {
    case 0: asm volatile("mov %%es, %0" : "=r"(s)); break;
    case 1: asm volatile("mov %%cs, %0" : "=r"(s)); break;
    case 2: asm volatile("mov %%ss, %0" : "=r"(s)); break;
    case 3: asm volatile("mov %%ds, %0" : "=r"(s)); break;
    case 4: asm volatile("mov %%fs, %0" : "=r"(s)); break;
    case 5: asm volatile("mov %%gs, %0" : "=r"(s)); break;
    default: asm volatile("str %0" : "=r"(s)); break;
    }
    return s;
}

// A 16-byte system descriptor's base (SDM vol 3 7.2.3 figure 7-4).
uint64_t tss_base(const Dtr& gdt, uint16_t tr) {
    const auto* d = reinterpret_cast<const uint32_t*>(gdt.base + (tr & ~7u));
    return (d[0] >> 16) | ((d[1] & 0xffu) << 16) | (d[1] & 0xff000000u) | (static_cast<uint64_t>(d[2]) << 32);
}

void set_seg(Seg s, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar) {
    auto i = static_cast<unsigned>(s);
    vmwrite(seg_field(VmcsField::guest_es_selector, i), sel);
    vmwrite(seg_field(VmcsField::guest_es_base, i), base);
    vmwrite(seg_field(VmcsField::guest_es_limit, i), limit);
    vmwrite(seg_field(VmcsField::guest_es_access_rights, i), ar);
}

} // namespace

Vcpu::Vcpu(PhysAddr vmcs, void* vmcs_virt, void* xsave_area, const hv::virt::PartitionHw& hw)
    : vmcs_(vmcs), vmcs_virt_(vmcs_virt), xsave_(static_cast<uint8_t*>(xsave_area)) {
    Processor* p = current_processor();
    if (!p || !p->on)
        return;
    const Capabilities& c = caps();
    *static_cast<uint32_t*>(vmcs_virt_) = c.revision;   // 24.2: revision, shadow bit clear
    uint64_t pa = vmcs_.raw();
    bool fail;
    asm volatile("vmclear %[pa]" : "=@ccbe"(fail) : [pa] "m"(pa) : "memory");   // 24.11.3: launch state clear
    if (fail)
        return;
    load();
    cr0_fixed0_ = c.cr0_fixed0 & ~(cr0_pe | cr0_pg);   // unrestricted guest exempts PE/PG (26.3.1.1)
    write_controls(hw);
    set_backstop(default_backstop_tsc);
    xcr0_allowed_ = c.xcr0_supported;
    uint64_t probe;
    ok_ = vmread_checked(VmcsField::pin_based_controls, probe);
}

void Vcpu::write_controls(const hv::virt::PartitionHw& hw) {
    const Capabilities& c = caps();
    uint32_t pin = pin_external_interrupt_exiting | pin_nmi_exiting | pin_virtual_nmis |
                   supported_subset(pin_preemption_timer, c.pin);
    // INVD, XSETBV, CPUID and the VMX instructions exit unconditionally (25.1.2).
    uint32_t primary = primary_hlt_exiting | primary_use_io_bitmaps | primary_use_msr_bitmaps |
                       primary_secondary_controls;
    if (hw.virtualize_cr8)
        primary |= primary_cr8_load_exiting | primary_cr8_store_exiting;   // 25.1.3
    uint32_t secondary = secondary_enable_ept | secondary_unrestricted_guest |
                         supported_subset(secondary_enable_vpid | secondary_enable_rdtscp |
                                          secondary_enable_invpcid | secondary_enable_xsaves, c.secondary);
    if (hw.tag == 0)
        secondary &= ~secondary_enable_vpid;   // 26.2.1.1: VPID 0 is the host's
    uint32_t exit = exit_host_address_space_size | exit_ack_interrupt_on_exit | exit_save_efer |
                    exit_load_efer | supported_subset(exit_save_pat | exit_load_pat, c.exit);
    // The backstop must count the guest's time across exits, not restart at each entry: a guest
    // that exits every millisecond (reading the reference counter, say) would never reach it.
    // With the timer's value saved at exit (24.7.1) run() reloads it only when it ran out.
    save_timer_ = (pin & pin_preemption_timer) && (supported_subset(exit_save_preemption_timer, c.exit) != 0);
    if (save_timer_)
        exit |= exit_save_preemption_timer;
    uint32_t entry = entry_load_efer | supported_subset(entry_load_pat, c.entry);
    vmwrite(VmcsField::pin_based_controls, adjust_controls(pin, c.pin).value);
    primary_ = adjust_controls(primary, c.primary).value;
    vmwrite(VmcsField::primary_controls, primary_);
    vmwrite(VmcsField::secondary_controls, adjust_controls(secondary, c.secondary).value);
    vmwrite(VmcsField::exit_controls, adjust_controls(exit, c.exit).value);
    vmwrite(VmcsField::entry_controls, adjust_controls(entry, c.entry).value);
    // 24.6.11: WB paging-structure accesses (6), 4-level walk (3 in bits 5:3), A/D when offered.
    uint64_t eptp = hw.nested_root.raw() | 6 | (3 << 3) | ((c.ept_vpid & ept_accessed_dirty) ? 1u << 6 : 0);
    vmwrite(VmcsField::ept_pointer, eptp);
    vmwrite(VmcsField::vpid, hw.tag);
    vmwrite(VmcsField::msr_bitmap, hw.msr_bitmap.raw());
    vmwrite(VmcsField::io_bitmap_a, hw.io_bitmap.raw());
    vmwrite(VmcsField::io_bitmap_b, hw.io_bitmap.raw() + 4096);
    vmwrite(VmcsField::exception_bitmap, 0);
    vmwrite(VmcsField::page_fault_error_mask, 0);
    vmwrite(VmcsField::page_fault_error_match, 0);
    vmwrite(VmcsField::cr3_target_count, 0);
    vmwrite(VmcsField::exit_msr_store_count, 0);
    vmwrite(VmcsField::exit_msr_load_count, 0);
    vmwrite(VmcsField::entry_msr_load_count, 0);
    vmwrite(VmcsField::entry_interruption_info, 0);
    vmwrite(VmcsField::vmcs_link_pointer, ~0ull);
    // 25.3: bits owned by the host read from the shadow; the fixed ones (CR0.NE, CR4.VMXE) and
    // those the processor cannot set exit when the guest tries to change them.
    vmwrite(VmcsField::cr0_guest_host_mask, cr0_fixed0_ | (~c.cr0_fixed1 & 0xffffffffu));
    vmwrite(VmcsField::cr4_guest_host_mask, c.cr4_fixed0 | (~c.cr4_fixed1 & 0xffffffffu));
    eptp_ = eptp;
}

// 26.2.2-26.2.4 host-state checks; the values are this processor's own.
void Vcpu::write_host_state() const {
    using namespace hv::x86;
    vmwrite(VmcsField::host_cr0, read_cr0());
    vmwrite(VmcsField::host_cr3, read_cr3());
    vmwrite(VmcsField::host_cr4, read_cr4());
    for (int i = 0; i < 7; ++i)   // RPL and TI must be 0 (26.2.3)
        vmwrite(seg_field(VmcsField::host_es_selector, static_cast<unsigned>(i)), selector_of(i) & 0xf8);
    Dtr gdt{}, idt{};
    asm volatile("sgdt %0" : "=m"(gdt));
    asm volatile("sidt %0" : "=m"(idt));
    vmwrite(VmcsField::host_gdtr_base, gdt.base);
    vmwrite(VmcsField::host_idtr_base, idt.base);
    vmwrite(VmcsField::host_tr_base, tss_base(gdt, selector_of(6)));
    vmwrite(VmcsField::host_fs_base, rdmsr(hv::x86::msr::fs_base));
    vmwrite(VmcsField::host_gs_base, rdmsr(hv::x86::msr::gs_base));
    vmwrite(VmcsField::host_sysenter_cs, rdmsr(vmx::msr::sysenter_cs));
    vmwrite(VmcsField::host_sysenter_esp, rdmsr(vmx::msr::sysenter_esp));
    vmwrite(VmcsField::host_sysenter_eip, rdmsr(vmx::msr::sysenter_eip));
    vmwrite(VmcsField::host_efer, rdmsr(hv::x86::msr::efer));
    vmwrite(VmcsField::host_pat, rdmsr(hv::x86::msr::pat));
    vmwrite(VmcsField::host_rip, reinterpret_cast<uint64_t>(vmx_exit_stub));
}

void Vcpu::load_slow() const {
    Processor* p = static_cast<Processor*>(hv::this_cpu().virt_state);
    if (!p || !p->on)
        hv::panic("vmx: Vcpu used on a processor without VMX enabled");
    if (loaded_on_ && loaded_on_ != p)
        hv::panic("vmx: Vcpu used on a second processor without unload() (SDM 24.11.1)");
    if (p->current_vmcs != this) {
        uint64_t pa = vmcs_.raw();
        asm volatile("vmptrld %[pa]" : : [pa] "m"(pa) : "cc", "memory");
        p->current_vmcs = this;
    }
    if (loaded_on_ != p) {
        loaded_on_ = p;
        host_rsp_ = 0;
        write_host_state();
    }
}

void Vcpu::unload() {
    Processor* p = loaded_on_;
    if (!p)
        return;
    if (p->context_owner == this)
        save_context(*p);
    uint64_t pa = vmcs_.raw();
    asm volatile("vmclear %[pa]" : : [pa] "m"(pa) : "cc", "memory");
    if (p->current_vmcs == this)
        p->current_vmcs = nullptr;
    loaded_on_ = nullptr;
    launched_ = false;
}

void Vcpu::set_backstop(uint64_t tsc_ticks) {
    uint64_t units = tsc_ticks >> caps().preemption_shift();
    backstop_ = (caps().pin >> 32) & pin_preemption_timer ? static_cast<uint32_t>(units > 0xffffffffu ? 0xffffffffu : units) : 0;
}

// Architectural INIT state (SDM vol 3 9.1.1 table 9-1) entered at the SIPI vector, or a flat
// 64-bit start. Unrestricted guest lets CR0.PE/PG be 0 (26.3.1.1).
void Vcpu::reset(const hv::virt::StartState& st) {
    load();
    const Capabilities& c = caps();
    bool lm = st.mode == hv::virt::StartState::Mode::long_mode;
    uint64_t cr0 = lm ? (cr0_pe | cr0_mp | cr0_et | cr0_ne | cr0_wp | cr0_pg) : (cr0_cd | cr0_nw | cr0_et);
    uint64_t cr4 = lm ? (cr4_pae | cr4_osfxsr | cr4_osxmmexcpt) : 0;
    vmwrite(VmcsField::guest_cr0, apply_fixed(cr0, cr0_fixed0_, c.cr0_fixed1));
    vmwrite(VmcsField::cr0_read_shadow, cr0);
    vmwrite(VmcsField::guest_cr4, apply_fixed(cr4, c.cr4_fixed0, c.cr4_fixed1));
    vmwrite(VmcsField::cr4_read_shadow, cr4);
    vmwrite(VmcsField::guest_cr3, lm ? st.cr3 : 0);
    vmwrite(VmcsField::guest_efer, lm ? (efer_lme | efer_lma | efer_nxe) : 0);
    uint64_t entry = vmread(VmcsField::entry_controls);
    entry = lm ? entry | entry_ia32e_mode_guest : entry & ~uint64_t(entry_ia32e_mode_guest);
    vmwrite(VmcsField::entry_controls, entry);
    if (lm) {
        set_seg(Seg::cs, 0x08, 0, 0xffffffff, 0xa09b);   // 64-bit code, DPL 0
        for (Seg s : data_segments)
            set_seg(s, 0x10, 0, 0xffffffff, 0xc093);
        set_seg(Seg::ldtr, 0, 0, 0, ar_unusable);
        set_seg(Seg::tr, 0, 0, 0x67, 0x8b);
    } else {
        set_seg(Seg::cs, static_cast<uint16_t>(st.sipi_vector << 8), uint64_t(st.sipi_vector) << 12, 0xffff, 0x9b);
        for (Seg s : data_segments)
            set_seg(s, 0, 0, 0xffff, 0x93);
        set_seg(Seg::ldtr, 0, 0, 0xffff, 0x82);
        set_seg(Seg::tr, 0, 0, 0xffff, 0x8b);
    }
    vmwrite(VmcsField::guest_gdtr_base, 0);
    vmwrite(VmcsField::guest_gdtr_limit, 0xffff);
    vmwrite(VmcsField::guest_idtr_base, 0);
    vmwrite(VmcsField::guest_idtr_limit, 0xffff);
    vmwrite(VmcsField::guest_rip, lm ? st.rip : 0);
    vmwrite(VmcsField::guest_rsp, lm ? st.rsp : 0);
    vmwrite(VmcsField::guest_rflags, 2);
    vmwrite(VmcsField::guest_dr7, 0x400);
    vmwrite(VmcsField::guest_debugctl, 0);
    vmwrite(VmcsField::guest_pat, default_pat);
    vmwrite(VmcsField::guest_sysenter_cs, 0);
    vmwrite(VmcsField::guest_sysenter_esp, 0);
    vmwrite(VmcsField::guest_sysenter_eip, 0);
    vmwrite(VmcsField::guest_interruptibility, 0);
    vmwrite(VmcsField::guest_activity_state, 0);
    vmwrite(VmcsField::guest_pending_debug, 0);
    vmwrite(VmcsField::entry_interruption_info, 0);
    request_interrupt_window(false);
    cr2_ = 0;
    start_ = st;
    start_pending_ = true;
    reset_extended_state();
}

// The x87/SSE power-up values (SDM vol 3 9.1.1 table 9-1): FCW 0x37f, MXCSR 0x1f80; an
// XSAVE header of zeros puts every other component in its initial configuration (13.8).
void Vcpu::reset_extended_state() {
    if (loaded_on_ && loaded_on_->context_owner == this)
        loaded_on_->context_owner = nullptr;   // the registers no longer hold our state
    for (int i = 0; i < 4096; ++i)
        xsave_[i] = 0;
    xsave_[0] = 0x7f;
    xsave_[1] = 0x03;
    *reinterpret_cast<uint32_t*>(xsave_ + 24) = 0x1f80;
    xcr0_ = 1;
    for (auto& m : syscall_msrs_)
        m = 0;
}

} // namespace vmx
