// AMD-V detection and per-processor enable (AMD APM vol 2 15.4, 15.30).
// Feature parsing is pure (tested on the host); the rest are thin privileged wrappers.
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "svm/vmcb.hpp"

namespace svm {

struct Features {
    bool svm = false;               // CPUID 0x80000001 ECX[2]
    bool npt = false;               // CPUID 0x8000000A EDX[0]
    bool lbr_virt = false;          // EDX[1]
    bool nrip_save = false;         // EDX[3]
    bool vmcb_clean = false;        // EDX[5]
    bool flush_by_asid = false;     // EDX[6]
    bool decode_assists = false;    // EDX[7]
    bool pause_filter = false;      // EDX[10]
    bool vgif = false;              // EDX[16]
    uint8_t revision = 0;           // EAX[7:0]
    uint32_t asid_count = 0;        // EBX: ASIDs 1..count-1 are usable
    bool xsave = false;             // CPUID 1 ECX[26]
    uint64_t xcr0_supported = 0;    // CPUID 0xD.0 EDX:EAX
    uint32_t xsave_max_bytes = 0;   // CPUID 0xD.0 ECX
};

// Register values of the leaves that matter; a leaf the processor lacks is all zero.
struct CpuidLeaves {
    uint32_t ext_max;               // 0x80000000 EAX
    uint32_t ext1_ecx;              // 0x80000001 ECX
    uint32_t svm_eax, svm_ebx, svm_edx;   // 0x8000000A
    uint32_t std1_ecx;              // 0x1 ECX
    uint32_t xsave_eax, xsave_ecx, xsave_edx;   // 0xD.0
};

[[nodiscard]] Features parse_features(const CpuidLeaves& l);

enum class Status : uint8_t {
    ok,
    no_svm,             // the processor has no AMD-V
    disabled_by_bios,   // VM_CR.SVMDIS: firmware turned it off (APM 15.30.1)
    no_npt,             // this hypervisor requires nested paging
    bad_argument,       // a save area that is not page aligned
};
[[nodiscard]] const char* describe(Status s);

// Reads CPUID on this processor.
[[nodiscard]] Features detect();
[[nodiscard]] const Features& features();   // detect()'s result, cached at the first enable

// Sets EFER.SVME and VM_HSAVE_PA on the calling processor (APM 15.4) and, when the processor
// has XSAVE, CR4.OSXSAVE. `host_save_area` is the processor's private 4 KiB page;
// `host_vmsave_area` receives the host's VMSAVE state (FS/GS/TR/LDTR, syscall MSRs) around each
// guest run, because VMRUN switches only part of the state (APM 15.5.2). Both page aligned,
// zeroed, owned by this processor until it stops.
[[nodiscard]] Status enable_processor(hv::PhysAddr host_save_area, hv::PhysAddr host_vmsave_area);

// What svm::Vcpu needs of the processor it runs on (reached through PerCpu::virt_state).
struct XState;
// The VMCB fields an entry may have to undo (Vcpu::run, docs/emulator-defects.md): the guest
// state VMRUN loads and #VMEXIT saves, and the event and interrupt controls. Per processor, not
// per VP: one entry at a time runs on a processor, and a child VP's objects must fit one page.
struct EntryBackup {
    VmcbSegment es, cs, ss, ds, gdtr, idtr;
    uint64_t efer, cr0, cr2, cr3, cr4, dr6, dr7, rflags, rip, rsp, rax;
    uint64_t int_ctl, int_state, event_inj;
    uint8_t cpl;
};
struct ProcessorState {
    EntryBackup entry_backup{};
    hv::PhysAddr host_vmsave_area;
    XState* xstate_owner = nullptr; // whose extended state the registers hold
    uint64_t xcr0 = 0;              // XCR0 as currently loaded
    uint32_t index = 0;
    bool enabled = false;
};
[[nodiscard]] ProcessorState& processor();   // the calling processor's; requires enable_processor

} // namespace svm
