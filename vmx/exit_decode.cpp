#include "vmx/exit_decode.hpp"

#include "vmx/vmcs.hpp"

namespace vmx {

using hv::virt::ExitKind;
using hv::virt::Intercept;

namespace {

constexpr uint8_t vector_pf = 14;

// Exits caused by executing an instruction: the VM-exit instruction-length field is valid
// (SDM vol 3 28.2.5), so the core can step over it without decoding.
bool instruction_exit(ExitReason r) {
    switch (r) {
    case ExitReason::cpuid: case ExitReason::getsec: case ExitReason::hlt: case ExitReason::invd:
    case ExitReason::invlpg: case ExitReason::rdpmc: case ExitReason::rdtsc: case ExitReason::rsm:
    case ExitReason::vmcall: case ExitReason::vmclear: case ExitReason::vmlaunch:
    case ExitReason::vmptrld: case ExitReason::vmptrst: case ExitReason::vmread:
    case ExitReason::vmresume: case ExitReason::vmwrite: case ExitReason::vmxoff:
    case ExitReason::vmxon: case ExitReason::cr_access: case ExitReason::dr_access:
    case ExitReason::io_instruction: case ExitReason::rdmsr: case ExitReason::wrmsr:
    case ExitReason::mwait: case ExitReason::monitor: case ExitReason::pause:
    case ExitReason::gdtr_idtr_access: case ExitReason::ldtr_tr_access: case ExitReason::invept:
    case ExitReason::rdtscp: case ExitReason::invvpid: case ExitReason::wbinvd:
    case ExitReason::xsetbv: case ExitReason::rdrand: case ExitReason::invpcid:
    case ExitReason::vmfunc: case ExitReason::encls: case ExitReason::rdseed:
    case ExitReason::xsaves: case ExitReason::xrstors:
        return true;
    default:
        return false;
    }
}

// Reason 0: the interruption-information field says which event (24.9.2).
void decode_event(const RawExit& e, Intercept& out) {
    auto type = static_cast<EventType>((e.intr_info >> 8) & 7);
    if (type == EventType::nmi) {
        out.kind = ExitKind::nmi;
        return;
    }
    out.kind = ExitKind::exception;
    out.exception.vector = static_cast<uint8_t>(e.intr_info);
    out.exception.has_error_code = (e.intr_info & intr_info_error_code) != 0;
    out.exception.error_code = out.exception.has_error_code ? e.intr_error : 0;
    // 28.2.1: for #PF the qualification holds the faulting linear address (CR2 is not loaded).
    out.exception.cr2 = out.exception.vector == vector_pf ? e.qualification : 0;
    // Software exceptions (INT3, INTO) carry a valid instruction length (28.2.5).
    if (type == EventType::software_exception || type == EventType::privileged_software_exception ||
        type == EventType::software_interrupt)
        out.instruction_length = static_cast<uint8_t>(e.instr_len);
}

// Table 28-5 (exit qualification for I/O instructions).
void decode_io(uint64_t q, Intercept& out) {
    out.kind = ExitKind::io;
    uint64_t enc = q & 7;                          // 0, 1, 3 -> 1, 2, 4 bytes; others unused
    out.io.size = enc == 0 ? 1 : enc == 1 ? 2 : 4;
    out.io.in = (q & (1u << 3)) != 0;
    out.io.string = (q & (1u << 4)) != 0;
    out.io.rep = (q & (1u << 5)) != 0;
    out.io.port = static_cast<uint16_t>(q >> 16);
}

// Table 28-3 (control-register accesses): CR 3:0, access type 5:4, GPR 11:8.
void decode_cr(uint64_t q, Intercept& out) {
    out.kind = ExitKind::cr_access;
    uint32_t type = (q >> 4) & 3;
    out.cr.cr = static_cast<uint8_t>(q & 15);
    out.cr.write = type != 1;                     // MOV to CR, CLTS and LMSW all write
    out.cr.gpr = type <= 1 ? static_cast<uint8_t>((q >> 8) & 15) : 0xff;   // CLTS/LMSW: no GPR
}

// Table 28-7 (EPT violations): access 2:0, the entry's permissions 5:3, linear address valid 7.
void decode_ept_violation(const RawExit& e, Intercept& out) {
    uint64_t q = e.qualification;
    out.kind = ExitKind::gpa_access;
    out.gpa.gpa = e.guest_phys;
    out.gpa.read = (q & 1) != 0;
    out.gpa.write = (q & 2) != 0;
    out.gpa.execute = (q & 4) != 0;
    out.gpa.present = (q & 0x38) != 0;
    out.gpa.gva_valid = (q & (1u << 7)) != 0;
    out.gpa.gva = out.gpa.gva_valid ? e.guest_linear : 0;
}

} // namespace

const char* entry_failure_detail(uint32_t reason, uint64_t qualification) {
    auto basic = static_cast<ExitReason>(reason & 0xffff);
    if (basic == ExitReason::entry_msr_loading)
        return "VM-entry MSR-load area entry refused";
    if (basic == ExitReason::entry_machine_check)
        return "machine-check event during VM entry";
    if (basic != ExitReason::entry_invalid_guest_state)
        return "VM-entry failure";
    switch (qualification) {   // 27.8 (VM-entry failures during or after loading guest state)
    case 2: return "invalid guest state: PDPTE loading failed";
    case 3: return "invalid guest state: NMI injection with blocking by NMI";
    case 4: return "invalid guest state: invalid VMCS link pointer";
    default: return "invalid guest state (SDM 26.3.1)";
    }
}

Intercept decode_exit(const RawExit& e) {
    Intercept out;
    out.raw_reason = e.reason;
    auto basic = static_cast<ExitReason>(e.reason & 0xffff);
    if (e.reason & exit_reason_entry_failure) {
        out.kind = ExitKind::invalid_state;
        out.entry.code = e.reason;
        out.entry.check = entry_failure_detail(e.reason, e.qualification);
        return out;
    }
    if (instruction_exit(basic))
        out.instruction_length = static_cast<uint8_t>(e.instr_len);
    switch (basic) {
    case ExitReason::exception_or_nmi: decode_event(e, out); break;
    case ExitReason::external_interrupt:
        out.kind = ExitKind::external_interrupt;
        // With acknowledge-on-exit the vector is in the interruption information (28.2.2);
        // without it the interrupt is still pending in the APIC and 0 says "unknown".
        out.vector = (e.intr_info & intr_info_valid) ? static_cast<uint8_t>(e.intr_info) : 0;
        break;
    case ExitReason::triple_fault: out.kind = ExitKind::triple_fault; break;
    case ExitReason::init_signal: out.kind = ExitKind::init_signal; break;
    case ExitReason::sipi:
        out.kind = ExitKind::sipi;
        out.vector = static_cast<uint8_t>(e.qualification);   // 28.2.1: the SIPI vector
        break;
    case ExitReason::interrupt_window: out.kind = ExitKind::interrupt_window; break;
    case ExitReason::nmi_window: out.kind = ExitKind::nmi_window; break;
    case ExitReason::cpuid: out.kind = ExitKind::cpuid; break;
    case ExitReason::hlt: out.kind = ExitKind::hlt; break;
    case ExitReason::invd: out.kind = ExitKind::invd; break;
    case ExitReason::vmcall:
        out.kind = ExitKind::hypercall;
        // CPL is SS.DPL (SDM vol 3 5.5); the 64-bit convention needs IA-32e mode and CS.L (bit 13).
        out.caller = {static_cast<uint8_t>((e.guest_ss_access_rights >> 5) & 3), (e.guest_cr0 & 1) != 0,
                      (e.guest_efer & (1u << 10)) && (e.guest_cs_access_rights & (1u << 13))};
        break;
    case ExitReason::vmclear: case ExitReason::vmlaunch: case ExitReason::vmptrld:
    case ExitReason::vmptrst: case ExitReason::vmread: case ExitReason::vmresume:
    case ExitReason::vmwrite: case ExitReason::vmxoff: case ExitReason::vmxon:
    case ExitReason::invept: case ExitReason::invvpid: case ExitReason::vmfunc:
        out.kind = ExitKind::virt_instruction;
        break;
    case ExitReason::cr_access: decode_cr(e.qualification, out); break;
    case ExitReason::io_instruction: decode_io(e.qualification, out); break;
    case ExitReason::rdmsr: out.kind = ExitKind::msr_read; break;
    case ExitReason::wrmsr: out.kind = ExitKind::msr_write; break;
    case ExitReason::pause: out.kind = ExitKind::pause; break;
    case ExitReason::ept_violation: decode_ept_violation(e, out); break;
    case ExitReason::preemption_timer: out.kind = ExitKind::preemption_timer; break;
    case ExitReason::xsetbv: out.kind = ExitKind::xsetbv; break;
    default:
        // Includes EPT misconfiguration (our tables are wrong, not the guest) and every exit
        // this backend never enables; the core logs raw_reason.
        out.kind = ExitKind::unknown;
        break;
    }
    return out;
}

Intercept vmfail_intercept(bool valid, uint32_t vm_instruction_error) {
    Intercept out;
    out.kind = ExitKind::invalid_state;
    out.raw_reason = valid ? raw_vmfail_valid | vm_instruction_error : raw_vmfail_invalid;
    out.entry.code = valid ? vm_instruction_error : 0;
    out.entry.check = vm_instruction_error_name(valid ? vm_instruction_error : 0);
    return out;
}

} // namespace vmx
