// vmx::Vcpu: entering the guest, reading the exit, and the register/event interface.
#include "vmx/vcpu.hpp"

#include "hv/arch/x86.hpp"
#include "vmx/guest_check.hpp"
#include "vmx/vmcs.hpp"

extern "C" uint64_t vmx_enter(hv::virt::GuestGprs* gprs, uint64_t launched, uint64_t* host_rsp_cache);

namespace vmx {

using hv::virt::ExitKind;
using hv::virt::Gpr;
using hv::virt::Intercept;
using hv::virt::Reg;
using hv::virt::Seg;

namespace {

constexpr uint8_t vector_gp = 13;

void xsetbv0(uint64_t v) {
    asm volatile("xsetbv" : : "c"(0), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)) : "memory");
}

bool software_type(uint32_t info) {
    auto t = static_cast<EventType>((info >> 8) & 7);
    return t == EventType::software_interrupt || t == EventType::software_exception ||
           t == EventType::privileged_software_exception;
}

constexpr uint32_t syscall_msr_numbers[5] = {msr::star, msr::lstar, msr::cstar, msr::sfmask,
                                             hv::x86::msr::kernel_gs_base};

} // namespace

// The hypervisor never touches vector registers or the SYSCALL MSRs, so a Vcpu's copy stays in
// the hardware until another Vcpu needs it. XSAVE/XRSTOR run with every managed component
// enabled so that state the guest's XCR0 hides (XMM with XCR0.SSE clear) survives too.
void Vcpu::save_context(Processor& p) {
    const Capabilities& c = caps();
    if (c.xsave) {
        if (p.xcr0 != c.xcr0_supported) {
            xsetbv0(c.xcr0_supported);
            p.xcr0 = c.xcr0_supported;
        }
        asm volatile("xsave64 %0" : "+m"(*reinterpret_cast<uint8_t(*)[4096]>(xsave_))
                     : "a"(static_cast<uint32_t>(c.xcr0_supported)), "d"(static_cast<uint32_t>(c.xcr0_supported >> 32)));
    } else {
        asm volatile("fxsave64 %0" : "=m"(*reinterpret_cast<uint8_t(*)[512]>(xsave_)));
    }
    for (int i = 0; i < 5; ++i)
        syscall_msrs_[i] = hv::x86::rdmsr(syscall_msr_numbers[i]);
    p.context_owner = nullptr;
}

void Vcpu::switch_context(Processor& p) {
    if (p.context_owner == this)
        return;
    if (p.context_owner)
        p.context_owner->save_context(p);
    const Capabilities& c = caps();
    if (c.xsave) {
        if (p.xcr0 != c.xcr0_supported)
            xsetbv0(c.xcr0_supported);
        asm volatile("xrstor64 %0" : : "m"(*reinterpret_cast<const uint8_t(*)[4096]>(xsave_)),
                     "a"(static_cast<uint32_t>(c.xcr0_supported)), "d"(static_cast<uint32_t>(c.xcr0_supported >> 32)));
        if (xcr0_ != c.xcr0_supported)
            xsetbv0(xcr0_);
        p.xcr0 = xcr0_;
    } else {
        asm volatile("fxrstor64 %0" : : "m"(*reinterpret_cast<const uint8_t(*)[512]>(xsave_)));
    }
    for (int i = 0; i < 5; ++i)
        hv::x86::wrmsr(syscall_msr_numbers[i], syscall_msrs_[i]);
    p.context_owner = this;
}

// XSETBV always exits (25.1.2). The SDM's #GP conditions for ECX and the value are checked here
// against what the guest may enable; CPL and CR4.OSXSAVE faults come before the exit (25.1.1).
bool Vcpu::handle_xsetbv(hv::virt::GuestGprs& g, uint8_t len) {
    uint64_t v = (g[Gpr::rdx] << 32) | static_cast<uint32_t>(g[Gpr::rax]);
    if (!caps().xsave || static_cast<uint32_t>(g[Gpr::rcx]) != 0 || !xcr0_valid(v, xcr0_allowed_)) {
        inject({hv::virt::Event::Type::exception, vector_gp, true, 0, 0});
        return true;
    }
    xcr0_ = v;
    xsetbv0(v);
    loaded_on_->xcr0 = v;
    advance_rip(len);
    return true;
}

