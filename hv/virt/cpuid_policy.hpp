// What a partition sees from CPUID: the processor's answer, with the hypervisor leaves of the
// TLFS (2.4) added and the features a partition must not use hidden. Pure: the caller executes
// CPUID on the processor and passes the result in, so the policy runs in host unit tests.
#pragma once
#include <stdint.h>

namespace hv::virt {

struct CpuidRegs {
    uint32_t eax, ebx, ecx, edx;
};

struct CpuidPolicy {
    uint64_t privileges;        // TLFS partition privilege mask (CPUID 0x40000003 EAX/EBX)
    uint32_t features_edx;      // CPUID 0x40000003 EDX
    uint32_t recommendations;   // CPUID 0x40000004 EAX
    uint32_t max_vps;           // CPUID 0x40000005 EAX
    uint32_t max_lps;           // CPUID 0x40000005 EBX
    bool x2apic;                // advertise x2APIC (the hypervisor provides it, see docs/root-partition.md)
};

struct VcpuCpuidContext {
    bool cr4_osxsave;           // the guest's CR4.OSXSAVE: CPUID.1:ECX[27] mirrors it (SDM vol 2A CPUID)
    uint32_t apic_id;           // CPUID.1:EBX[31:24] and leaf 0xB/0x1F EDX: this VP's initial APIC ID
};

// `host` is what CPUID(leaf, subleaf) returned on the processor (ignored for hypervisor leaves).
[[nodiscard]] CpuidRegs apply_cpuid_policy(uint32_t leaf, uint32_t subleaf, CpuidRegs host,
                                           const CpuidPolicy& policy, const VcpuCpuidContext& vp);

} // namespace hv::virt
