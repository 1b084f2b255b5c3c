// One virtual processor on VT-x: owns its VMCS and its extended-state area and satisfies
// hv::virt::VcpuBackend. run() must be called with interrupts disabled on a processor where
// enable_processor() ran; it returns with them disabled (a VM exit clears RFLAGS.IF, SDM vol 3
// 27.5.3) and the core dispatches a host interrupt the exit reports (acknowledge-on-exit).
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/virt/vcpu.hpp"
#include "vmx/exit_decode.hpp"
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
    // The preemption-timer backstop in TSC ticks (0: off). Default: about 4M ticks.
    void set_backstop(uint64_t tsc_ticks);
    // VMCLEAR on this processor so the Vcpu may run on another one next (SDM vol 3 24.11.1).
    void unload();
    [[nodiscard]] uint64_t xcr0() const { return xcr0_; }
    [[nodiscard]] uint64_t exits() const { return exits_; }

private:
    friend void save_guest_context(Vcpu& v);
    void load();                       // VMPTRLD here, host state when the processor changed
    void write_host_state();
    void write_controls(const hv::virt::PartitionHw& hw);
    void switch_context(Processor& p);
    bool handle_xsetbv(hv::virt::GuestGprs& gprs);
    hv::virt::Intercept entry_failure(const hv::virt::Intercept& decoded);
    void reinject_vectoring(const RawExit& e);
    void set_controls(uint32_t primary);

    PhysAddr vmcs_;
    void* vmcs_virt_;
    uint8_t* xsave_;
    Processor* loaded_on_ = nullptr;
    bool launched_ = false;
    bool ok_ = false;
    uint32_t primary_ = 0;
    uint64_t cr0_fixed0_ = 0;          // with PE/PG exempt (unrestricted guest)
    uint64_t host_rsp_ = 0;            // last HOST_RSP the entry stub wrote
    uint64_t xcr0_ = 1;
    uint64_t cr2_ = 0;
    uint64_t rsp_mirror_ = 0;          // GuestGprs[rsp] as handed out at the last exit
    bool rsp_mirror_valid_ = false;
    uint32_t backstop_ = 0;            // preemption-timer units; 0 = off
    uint64_t syscall_msrs_[5] = {};    // STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE
    uint64_t exits_ = 0;
};

static_assert(hv::virt::VcpuBackend<Vcpu>);

} // namespace vmx