// 27.2.4 / 28.2.4: an event whose delivery the exit interrupted is delivered again at the next
// entry unless the core replaces it (it checks injection_pending() first).
void Vcpu::reinject_vectoring(const RawExit& e) {
    uint32_t info = e.idt_vectoring_info;
    if (!(info & intr_info_valid))
        return;
    vmwrite(VmcsField::entry_interruption_info, info & 0x80000fffu);   // bit 12 is undefined here
    if (info & intr_info_error_code)
        vmwrite(VmcsField::entry_exception_error_code, e.idt_vectoring_error);
    if (software_type(info))
        vmwrite(VmcsField::entry_instruction_length, e.instr_len);
}

Intercept Vcpu::run(hv::virt::GuestGprs& g) {
    load();
    Processor& p = *loaded_on_;
    switch_context(p);
    if (start_pending_) {
        // GuestGprs are the core's (hv::virt::start_gprs); only the RSP mirror restarts here.
        g[Gpr::rsp] = vmread(VmcsField::guest_rsp);
        rsp_mirror_ = g[Gpr::rsp];
        start_pending_ = false;
    }
    bool retried = false;
    for (;;) {
        // GuestGprs[rsp] mirrors GUEST_RSP; a change the core made there wins (vcpu.hpp).
        if (g[Gpr::rsp] != rsp_mirror_)
            vmwrite(VmcsField::guest_rsp, g[Gpr::rsp]);
        if (hv::x86::read_cr2() != cr2_)   // VT-x does not switch CR2 (27.3.1)
            hv::x86::write_cr2(cr2_);
        // Reloaded when it ran out (or at every entry when the processor cannot save it).
        if (backstop_ && (!save_timer_ || vmread(VmcsField::preemption_timer_value) == 0))
            vmwrite(VmcsField::preemption_timer_value, backstop_);
        uint64_t r = vmx_enter(&g, launched_, &host_rsp_);
        if (r != 0) {
            uint32_t err = r == 2 ? static_cast<uint32_t>(vmread(VmcsField::vm_instruction_error)) : 0;
            // The launch state after a failed entry is the processor's to keep (26.7-26.8):
            // follow what it tells us once.
            if (!retried && ((err == 4 && !launched_) || (err == 5 && launched_))) {
                launched_ = !launched_;
                retried = true;
                continue;
            }
            return vmfail_intercept(r == 2, err);
        }
        ++exits_;
        cr2_ = hv::x86::read_cr2();
        RawExit e{};
        e.reason = static_cast<uint32_t>(vmread(VmcsField::exit_reason));
        e.qualification = vmread(VmcsField::exit_qualification);
        if (e.reason & exit_reason_entry_failure)
            return entry_failure(decode_exit(e));
        launched_ = true;
        e.instr_len = static_cast<uint32_t>(vmread(VmcsField::exit_instruction_length));
        e.idt_vectoring_info = static_cast<uint32_t>(vmread(VmcsField::idt_vectoring_info));
        if (e.idt_vectoring_info & intr_info_error_code)
            e.idt_vectoring_error = static_cast<uint32_t>(vmread(VmcsField::idt_vectoring_error_code));
        auto basic = static_cast<ExitReason>(e.reason & 0xffff);
        if (basic == ExitReason::exception_or_nmi || basic == ExitReason::external_interrupt) {
            e.intr_info = static_cast<uint32_t>(vmread(VmcsField::exit_interruption_info));
            e.intr_error = static_cast<uint32_t>(vmread(VmcsField::exit_interruption_error_code));
        } else if (basic == ExitReason::ept_violation) {
            e.guest_phys = vmread(VmcsField::guest_physical_address);
            e.guest_linear = vmread(VmcsField::guest_linear_address);
        } else if (basic == ExitReason::vmcall) {
            e.guest_cs_access_rights = static_cast<uint32_t>(vmread(VmcsField::guest_cs_access_rights));
            e.guest_ss_access_rights = static_cast<uint32_t>(vmread(VmcsField::guest_ss_access_rights));
            e.guest_cr0 = vmread(VmcsField::guest_cr0);
            e.guest_efer = vmread(VmcsField::guest_efer);
        }
        reinject_vectoring(e);
        g[Gpr::rsp] = vmread(VmcsField::guest_rsp);
        rsp_mirror_ = g[Gpr::rsp];
        Intercept i = decode_exit(e);
        if (i.kind == ExitKind::nmi) {
            // HARNESS.md (Bochs 2.7): an NMI exit records blocking by NMI in the guest; the
            // guest never saw this NMI, so nothing of it may stay blocked.
            uint64_t ib = vmread(VmcsField::guest_interruptibility);
            vmwrite(VmcsField::guest_interruptibility, ib & ~uint64_t(blocking_by_nmi));
        }
        if (i.kind == ExitKind::xsetbv && handle_xsetbv(g, i.instruction_length))
            continue;
        return i;
    }
}

