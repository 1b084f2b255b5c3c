#include "hv/virt/intercept.hpp"

namespace hv::virt {

const char* exit_kind_name(ExitKind k) {
    switch (k) {
    case ExitKind::none: return "none";
    case ExitKind::cpuid: return "cpuid";
    case ExitKind::msr_read: return "msr-read";
    case ExitKind::msr_write: return "msr-write";
    case ExitKind::io: return "io";
    case ExitKind::hypercall: return "hypercall";
    case ExitKind::hlt: return "hlt";
    case ExitKind::gpa_access: return "gpa-access";
    case ExitKind::exception: return "exception";
    case ExitKind::external_interrupt: return "external-interrupt";
    case ExitKind::nmi: return "nmi";
    case ExitKind::interrupt_window: return "interrupt-window";
    case ExitKind::nmi_window: return "nmi-window";
    case ExitKind::init_signal: return "init";
    case ExitKind::sipi: return "sipi";
    case ExitKind::triple_fault: return "triple-fault";
    case ExitKind::cr_access: return "cr-access";
    case ExitKind::xsetbv: return "xsetbv";
    case ExitKind::virt_instruction: return "virt-instruction";
    case ExitKind::invd: return "invd";
    case ExitKind::pause: return "pause";
    case ExitKind::preemption_timer: return "preemption-timer";
    case ExitKind::invalid_state: return "invalid-state";
    case ExitKind::unknown: return "unknown";
    }
    return "?";
}

} // namespace hv::virt
