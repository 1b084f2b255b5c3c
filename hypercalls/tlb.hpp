// Flushing a VP's guest translations on the processor that runs it, per vendor (TLFS 15.x TLB
// flush calls): AMD-V flushes the partition's ASID at the next VMRUN (APM 15.16); VT-x
// invalidates the partition's VPID with INVVPID (SDM vol 3 28.3.3.3), which acts on the
// executing processor only, so it runs there.
#pragma once
#include "svm/vcpu.hpp"
#include "vmx/caps.hpp"
#include "vmx/vcpu.hpp"
#include "vmx/vmx.hpp"

namespace hypercalls {

inline void flush_guest_tlb(svm::Vcpu& cpu, uint16_t) { cpu.flush_tlb(); }

inline void flush_guest_tlb(vmx::Vcpu&, uint16_t vpid) {
    uint64_t caps = vmx::caps().ept_vpid;
    if (!(caps & vmx::vpid_invvpid))
        return;   // without INVVPID there is no VPID in use, and every VM entry flushes
    if (caps & vmx::vpid_invvpid_single)
        vmx::invvpid(1, vpid);   // single context
    else if (caps & vmx::vpid_invvpid_all)
        vmx::invvpid(2, 0);      // all contexts
}

} // namespace hypercalls
