// The pure half of svm/svm.hpp: CPUID parsing and status text, shared with the host tests.
#include "svm/svm.hpp"

namespace svm {

Features parse_features(const CpuidLeaves& l) {
    Features f;
    f.svm = l.ext_max >= 0x80000001 && (l.ext1_ecx & (1u << 2)) != 0;
    if (f.svm && l.ext_max >= 0x8000000a) {
        f.revision = static_cast<uint8_t>(l.svm_eax & 0xff);
        f.asid_count = l.svm_ebx;
        f.npt = (l.svm_edx & (1u << 0)) != 0;
        f.lbr_virt = (l.svm_edx & (1u << 1)) != 0;
        f.nrip_save = (l.svm_edx & (1u << 3)) != 0;
        f.vmcb_clean = (l.svm_edx & (1u << 5)) != 0;
        f.flush_by_asid = (l.svm_edx & (1u << 6)) != 0;
        f.decode_assists = (l.svm_edx & (1u << 7)) != 0;
        f.pause_filter = (l.svm_edx & (1u << 10)) != 0;
        f.vgif = (l.svm_edx & (1u << 16)) != 0;
    }
    f.xsave = (l.std1_ecx & (1u << 26)) != 0;
    if (f.xsave) {
        f.xcr0_supported = (static_cast<uint64_t>(l.xsave_edx) << 32) | l.xsave_eax;
        f.xsave_max_bytes = l.xsave_ecx;
    }
    return f;
}

const char* describe(Status s) {
    switch (s) {
    case Status::ok: return "svm: enabled";
    case Status::no_svm: return "svm: the processor has no AMD-V (CPUID 0x80000001 ECX[2])";
    case Status::disabled_by_bios: return "svm: disabled by firmware (VM_CR.SVMDIS)";
    case Status::no_npt: return "svm: no nested paging (CPUID 0x8000000A EDX[0])";
    case Status::bad_argument: return "svm: save area not page aligned";
    }
    return "svm: ?";
}

} // namespace svm
