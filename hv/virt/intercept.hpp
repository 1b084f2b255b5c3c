// The neutral form of a guest exit. vmx/ and svm/ only decode their hardware's exit into this;
// hv/virt/exit_loop.hpp gives it meaning (the Jailhouse split: vendor layer decodes, shared
// layer decides). Nothing here names a vendor.
#pragma once
#include <stdint.h>

namespace hv::virt {

enum class ExitKind : uint8_t {
    none,
    cpuid,
    msr_read,             // ECX = index; the handler sets RDX:RAX
    msr_write,            // ECX = index, RDX:RAX = value
    io,                   // see Intercept::io
    hypercall,            // VMCALL / VMMCALL
    hlt,
    gpa_access,           // EPT violation / nested page fault: see Intercept::gpa
    exception,            // an intercepted guest exception
    external_interrupt,   // a physical interrupt arrived while the guest ran (vector when known)
    nmi,                  // a physical NMI arrived while the guest ran
    interrupt_window,     // the guest can take an external interrupt now
    nmi_window,
    init_signal,          // INIT arrived for this processor (VT-x: exit; AMD-V: intercepted INIT)
    sipi,                 // VT-x wait-for-SIPI state got a SIPI
    triple_fault,         // shutdown
    cr_access,
    xsetbv,
    virt_instruction,     // VMX/SVM instructions: the guest gets #UD
    invd,
    pause,
    preemption_timer,     // VT-x preemption timer backstop
    invalid_state,        // VM entry failed: see Intercept::entry
    unknown,
};

const char* exit_kind_name(ExitKind k);

struct IoAccess {
    uint16_t port;
    uint8_t size;         // 1, 2 or 4
    bool in;
    bool string;          // INS/OUTS: the core emulates or reflects
    bool rep;
};

struct GpaAccess {
    uint64_t gpa;
    bool read, write, execute;
    bool present;         // the map had an entry (a permission fault) rather than none
    bool gva_valid;
    uint64_t gva;
};

struct ExceptionInfo {
    uint8_t vector;
    bool has_error_code;
    uint32_t error_code;
    uint64_t cr2;         // #PF: the faulting linear address
};

struct CrAccess {
    uint8_t cr;
    bool write;
    uint8_t gpr;          // register number in the Reg order below, 0xff when unknown
};

struct EntryFailure {
    uint32_t code;        // VT-x: exit reason / VM-instruction error; AMD-V: 0xffffffff...
    const char* check;    // which consistency check failed, in words
};

// Who executed a hypercall instruction, as the processor had it at the exit: the hypercall
// entry's privilege and register-convention checks need nothing else (TLFS 3.4, 3.7), and the
// backend has these values at hand, where the entry would pay a register access for each.
struct CallerMode {
    uint8_t cpl;
    bool protected_mode;   // CR0.PE
    bool long64;           // EFER.LMA and CS.L: the 64-bit register convention
};

struct Intercept {
    ExitKind kind = ExitKind::none;
    uint64_t raw_reason = 0;          // the vendor's exit code, for logs and statistics
    uint8_t instruction_length = 0;   // 0: unknown (AMD-V without NRIP-save): decode it
    CallerMode caller{};              // filled on hypercall exits
    union {
        IoAccess io;
        GpaAccess gpa;
        ExceptionInfo exception;
        CrAccess cr;
        EntryFailure entry;
        uint8_t vector;               // external_interrupt, sipi
    };
    Intercept() : io{} {}
};

// Events the core asks a backend to deliver at the next entry (Intel SDM vol 3 26.6,
// AMD APM vol 2 15.20). The core decides when delivery is allowed; the backend only encodes.
struct Event {
    enum class Type : uint8_t { external_interrupt, nmi, exception, software_interrupt };
    Type type;
    uint8_t vector;
    bool has_error_code;
    uint32_t error_code;
    uint8_t instruction_length;   // software interrupts
};

} // namespace hv::virt