GuestStateSnapshot Vcpu::snapshot() const {
    const Capabilities& c = caps();
    GuestStateSnapshot s{};
    s.cr0 = vmread(VmcsField::guest_cr0);
    s.cr3 = vmread(VmcsField::guest_cr3);
    s.cr4 = vmread(VmcsField::guest_cr4);
    s.dr7 = vmread(VmcsField::guest_dr7);
    s.efer = vmread(VmcsField::guest_efer);
    s.pat = vmread(VmcsField::guest_pat);
    s.rip = vmread(VmcsField::guest_rip);
    s.rflags = vmread(VmcsField::guest_rflags);
    s.pending_debug = vmread(VmcsField::guest_pending_debug);
    s.link_pointer = vmread(VmcsField::vmcs_link_pointer);
    for (unsigned i = 0; i < static_cast<unsigned>(Seg::count); ++i) {
        s.seg[i].selector = static_cast<uint16_t>(vmread(seg_field(VmcsField::guest_es_selector, i)));
        s.seg[i].base = vmread(seg_field(VmcsField::guest_es_base, i));
        s.seg[i].limit = static_cast<uint32_t>(vmread(seg_field(VmcsField::guest_es_limit, i)));
        s.seg[i].ar = static_cast<uint32_t>(vmread(seg_field(VmcsField::guest_es_access_rights, i)));
    }
    s.gdtr_base = vmread(VmcsField::guest_gdtr_base);
    s.idtr_base = vmread(VmcsField::guest_idtr_base);
    s.gdtr_limit = static_cast<uint32_t>(vmread(VmcsField::guest_gdtr_limit));
    s.idtr_limit = static_cast<uint32_t>(vmread(VmcsField::guest_idtr_limit));
    s.interruptibility = static_cast<uint32_t>(vmread(VmcsField::guest_interruptibility));
    s.activity = static_cast<uint32_t>(vmread(VmcsField::guest_activity_state));
    s.entry_controls = static_cast<uint32_t>(vmread(VmcsField::entry_controls));
    s.secondary_controls = static_cast<uint32_t>(vmread(VmcsField::secondary_controls));
    s.entry_intr_info = static_cast<uint32_t>(vmread(VmcsField::entry_interruption_info));
    s.cr0_fixed0 = c.cr0_fixed0;
    s.cr0_fixed1 = c.cr0_fixed1;
    s.cr4_fixed0 = c.cr4_fixed0;
    s.cr4_fixed1 = c.cr4_fixed1;
    return s;
}

// Reason 33 says only "invalid guest state": re-run the 26.3.1 checks to say which.
Intercept Vcpu::entry_failure(const Intercept& decoded) {
    Intercept i = decoded;
    if ((decoded.raw_reason & 0xffff) == static_cast<uint32_t>(ExitReason::entry_invalid_guest_state)) {
        if (const char* check = check_guest_state(snapshot()))
            i.entry.check = check;
    }
    return i;
}

} // namespace vmx
