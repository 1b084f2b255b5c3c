// One AMD-V virtual processor: a VMCB, an XSAVE area and the neutral hv::virt::VcpuBackend
// interface over them. Everything except run()/handle_xsetbv() only edits the VMCB (vcpu.cpp,
// host-tested); the privileged entry lives in vcpu_run.cpp and entry.S.
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/virt/vcpu.hpp"
#include "svm/svm.hpp"
#include "svm/vmcb.hpp"
#include "svm/xstate.hpp"

namespace svm {

class Vcpu {
public:
    struct Pages {
        Vmcb* vmcb;              // 4 KiB page; the Vcpu zeroes and owns it
        hv::PhysAddr vmcb_pa;
        void* xsave_area;        // 4 KiB, 4 KiB aligned
    };
    Vcpu(const Pages& pages, const hv::virt::PartitionHw& hw, const Features& f);

    // Takes effect at the next run(), which also loads the caller's GuestGprs with the start
    // values (all zero but RSP/RDI/RSI in long mode): reset() cannot reach them.
    void reset(const hv::virt::StartState& st);
    [[nodiscard]] hv::virt::Intercept run(hv::virt::GuestGprs& gprs);

    [[nodiscard]] uint64_t read(hv::virt::Reg r) const;
    void write(hv::virt::Reg r, uint64_t v);
    [[nodiscard]] hv::virt::Segment segment(hv::virt::Seg s) const;
    void set_segment(hv::virt::Seg s, const hv::virt::Segment& seg);
    void advance_rip(uint8_t length);
    void inject(const hv::virt::Event& e);   // replaces anything pending
    [[nodiscard]] bool injection_pending() const;
    [[nodiscard]] bool interruptible() const;
    void request_interrupt_window(bool on);  // one-shot: cleared again by the VINTR exit
    void set_exception_intercepts(uint32_t mask);

    // AMD-V specifics the exit loop may use.
    [[nodiscard]] hv::virt::DescriptorTable gdtr() const { return {vmcb_->save.gdtr.base, static_cast<uint16_t>(vmcb_->save.gdtr.limit)}; }
    [[nodiscard]] hv::virt::DescriptorTable idtr() const { return {vmcb_->save.idtr.base, static_cast<uint16_t>(vmcb_->save.idtr.limit)}; }
    void set_gdtr(const hv::virt::DescriptorTable& t);
    void set_idtr(const hv::virt::DescriptorTable& t);
    [[nodiscard]] uint8_t cpl() const { return vmcb_->save.cpl; }
    // V_TPR (APM 15.21.1): with V_INTR_MASKING the guest's MOV CR8 lands here, not at the
    // local APIC, so the exit loop keeps the root's TPR in step with it.
    [[nodiscard]] uint8_t virtual_tpr() const { return static_cast<uint8_t>(vmcb_->control.int_ctl & 0xf); }
    void set_virtual_tpr(uint8_t v) { vmcb_->control.int_ctl = (vmcb_->control.int_ctl & ~0xfull) | (v & 0xf); }
    // An XSETBV exit: validates ECX and EDX:EAX, loads the new XCR0 or injects #GP(0), and
    // steps over the instruction (`length` 0: the 3 bytes of 0F 01 D1). True when accepted.
    bool handle_xsetbv(const hv::virt::GuestGprs& gprs, uint8_t length);
    // Saves the guest's extended state if this processor holds it: before the Vcpu moves to
    // another processor or is destroyed.
    void release_extended_state();
    void flush_tlb() { flush_ = true; }     // after the nested tables of this partition change
    [[nodiscard]] uint64_t guest_xcr0() const { return xstate_.xcr0; }
    [[nodiscard]] Vmcb& vmcb() { return *vmcb_; }
    [[nodiscard]] const Vmcb& vmcb() const { return *vmcb_; }

    // The two halves of run() around the hardware, public for the host tests.
    void prepare_entry(hv::virt::GuestGprs& gprs);
    [[nodiscard]] hv::virt::Intercept complete_exit(hv::virt::GuestGprs& gprs);

private:
    [[nodiscard]] bool holds_host_state(const ProcessorState& p) const;
    void save_entry(EntryBackup& b) const;
    void restore_entry(const EntryBackup& b);

    Vmcb* vmcb_;
    hv::PhysAddr vmcb_pa_;
    Features features_;
    XState xstate_;
    hv::virt::StartState start_{};
    bool start_pending_ = false;
    bool flush_ = true;
    uint32_t last_processor_ = ~0u;
};

static_assert(hv::virt::VcpuBackend<Vcpu>);

} // namespace svm
