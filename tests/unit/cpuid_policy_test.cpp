#include "hv/virt/cpuid_policy.hpp"
#include "hypercalls/abi/tlfs.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>

using hv::virt::apply_cpuid_policy;
using hv::virt::CpuidPolicy;
using hv::virt::CpuidRegs;
using hv::virt::VcpuCpuidContext;

namespace {
const CpuidPolicy root{tlfs::privilege::cpu_management | tlfs::privilege::vp_index_msr, 0, 0, 64, 64, true};
const CpuidPolicy child{tlfs::privilege::vp_index_msr, 0, 0, 64, 64, false};
const VcpuCpuidContext vp{false, 3};

std::string regs_string(uint32_t a, uint32_t b, uint32_t c) {
    char s[13];
    std::memcpy(s, &a, 4);
    std::memcpy(s + 4, &b, 4);
    std::memcpy(s + 8, &c, 4);
    s[12] = 0;
    return s;
}
} // namespace

TEST(CpuidPolicy, HypervisorVendorLeafIsMicrosoftHv) {
    auto r = apply_cpuid_policy(0x40000000, 0, {}, root, vp);
    EXPECT_GE(r.eax, 0x40000005u);
    EXPECT_LE(r.eax, 0x4000ffffu);
    EXPECT_EQ(regs_string(r.ebx, r.ecx, r.edx), "Microsoft Hv");
    auto i = apply_cpuid_policy(0x40000001, 0, {}, root, vp);
    EXPECT_EQ(regs_string(i.eax, 0, 0).substr(0, 4), "Hv#1");
}

TEST(CpuidPolicy, PrivilegesSplitAcrossEaxEbx) {
    auto r = apply_cpuid_policy(0x40000003, 0, {}, root, vp);
    EXPECT_EQ(r.eax, static_cast<uint32_t>(tlfs::privilege::vp_index_msr));
    EXPECT_EQ(r.ebx, 1u << 12);   // CpuManagement
    auto c = apply_cpuid_policy(0x40000003, 0, {}, child, vp);
    EXPECT_EQ(c.ebx & (1u << 12), 0u) << "a child never sees CpuManagement";
}

TEST(CpuidPolicy, LeavesPastTheMaximumReadZero) {
    auto r = apply_cpuid_policy(0x4000000b, 0, {1, 2, 3, 4}, root, vp);
    EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u);
    r = apply_cpuid_policy(0x40000100, 0, {1, 2, 3, 4}, root, vp);
    EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u);
}

TEST(CpuidPolicy, Leaf1HidesVmxSetsHypervisorAndMirrorsOsxsave) {
    CpuidRegs host{0x806f8, 0x00010800, (1u << 5) | (1u << 27) | (1u << 26), 0};
    auto r = apply_cpuid_policy(1, 0, host, child, vp);
    EXPECT_EQ(r.ecx & (1u << 5), 0u);
    EXPECT_NE(r.ecx & (1u << 31), 0u);
    EXPECT_EQ(r.ecx & (1u << 27), 0u) << "guest CR4.OSXSAVE is clear";
    EXPECT_NE(r.ecx & (1u << 26), 0u) << "XSAVE itself stays visible";
    EXPECT_EQ(r.ecx & (1u << 21), 0u);
    EXPECT_EQ(r.ebx >> 24, 3u);
    auto s = apply_cpuid_policy(1, 0, host, root, {true, 5});
    EXPECT_NE(s.ecx & (1u << 27), 0u);
    EXPECT_NE(s.ecx & (1u << 21), 0u) << "the root is given an x2APIC";
    EXPECT_EQ(s.ebx >> 24, 5u);
}

TEST(CpuidPolicy, HidesSvm) {
    auto r = apply_cpuid_policy(0x80000001, 0, {0, 0, 0xffffffff, 0}, root, vp);
    EXPECT_EQ(r.ecx & (1u << 2), 0u);
    auto f = apply_cpuid_policy(0x8000000a, 0, {1, 16, 0, 0x10010001}, root, vp);
    EXPECT_EQ(f.eax | f.ebx | f.ecx | f.edx, 0u);
}

TEST(CpuidPolicy, OtherLeavesPassThrough) {
    CpuidRegs host{1, 2, 3, 4};
    auto r = apply_cpuid_policy(0x80000008, 0, host, root, vp);
    EXPECT_EQ(r.eax, 1u);
    EXPECT_EQ(r.edx, 4u);
}
