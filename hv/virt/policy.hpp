// MSR and I/O port policy for partitions (docs/root-partition.md, "What the root sees"), and
// the root's virtual x2APIC. Vendor-neutral: callers pass decoded accesses and apply the outcome
// (a value, or #GP(0) injected) to their backend's Vcpu.
#pragma once
#include <stdint.h>

#include "hv/virt/intercept.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {

struct Outcome {
    bool gp;          // inject #GP(0) and leave RIP unchanged
    uint64_t value;   // for reads
};

// Sets the partition's intercept bitmaps for everything this policy handles.
template <class Vendor> void install_policy(Partition& p);

[[nodiscard]] Outcome msr_read(Vp& vp, uint32_t msr);
[[nodiscard]] Outcome msr_write(Vp& vp, uint32_t msr, uint64_t value);
[[nodiscard]] Outcome io_access(Vp& vp, const IoAccess& io, uint32_t out_value);

// The MSRs and ports the policy intercepts, for install_policy.
inline constexpr uint32_t intercepted_msrs[] = {
    0x1b,         // IA32_APIC_BASE: the root's APIC is a virtual x2APIC
    0x3a,         // IA32_FEATURE_CONTROL: VT-x is hidden
    0xc0000080,   // EFER: AMD-V needs SVME set in the guest's; a guest must not set it
    0xc0010114,   // VM_CR
    0xc0010117,   // VM_HSAVE_PA
    0x6e0,        // IA32_TSC_DEADLINE: the root's APIC timer is emulated (hv/virt/vtimer.hpp)
};
inline constexpr uint32_t tsc_aux = 0xc0000103;   // the hypervisor's processor index: writes are dropped
inline constexpr uint32_t vmx_capability_first = 0x480, vmx_capability_last = 0x491;
inline constexpr uint32_t x2apic_first = 0x800, x2apic_last = 0x8ff;
inline constexpr uint16_t debug_exit_port = 0xf4;

template <class Vendor> void install_policy(Partition& p) {
    for (uint32_t msr : intercepted_msrs)
        Vendor::intercept_msr(p.msr_bitmap, msr, true, true);
    Vendor::intercept_msr(p.msr_bitmap, tsc_aux, false, true);
    for (uint32_t msr = vmx_capability_first; msr <= vmx_capability_last; msr++)
        Vendor::intercept_msr(p.msr_bitmap, msr, true, true);
    for (uint32_t msr = x2apic_first; msr <= x2apic_last; msr++)
        Vendor::intercept_msr(p.msr_bitmap, msr, true, true);
    for (uint16_t port = Uart16550::base; port < Uart16550::base + 8; port++)
        Vendor::intercept_io(p.io_bitmap, port);
    if (p.debug_exit_port)
        Vendor::intercept_io(p.io_bitmap, debug_exit_port);
}

// A child's IA32_APIC_BASE, IA32_TSC_DEADLINE and x2APIC MSRs (hv/virt/lapic.cpp).
[[nodiscard]] Outcome child_apic_msr(Vp& vp, uint32_t msr, bool write, uint64_t value);

// The root's virtual x2APIC (hv/virt/apic_virt.cpp).
[[nodiscard]] Outcome x2apic_read(Vp& vp, uint32_t msr);
[[nodiscard]] Outcome x2apic_write(Vp& vp, uint32_t msr, uint64_t value);

} // namespace hv::virt
