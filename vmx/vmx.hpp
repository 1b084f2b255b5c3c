// VMX detection and per-processor enable (Intel SDM vol 3 ch. 23.6-23.8, 24.11.5, appendix A).
// detect() runs once on the bootstrap processor before any enable_processor(); the capability
// snapshot it fills is read-only afterwards, so every processor reads it without a lock.
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "vmx/caps.hpp"

namespace vmx {

using hv::PhysAddr;

class Vcpu;

// What the hardware of one processor currently holds on behalf of which Vcpu; reached through
// hv::this_cpu().virt_state once enable_processor() ran there.
struct Processor {
    bool on = false;                   // in VMX root operation
    PhysAddr vmxon_region;
    const Vcpu* current_vmcs = nullptr;   // the Vcpu whose VMCS VMPTRLD made current
    Vcpu* context_owner = nullptr;        // whose XSAVE / SYSCALL-MSR state the registers hold
    uint64_t xcr0 = 1;                    // XCR0 as last loaded with XSETBV
};

// Reads CPUID and the VMX capability MSRs, locks IA32_FEATURE_CONTROL if firmware left it
// open, and checks every control this backend cannot work without. Idempotent.
[[nodiscard]] Detection detect();
[[nodiscard]] const Capabilities& caps();

// Applies the CR0/CR4 fixed bits, sets CR4.VMXE (and CR4.OSXSAVE when XSAVE exists), writes
// the VMCS revision into the VMXON region and executes VMXON. `vmxon_virt` is the
// hypervisor's pointer to the 4 KiB page at `vmxon_region`. Logs and returns false on failure.
[[nodiscard]] bool enable_processor(PhysAddr vmxon_region, void* vmxon_virt);
// VMXOFF and CR4.VMXE clear; every Vcpu loaded here must have been unloaded first.
void disable_processor();
// The calling processor's state; nullptr before enable_processor() ran on it.
[[nodiscard]] Processor* current_processor();

// TLB maintenance (SDM vol 3 28.4.3, 30 INVEPT/INVVPID): types 1 single context, 2 all.
void invept(uint64_t type, uint64_t eptp);
void invvpid(uint64_t type, uint16_t vpid);

} // namespace vmx
