#include "hv/backend.hpp"

#include "hv/arch/interrupts.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"

namespace hv {
namespace {

constexpr uint32_t msr_vm_cr = 0xc0010114;

// AMD APM vol 2 15.4: SVM is present with CPUID 0x80000001 ECX bit 2 and usable unless the
// firmware set VM_CR.SVMDIS (bit 4).
const char* svm_problem() {
    if (x86::cpuid(0x80000000).eax < 0x80000001 || !((x86::cpuid(0x80000001).ecx >> 2) & 1))
        return "no SVM in CPUID 0x80000001 ECX";
    uint64_t vm_cr = 0;
    if (arch::rdmsr_safe(msr_vm_cr, vm_cr) && ((vm_cr >> 4) & 1))
        return "SVM disabled by firmware (VM_CR.SVMDIS)";
    return nullptr;
}

// Intel SDM vol 3 23.7: VMX with CPUID 1 ECX bit 5; VMXON outside SMX needs
// IA32_FEATURE_CONTROL bit 2, and the MSR is writable only until its lock bit 0 is set.
const char* vmx_problem(bool claim) {
    if (!((x86::cpuid(1).ecx >> 5) & 1))
        return "no VMX in CPUID 1 ECX";
    uint64_t fc = 0;
    if (!arch::rdmsr_safe(x86::msr::feature_control, fc))
        return "IA32_FEATURE_CONTROL unreadable";
    if (fc & 1)
        return (fc & 4) ? nullptr : "VMX disabled and locked by firmware (IA32_FEATURE_CONTROL)";
    if (claim && !arch::wrmsr_safe(x86::msr::feature_control, fc | 4 | 1))
        return "IA32_FEATURE_CONTROL refused the enable";
    return nullptr;
}

} // namespace

const char* backend_name(Backend b) {
    switch (b) {
    case Backend::svm:
        return "svm";
    case Backend::vmx:
        return "vmx";
    case Backend::none:
        return "none";
    }
    return "none";
}

bool select_backend(BackendChoice choice, Backend& out) {
    const char* svm = svm_problem();
    const char* vmx = svm ? vmx_problem(false) : "not probed";
    switch (choice) {
    case BackendChoice::none:
        out = Backend::none;
        return true;
    case BackendChoice::svm:
        if (svm) {
            console::log("hv: backend=svm requested but unusable: %s\n", svm);
            return false;
        }
        out = Backend::svm;
        return true;
    case BackendChoice::vmx:
        vmx = vmx_problem(true);
        if (vmx) {
            console::log("hv: backend=vmx requested but unusable: %s\n", vmx);
            return false;
        }
        out = Backend::vmx;
        return true;
    case BackendChoice::automatic:
        break;
    }
    if (!svm)
        out = Backend::svm;
    else if (!vmx && !vmx_problem(true))
        out = Backend::vmx;
    else
        out = Backend::none;
    return true;
}

} // namespace hv
