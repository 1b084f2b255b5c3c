// vmx::Vcpu's register, segment and event interface: VMCS fields by neutral name.
#include "hv/arch/x86.hpp"
#include "vmx/guest_check.hpp"
#include "vmx/vcpu.hpp"
#include "vmx/vmcs.hpp"

namespace vmx {

using hv::virt::Reg;
using hv::virt::Seg;

namespace {

constexpr uint64_t cr0_pe = 1, rflags_if = 1u << 9, efer_lma = 1u << 10;

// Registers that live in the VMCS, indexed by Reg; 0 marks those that do not.
constexpr uint32_t field(VmcsField f) { return static_cast<uint32_t>(f); }
constexpr uint32_t reg_fields[static_cast<unsigned>(Reg::count)] = {
    field(VmcsField::guest_rip), field(VmcsField::guest_rflags), field(VmcsField::guest_rsp),
    field(VmcsField::guest_cr0), 0, field(VmcsField::guest_cr3), field(VmcsField::guest_cr4),
    field(VmcsField::guest_dr7), field(VmcsField::guest_efer), field(VmcsField::guest_pat),
    field(VmcsField::guest_sysenter_cs), field(VmcsField::guest_sysenter_esp),
    field(VmcsField::guest_sysenter_eip), 0, 0, 0, 0, 0,
    field(VmcsField::cr0_read_shadow), field(VmcsField::cr4_read_shadow),
};

// STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE: not in the VMCS (switched lazily, vcpu.cpp).
int syscall_msr_index(Reg r) {
    switch (r) {
    case Reg::star: return 0;
    case Reg::lstar: return 1;
    case Reg::cstar: return 2;
    case Reg::sfmask: return 3;
    case Reg::kernel_gs_base: return 4;
    default: return -1;
    }
}

} // namespace

uint64_t Vcpu::read(Reg r) const {
    load();
    if (r == Reg::cr2)
        return cr2_;
    if (int m = syscall_msr_index(r); m >= 0) {
        static constexpr uint32_t numbers[5] = {msr::star, msr::lstar, msr::cstar, msr::sfmask,
                                                hv::x86::msr::kernel_gs_base};
        return loaded_on_->context_owner == this ? hv::x86::rdmsr(numbers[m]) : syscall_msrs_[m];
    }
    return vmread(static_cast<VmcsField>(reg_fields[static_cast<unsigned>(r)]));
}

void Vcpu::write(Reg r, uint64_t v) {
    load();
    const Capabilities& c = caps();
    switch (r) {
    case Reg::cr2: cr2_ = v; return;
    case Reg::cr0: v = apply_fixed(v, cr0_fixed0_, c.cr0_fixed1); break;   // NE stays set
    case Reg::cr4: v = apply_fixed(v, c.cr4_fixed0, c.cr4_fixed1); break;  // VMXE stays set
    case Reg::efer: {
        // The IA-32e mode guest control must match EFER.LMA at entry (26.3.1.1).
        uint64_t entry = vmread(VmcsField::entry_controls);
        entry = (v & efer_lma) ? entry | entry_ia32e_mode_guest : entry & ~uint64_t(entry_ia32e_mode_guest);
        vmwrite(VmcsField::entry_controls, entry);
        break;
    }
    default: break;
    }
    if (int m = syscall_msr_index(r); m >= 0) {
        static constexpr uint32_t numbers[5] = {msr::star, msr::lstar, msr::cstar, msr::sfmask,
                                                hv::x86::msr::kernel_gs_base};
        if (loaded_on_->context_owner == this)
            hv::x86::wrmsr(numbers[m], v);
        syscall_msrs_[m] = v;
        return;
    }
    vmwrite(static_cast<VmcsField>(reg_fields[static_cast<unsigned>(r)]), v);
}

hv::virt::Segment Vcpu::segment(Seg s) const {
    load();
    auto i = static_cast<unsigned>(s);
    return {static_cast<uint16_t>(vmread(seg_field(VmcsField::guest_es_selector, i))),
            attr_from_ar(static_cast<uint32_t>(vmread(seg_field(VmcsField::guest_es_access_rights, i)))),
            static_cast<uint32_t>(vmread(seg_field(VmcsField::guest_es_limit, i))),
            vmread(seg_field(VmcsField::guest_es_base, i))};
}

void Vcpu::set_segment(Seg s, const hv::virt::Segment& seg) {
    load();
    auto i = static_cast<unsigned>(s);
    vmwrite(seg_field(VmcsField::guest_es_selector, i), seg.selector);
    vmwrite(seg_field(VmcsField::guest_es_access_rights, i), ar_from_attr(seg.attr));
    vmwrite(seg_field(VmcsField::guest_es_limit, i), seg.limit);
    vmwrite(seg_field(VmcsField::guest_es_base, i), seg.base);
}

hv::virt::DescriptorTable Vcpu::gdtr() const {
    load();
    return {vmread(VmcsField::guest_gdtr_base), static_cast<uint16_t>(vmread(VmcsField::guest_gdtr_limit))};
}
hv::virt::DescriptorTable Vcpu::idtr() const {
    load();
    return {vmread(VmcsField::guest_idtr_base), static_cast<uint16_t>(vmread(VmcsField::guest_idtr_limit))};
}
void Vcpu::set_gdtr(const hv::virt::DescriptorTable& t) {
    load();
    vmwrite(VmcsField::guest_gdtr_base, t.base);
    vmwrite(VmcsField::guest_gdtr_limit, t.limit);
}
void Vcpu::set_idtr(const hv::virt::DescriptorTable& t) {
    load();
    vmwrite(VmcsField::guest_idtr_base, t.base);
    vmwrite(VmcsField::guest_idtr_limit, t.limit);
}

// Stepping over an instruction ends an STI / MOV SS shadow it was in (SDM vol 3 26.3.1.5
// forbids entering with blocking by STI that the guest can no longer have).
void Vcpu::advance_rip(uint8_t len) {
    load();
    vmwrite(VmcsField::guest_rip, vmread(VmcsField::guest_rip) + len);
    uint64_t ib = vmread(VmcsField::guest_interruptibility);
    if (ib & (blocking_by_sti | blocking_by_mov_ss))
        vmwrite(VmcsField::guest_interruptibility, ib & ~uint64_t(blocking_by_sti | blocking_by_mov_ss));
}

// 24.8.3: type, deliver-error-code and, for software interrupts, the instruction length.
void Vcpu::inject(const hv::virt::Event& e) {
    load();
    EventType t = EventType::external_interrupt;
    switch (e.type) {
    case hv::virt::Event::Type::external_interrupt: t = EventType::external_interrupt; break;
    case hv::virt::Event::Type::nmi: t = EventType::nmi; break;
    case hv::virt::Event::Type::exception: t = EventType::hardware_exception; break;
    case hv::virt::Event::Type::software_interrupt: t = EventType::software_interrupt; break;
    }
    // Real-mode delivery pushes no error code; with unrestricted guest and CR0.PE = 0 the entry
    // would fail if we asked for one (26.2.1.3).
    bool error = e.has_error_code && t == EventType::hardware_exception &&
                 (vmread(VmcsField::guest_cr0) & cr0_pe);
    vmwrite(VmcsField::entry_interruption_info, make_intr_info(e.vector, t, error));
    if (error)
        vmwrite(VmcsField::entry_exception_error_code, e.error_code);
    if (t == EventType::software_interrupt)
        vmwrite(VmcsField::entry_instruction_length, e.instruction_length);
}

bool Vcpu::injection_pending() const {
    load();
    return (vmread(VmcsField::entry_interruption_info) & intr_info_valid) != 0;
}

void Vcpu::cancel_injection() {
    load();
    vmwrite(VmcsField::entry_interruption_info, 0);
}

bool Vcpu::interruptible() const {
    load();
    return (vmread(VmcsField::guest_rflags) & rflags_if) &&
           !(vmread(VmcsField::guest_interruptibility) & (blocking_by_sti | blocking_by_mov_ss));
}

void Vcpu::request_interrupt_window(bool on) {
    load();
    uint32_t want = on ? primary_ | primary_interrupt_window : primary_ & ~uint32_t(primary_interrupt_window);
    if (want != primary_) {
        primary_ = want;
        vmwrite(VmcsField::primary_controls, primary_);
    }
}

void Vcpu::set_exception_intercepts(uint32_t bitmap) {
    load();
    vmwrite(VmcsField::exception_bitmap, bitmap);
}

} // namespace vmx
