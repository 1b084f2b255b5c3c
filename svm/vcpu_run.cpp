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
    // QEMU 7.2's AMD-V now and then runs a VMRUN that injects an event (EVENTINJ) with this
    // processor's own state as the guest's, and saves that state into the VMCB at the exit
    // (docs/emulator-defects.md): the guest's state is lost. A copy taken before such an entry
    // lets the exit be undone and the entry made again; entries without an event, and real
    // processors, only pay the compare below.
    const bool injecting = (vmcb_->control.event_inj & event::valid) != 0;
    if (injecting) [[unlikely]]
        p.entry_backup = EntryBackup{vmcb_->save, vmcb_->control.int_ctl, vmcb_->control.int_state,
                                    vmcb_->control.event_inj};
    for (uint32_t attempt = 0;; attempt++) {
        xstate_load(p, xstate_, features_);
        svm_enter(&gprs, vmcb_pa_.raw(), p.host_vmsave_area.raw(), (flags >> 9) & 1);
        xstate_after_exit(p, xstate_, features_);
        if (!holds_host_state(p)) [[likely]]
            break;
        hv::console::log("hv: cpu %u: VMCB %lx holds this processor's state after exit 0x%lx (info2 %lx) of an entry "
                         "with event_inj %lx; %s\n",
                         p.index, vmcb_pa_.raw(), vmcb_->control.exit_code, vmcb_->control.exit_info2,
                         injecting ? p.entry_backup.event_inj : 0,
                         injecting && attempt < 2 ? "entering again from the state saved before" : "not recoverable");
        if (!injecting || attempt == 2)
            break;
        vmcb_->save = p.entry_backup.save;
        vmcb_->control.int_ctl = p.entry_backup.int_ctl;
        vmcb_->control.int_state = p.entry_backup.int_state;
        vmcb_->control.event_inj = p.entry_backup.event_inj;
        hv::x86::cli();   // as before the first entry: nothing between here and VMRUN
    }
    hv::virt::Intercept x = complete_exit(gprs);
    if (x.kind == hv::virt::ExitKind::invalid_state && suspect && x.entry.code == exit::invalid)
        x.entry.check = suspect;
    return x;
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
