// The privileged half of svm::Vcpu: entering the guest and XCR0 changes.
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "svm/checks.hpp"
#include "svm/vcpu.hpp"

extern "C" void svm_enter(hv::virt::GuestGprs* gprs, uint64_t vmcb_pa, uint64_t host_area_pa,
                          uint64_t host_if);
extern "C" const char svm_vmrun_return[];

namespace svm {

hv::virt::Intercept Vcpu::run(hv::virt::GuestGprs& gprs) {
    uint64_t flags = hv::x86::read_rflags();
    hv::x86::cli();   // no migration and no interrupt handler between the checks and VMRUN
    ProcessorState& p = processor();
    if (p.index != last_processor_) {
        // Translations of this ASID cached on another processor, or stale ones from a
        // partition that used it before, must not survive (APM 15.16).
        flush_ = true;
        last_processor_ = p.index;
    }
    if (flush_) {
        vmcb_->control.tlb_control = features_.flush_by_asid ? tlb_flush_asid : tlb_flush_all;
        flush_ = false;
    }
    prepare_entry(gprs);
    // Replayed before entry because a failed VMRUN may overwrite the state it refused (Bochs
    // writes its own EFER back); a few dozen compares against a world switch of microseconds.
    const char* suspect = check_vmcb(*vmcb_, features_);
    // QEMU 7.2's AMD-V now and then runs a VMRUN with this processor's own state as the guest's
    // and saves that state into the VMCB at the exit (docs/emulator-defects.md): the guest's
    // state is lost. A copy of what VMRUN loads, taken before each entry (about 200 bytes), lets
    // such an exit be undone and the entry made again; real processors pay the copy and the
    // compare in holds_host_state.
    save_entry(p.entry_backup);
    for (uint32_t attempt = 0;; attempt++) {
        xstate_load(p, xstate_, features_);
        svm_enter(&gprs, vmcb_pa_.raw(), p.host_vmsave_area.raw(), (flags >> 9) & 1);
        xstate_after_exit(p, xstate_, features_);
        if (!holds_host_state(p)) [[likely]]
            break;
        const bool again = attempt < 2 && p.entry_backup.rip != vmcb_->save.rip;
        hv::console::log("hv: cpu %u: VMCB %lx (host save area %lx) holds this processor's state after exit 0x%lx "
                         "(info2 %lx) of an entry at rip %lx with event_inj %lx; %s\n",
                         p.index, vmcb_pa_.raw(), hv::x86::rdmsr(msr_vm_hsave_pa), vmcb_->control.exit_code,
                         vmcb_->control.exit_info2,
                         p.entry_backup.rip, p.entry_backup.event_inj,
                         again ? "entering again from the state saved before" : "not recoverable");
        if (!again)
            break;
        restore_entry(p.entry_backup);
        hv::x86::cli();   // as before the first entry: nothing between here and VMRUN
    }
    hv::virt::Intercept x = complete_exit(gprs);
    if (x.kind == hv::virt::ExitKind::invalid_state && suspect && x.entry.code == exit::invalid)
        x.entry.check = suspect;
    return x;
}

void Vcpu::save_entry(EntryBackup& b) const {
    const VmcbSave& v = vmcb_->save;
    b = EntryBackup{v.es,  v.cs,  v.ss,  v.ds,     v.gdtr, v.idtr, v.efer,
                    v.cr0, v.cr2, v.cr3, v.cr4,    v.dr6,  v.dr7,  v.rflags,
                    v.rip, v.rsp, v.rax, vmcb_->control.int_ctl, vmcb_->control.int_state,
                    vmcb_->control.event_inj, v.cpl};
}

void Vcpu::restore_entry(const EntryBackup& b) {
    VmcbSave& v = vmcb_->save;
    v.es = b.es, v.cs = b.cs, v.ss = b.ss, v.ds = b.ds, v.gdtr = b.gdtr, v.idtr = b.idtr;
    v.efer = b.efer, v.cr0 = b.cr0, v.cr2 = b.cr2, v.cr3 = b.cr3, v.cr4 = b.cr4, v.dr6 = b.dr6, v.dr7 = b.dr7;
    v.rflags = b.rflags, v.rip = b.rip, v.rsp = b.rsp, v.rax = b.rax, v.cpl = b.cpl;
    vmcb_->control.int_ctl = b.int_ctl;
    vmcb_->control.int_state = b.int_state;
    vmcb_->control.event_inj = b.event_inj;
}

// The defect's signature: the guest's RIP at our VMRUN's return point and its CR3 this
// processor's, which no partition can have (the hypervisor's text and page tables are its own).
bool Vcpu::holds_host_state(const ProcessorState&) const {
    const auto back = reinterpret_cast<uint64_t>(svm_vmrun_return);
    return vmcb_->save.rip - (back - 3) <= 3 && vmcb_->save.cr3 == hv::x86::read_cr3();
}

void Vcpu::release_extended_state() {
    uint64_t flags = hv::x86::read_rflags();
    hv::x86::cli();
    xstate_release(processor(), xstate_, features_);
    if (flags & (1u << 9))
        hv::x86::sti();
}

bool Vcpu::handle_xsetbv(const hv::virt::GuestGprs& g, uint8_t length) {
    auto index = static_cast<uint32_t>(g[hv::virt::Gpr::rcx]);
    uint64_t value = (g[hv::virt::Gpr::rdx] << 32) | static_cast<uint32_t>(g[hv::virt::Gpr::rax]);
    if (cpl() != 0 || !xcr0_valid(index, value, guest_xcr0_allowed(features_))) {
        inject({hv::virt::Event::Type::exception, 13, true, 0, 0});   // #GP(0), RIP unchanged
        return false;
    }
    xstate_set_xcr0(processor(), xstate_, value);
    advance_rip(length ? length : 3);
    return true;
}

} // namespace svm
