#include "svm/decode.hpp"

#include "svm/checks.hpp"

namespace svm {
namespace {

using hv::virt::ExitKind;
using hv::virt::Intercept;

// nRIP is defined only for intercepted instructions (APM 15.7.1); for anything else (faults,
// interrupts, NPF) it may be stale, so the length is reported as unknown.
bool instruction_exit(uint64_t code) {
    return code < exit::excp || (code >= exit::cr0_sel_write && code <= exit::ioio) ||
           code == exit::msr || (code >= exit::vmrun && code <= exit::rdpru);
}

uint8_t length_from(uint64_t from, uint64_t to) {
    uint64_t d = to - from;   // unsigned: a wrap or a stale value lands outside 1..15
    return d >= 1 && d <= 15 ? static_cast<uint8_t>(d) : 0;
}

void decode_io(const Vmcb& v, Intercept& r) {
    uint64_t i1 = v.control.exit_info1;
    r.kind = ExitKind::io;
    r.io.port = static_cast<uint16_t>(i1 >> ioio::port_shift);
    r.io.size = (i1 & ioio::size32) ? 4 : (i1 & ioio::size16) ? 2 : 1;
    r.io.in = (i1 & ioio::in) != 0;
    r.io.string = (i1 & ioio::string) != 0;
    r.io.rep = (i1 & ioio::rep) != 0;
    // APM 15.10.2: EXITINFO2 holds the next RIP even without NRIP-save.
    r.instruction_length = length_from(v.save.rip, v.control.exit_info2);
}

void decode_npf(const Vmcb& v, Intercept& r) {
    uint64_t i1 = v.control.exit_info1;
    r.kind = ExitKind::gpa_access;
    r.gpa = {};
    r.gpa.gpa = v.control.exit_info2;
    r.gpa.present = (i1 & npf::present) != 0;
    r.gpa.write = (i1 & npf::write) != 0;
    r.gpa.execute = (i1 & npf::fetch) != 0;
    r.gpa.read = !r.gpa.write && !r.gpa.execute;
    r.gpa.gva_valid = false;   // AMD-V does not report the linear address of a nested fault
}

void decode_exception(const Vmcb& v, uint8_t vector, Intercept& r) {
    r.kind = ExitKind::exception;
    r.exception = {};
    r.exception.vector = vector;
    r.exception.has_error_code = exception_has_error_code(vector);
    r.exception.error_code = r.exception.has_error_code ? static_cast<uint32_t>(v.control.exit_info1) : 0;
    r.exception.cr2 = vector == 14 ? v.control.exit_info2 : 0;   // APM 15.12: #PF address
}

void decode_cr(const Vmcb& v, const Features& f, uint8_t cr, bool write, Intercept& r) {
    r.kind = ExitKind::cr_access;
    r.cr.cr = cr;
    r.cr.write = write;
    // Decode assists (APM 15.33.1): bit 63 says a MOV CRx, bits 3:0 name the GPR.
    uint64_t i1 = v.control.exit_info1;
    r.cr.gpr = f.decode_assists && (i1 >> 63) ? static_cast<uint8_t>(i1 & 0xf) : 0xff;
}

ExitKind simple_kind(uint64_t code) {
    switch (code) {
    case exit::intr: return ExitKind::external_interrupt;
    case exit::nmi: return ExitKind::nmi;
    case exit::init: return ExitKind::init_signal;
    case exit::vintr: return ExitKind::interrupt_window;
    case exit::cpuid: return ExitKind::cpuid;
    case exit::invd: return ExitKind::invd;
    case exit::pause: return ExitKind::pause;
    case exit::hlt: return ExitKind::hlt;
    case exit::shutdown: return ExitKind::triple_fault;
    case exit::vmmcall: return ExitKind::hypercall;
    case exit::xsetbv: return ExitKind::xsetbv;
    case exit::invlpga:
    case exit::vmrun:
    case exit::vmload:
    case exit::vmsave:
    case exit::stgi:
    case exit::clgi:
    case exit::skinit: return ExitKind::virt_instruction;
    default: return ExitKind::unknown;
    }
}

} // namespace

bool exception_has_error_code(uint8_t v) {
    switch (v) {
    case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21: case 29: case 30:
        return true;
    default:
        return false;
    }
}

Intercept decode_exit(const Vmcb& v, const Features& f) {
    Intercept r;
    uint64_t code = v.control.exit_code;
    r.raw_reason = code;
    auto low = static_cast<uint32_t>(code);
    if (low == exit::invalid || low == exit::busy) {
        r.kind = ExitKind::invalid_state;
        r.entry.code = low;
        const char* why = low == exit::busy ? "VMEXIT_BUSY: the VMSA is in use (SEV-ES)" : check_vmcb(v, f);
        r.entry.check = why ? why : "VMRUN consistency checks (APM 15.5.1): no failing check identified";
        return r;
    }
    if (f.nrip_save && instruction_exit(code))
        r.instruction_length = length_from(v.save.rip, v.control.next_rip);

    if (code < exit::dr_read) {
        decode_cr(v, f, static_cast<uint8_t>(code & 0xf), code >= exit::cr_write, r);
    } else if (code >= exit::excp && code < exit::intr) {
        decode_exception(v, static_cast<uint8_t>(code - exit::excp), r);
    } else if (code == exit::cr0_sel_write) {
        decode_cr(v, f, 0, true, r);
    } else if (code == exit::ioio) {
        decode_io(v, r);
    } else if (code == exit::npf) {
        decode_npf(v, r);
    } else if (code == exit::msr) {
        r.kind = (v.control.exit_info1 & 1) ? ExitKind::msr_write : ExitKind::msr_read;
    } else {
        r.kind = simple_kind(code);
        if (r.kind == ExitKind::hypercall)   // the VMCB holds the CPL outright (APM 15.5.1)
            r.caller = {v.save.cpl, (v.save.cr0 & 1) != 0,
                        (v.save.efer & (1u << 10)) && (v.save.cs.attrib & (1u << 9))};
        // AMD-V does not report an interrupt's vector (it stays pending in the LAPIC); vectors
        // 0-31 are never external interrupts, so 0 reads as "unknown".
        if (r.kind == ExitKind::external_interrupt)
            r.vector = 0;
    }
    return r;
}

} // namespace svm
