#include "svm/svm.hpp"

#include "hv/arch/x86.hpp"
#include "hv/percpu.hpp"
#include "svm/vmcb_defs.hpp"
#include "svm/xstate.hpp"

namespace svm {
namespace {

ProcessorState states[hv::max_processors];
Features cached;
bool detected = false;

} // namespace

Features detect() {
    using hv::x86::cpuid;
    CpuidLeaves l{};
    auto max_std = cpuid(0).eax;
    l.ext_max = cpuid(0x80000000).eax;
    if (l.ext_max >= 0x80000001)
        l.ext1_ecx = cpuid(0x80000001).ecx;
    if (l.ext_max >= 0x8000000a) {
        auto r = cpuid(0x8000000a);
        l.svm_eax = r.eax;
        l.svm_ebx = r.ebx;
        l.svm_edx = r.edx;
    }
    l.std1_ecx = cpuid(1).ecx;
    if (max_std >= 0xd) {
        auto r = cpuid(0xd, 0);
        l.xsave_eax = r.eax;
        l.xsave_ecx = r.ecx;
        l.xsave_edx = r.edx;
    }
    return parse_features(l);
}

const Features& features() { return cached; }

Status enable_processor(hv::PhysAddr host_save_area, hv::PhysAddr host_vmsave_area) {
    if (!host_save_area.is_page_aligned() || !host_vmsave_area.is_page_aligned())
        return Status::bad_argument;
    Features f = detect();
    if (!f.svm)
        return Status::no_svm;
    // SVMDIS is only meaningful once SVM exists; reading VM_CR earlier could #GP.
    if (hv::x86::rdmsr(msr_vm_cr) & vm_cr_svmdis)
        return Status::disabled_by_bios;
    if (!f.npt)
        return Status::no_npt;
    if (!detected) {
        cached = f;
        detected = true;
    }
    hv::x86::wrmsr(hv::x86::msr::efer, hv::x86::rdmsr(hv::x86::msr::efer) | efer_svme);
    hv::x86::wrmsr(msr_vm_hsave_pa, host_save_area.raw());

    hv::PerCpu& cpu = hv::this_cpu();
    ProcessorState& st = states[cpu.index];
    st.host_vmsave_area = host_vmsave_area;
    st.index = cpu.index;
    st.xstate_owner = nullptr;
    st.xcr0 = enable_xsave(f);
    st.enabled = true;
    cpu.virt_state = &st;
    return Status::ok;
}

ProcessorState& processor() { return *static_cast<ProcessorState*>(hv::this_cpu().virt_state); }

} // namespace svm
