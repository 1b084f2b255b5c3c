// One virtual processor on VT-x: owns its VMCS and its extended-state area and satisfies
// hv::virt::VcpuBackend. GuestGprs[rsp] mirrors GUEST_RSP: run() copies it out at every exit
// and writes it back only if the core changed it, so write(Reg::rsp) between runs also works.
// StartState's RDI/RSI reach GuestGprs at the first run() after reset(). XSETBV exits are
// handled inside run() (validated, #GP injected on a bad value) and never reach the core. run() must be called with interrupts disabled on a processor where
// enable_processor() ran; it returns with them disabled (a VM exit clears RFLAGS.IF, SDM vol 3
// 27.5.3) and the core dispatches a host interrupt the exit reports (acknowledge-on-exit).
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/percpu.hpp"
#include "hv/virt/vcpu.hpp"
#include "vmx/exit_decode.hpp"
#include "vmx/guest_check.hpp"
#include "vmx/vmx.hpp"

namespace vmx {

class Vcpu {
public:
    // `vmcs` and `xsave_area` are 4 KiB pages given as physical address plus hypervisor pointer;
    // the Vcpu keeps them until it is destroyed. Setup failures (which mean a broken invariant of
    // ours, not the guest's) are reported by ok().
    Vcpu(PhysAddr vmcs, void* vmcs_virt, void* xsave_area, const hv::virt::PartitionHw& hw);
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;
    [[nodiscard]] bool ok() const { return ok_; }

    void reset(const hv::virt::StartState& st);
    hv::virt::Intercept run(hv::virt::GuestGprs& gprs);

    [[nodiscard]] uint64_t read(hv::virt::Reg r) const;
    void write(hv::virt::Reg r, uint64_t v);
    [[nodiscard]] hv::virt::Segment segment(hv::virt::Seg s) const;
    void set_segment(hv::virt::Seg s, const hv::virt::Segment& seg);
    void advance_rip(uint8_t len);
    void inject(const hv::virt::Event& e);
    [[nodiscard]] bool injection_pending() const;
    [[nodiscard]] bool interruptible() const;
    void request_interrupt_window(bool on);
    void set_exception_intercepts(uint32_t bitmap);

    // Beyond the neutral interface (tell the lead if the core needs them there).
    [[nodiscard]] hv::virt::DescriptorTable gdtr() const;
    [[nodiscard]] hv::virt::DescriptorTable idtr() const;
    void set_gdtr(const hv::virt::DescriptorTable& t);
    void set_idtr(const hv::virt::DescriptorTable& t);
    void cancel_injection();
    // The preemption-timer backstop in TSC ticks (0: off), rearmed at every entry.
    void set_backstop(uint64_t tsc_ticks);
    // XCR0 bits the guest may enable with XSETBV (its CPUID view); default: all we manage.
    void set_xcr0_allowed(uint64_t mask) { xcr0_allowed_ = mask & caps().xcr0_supported; }
    // VMCLEAR on this processor so the Vcpu may run on another one next (SDM vol 3 24.11.1).
    void unload();
    [[nodiscard]] uint64_t xcr0() const { return xcr0_; }
    [[nodiscard]] uint64_t eptp() const { return eptp_; }
    [[nodiscard]] uint64_t exits() const { return exits_; }

private:
    // VMPTRLD here; host state when first used on a processor. Every register access calls it,
    // so the common case — already current on this processor — is one inline comparison.
    void load() const {
        auto* p = static_cast<const Processor*>(hv::this_cpu().virt_state);
        if (p == loaded_on_ && p && p->current_vmcs == this) [[likely]]
            return;
        load_slow();
    }
    void load_slow() const;
    void write_host_state() const;
    void write_controls(const hv::virt::PartitionHw& hw);
    void save_context(Processor& p);
    void switch_context(Processor& p);
    void reset_extended_state();
    bool handle_xsetbv(hv::virt::GuestGprs& gprs, uint8_t len);
    void reinject_vectoring(const RawExit& e);
    [[nodiscard]] hv::virt::Intercept entry_failure(const hv::virt::Intercept& decoded);
    [[nodiscard]] GuestStateSnapshot snapshot() const;

    PhysAddr vmcs_;
    void* vmcs_virt_;
    uint8_t* xsave_;                   // 4 KiB, XSAVE layout (FXSAVE's first 512 bytes without XSAVE)
    mutable Processor* loaded_on_ = nullptr;
    mutable uint64_t host_rsp_ = 0;    // last HOST_RSP the entry stub wrote
    bool launched_ = false;
    bool ok_ = false;
    bool start_pending_ = false;       // the next run() hands StartState's RDI/RSI to the guest
    hv::virt::StartState start_{};
    uint32_t primary_ = 0;
    uint32_t backstop_ = 0;            // preemption-timer units; 0 = off
    bool save_timer_ = false;          // the timer's value is saved at exit (counts across exits)
    uint64_t eptp_ = 0;
    uint64_t cr0_fixed0_ = 0;          // with PE/PG exempt (unrestricted guest)
    uint64_t xcr0_ = 1;
    uint64_t xcr0_allowed_ = 0;
    uint64_t cr2_ = 0;
    uint64_t rsp_mirror_ = 0;          // GuestGprs[rsp] as handed out at the last exit
    uint64_t syscall_msrs_[5] = {};    // STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE
    uint64_t exits_ = 0;
};

static_assert(hv::virt::VcpuBackend<Vcpu>);

} // namespace vmx
