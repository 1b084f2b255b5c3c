#include "hv/virt/cpuid_policy.hpp"

#include "hypercalls/abi/tlfs.hpp"

namespace hv::virt {
namespace {

// Register values are the little-endian bytes of the ASCII strings.
constexpr uint32_t chars(char a, char b, char c, char d) {
    return static_cast<uint32_t>(static_cast<uint8_t>(a)) | static_cast<uint32_t>(static_cast<uint8_t>(b)) << 8 |
           static_cast<uint32_t>(static_cast<uint8_t>(c)) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(d)) << 24;
}

constexpr uint32_t leaf1_ecx_vmx = 1u << 5;
constexpr uint32_t leaf1_ecx_x2apic = 1u << 21;
constexpr uint32_t leaf1_ecx_tsc_deadline = 1u << 24;
constexpr uint32_t leaf1_ecx_osxsave = 1u << 27;
constexpr uint32_t leaf1_ecx_hypervisor = 1u << 31;
constexpr uint32_t ext1_ecx_svm = 1u << 2;

// 0x40000006 EAX (TLFS 2.4.8): hardware features in use: MSR bitmaps (bit 1), second-level
// address translation (bit 3).
constexpr uint32_t hw_msr_bitmaps = 1u << 1;
constexpr uint32_t hw_slat = 1u << 3;

CpuidRegs hypervisor_leaf(uint32_t leaf, const CpuidPolicy& p) {
    switch (leaf) {
    case tlfs::cpuid::vendor:
        return {tlfs::cpuid::max_leaf, chars('M', 'i', 'c', 'r'), chars('o', 's', 'o', 'f'), chars('t', ' ', 'H', 'v')};
    case tlfs::cpuid::interface:
        return {tlfs::cpuid::interface_signature, 0, 0, 0};
    case tlfs::cpuid::version:
        return {1, 1u << 16, 0, 0};   // build 1, version 1.0
    case tlfs::cpuid::features:
        return {static_cast<uint32_t>(p.privileges), static_cast<uint32_t>(p.privileges >> 32), 0, p.features_edx};
    case tlfs::cpuid::recommendations:
        return {p.recommendations, 0xffffffff, 0, 0};   // EBX: never notify about long spin waits
    case tlfs::cpuid::limits:
        return {p.max_vps, p.max_lps, 0, 0};
    case tlfs::cpuid::hw_features:
        return {hw_msr_bitmaps | hw_slat, 0, 0, 0};
    default:
        return {0, 0, 0, 0};   // 0x40000007-0x4000000A: no CPU management or nesting features
    }
}

} // namespace

CpuidRegs apply_cpuid_policy(uint32_t leaf, uint32_t subleaf, CpuidRegs host, const CpuidPolicy& policy,
                             const VcpuCpuidContext& vp) {
    (void)subleaf;
    if (leaf >= tlfs::cpuid::vendor && leaf <= 0x4fffffff) {
        // The whole 0x40000000 range is the hypervisor's: leaves past the maximum read as zero.
        return leaf <= tlfs::cpuid::max_leaf ? hypervisor_leaf(leaf, policy) : CpuidRegs{0, 0, 0, 0};
    }
    CpuidRegs r = host;
    switch (leaf) {
    case 1:
        r.ecx &= ~(leaf1_ecx_vmx | leaf1_ecx_osxsave | leaf1_ecx_x2apic | leaf1_ecx_tsc_deadline);
        r.ecx |= leaf1_ecx_hypervisor;
        if (vp.cr4_osxsave)
            r.ecx |= leaf1_ecx_osxsave;
        // The hypervisor's virtual x2APIC emulates the TSC-deadline timer mode whatever the
        // processor has (hv/virt/vtimer.hpp); a child's APIC (emulated by the root) has none.
        if (policy.x2apic)
            r.ecx |= leaf1_ecx_x2apic | leaf1_ecx_tsc_deadline;
        r.ebx = (r.ebx & 0x00ffffff) | (vp.apic_id << 24);
        break;
    case 0xb:
    case 0x1f:
        r.edx = vp.apic_id;
        break;
    case 0x80000001:
        r.ecx &= ~ext1_ecx_svm;   // no partition runs its own AMD-V (yet)
        break;
    case 0x8000000a:
        r = {0, 0, 0, 0};         // SVM feature leaf: meaningless without SVM
        break;
    default:
        break;
    }
    return r;
}

} // namespace hv::virt
