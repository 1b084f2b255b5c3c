// Interrupt and exception dispatch, and recoverable faults for probing.
// Vector plan: 0-31 architectural exceptions (SDM vol 3 table 6-1); 0xef local APIC timer;
// 0xf0 cross-processor call; 0xff spurious (its low nibble must be all ones on P6-era
// APICs, SDM vol 3 11.9).
#pragma once
#include "hv/panic.hpp"

#include <stdint.h>

namespace hv::arch {

inline constexpr uint8_t vector_timer = 0xef;
inline constexpr uint8_t vector_call = 0xf0;
inline constexpr uint8_t vector_spurious = 0xff;

// Runs with interrupts disabled, on the interrupted stack (or the IST stack). May change `r`
// (rip, registers) to resume elsewhere. Handlers for vectors >= 32 send their own EOI.
using InterruptHandler = void (*)(RegisterDump& r);
void set_interrupt_handler(uint8_t vector, InterruptHandler h);

[[nodiscard]] const char* exception_name(uint64_t vector);

// A recoverable fault: an instruction listed in the hv_fixup table that faults resumes at its
// listed resume address with RFLAGS.CF set (the code before it clears CF), so the probe reads
// the outcome with one setc. The vector is kept per processor for tests.
struct FixupEntry {
    uint64_t fault_rip;
    uint64_t resume_rip;
};

#define HV_FIXUP_ENTRY(fault_label, resume_label)                                                            \
    ".pushsection hv_fixup, \"a\"\n.balign 8\n.quad " fault_label ", " resume_label "\n.popsection\n"

// rdmsr/wrmsr that return false (instead of panicking) on #GP, e.g. for an MSR this processor
// model lacks (SDM vol 4 2.1: accessing an unimplemented MSR raises #GP(0)).
[[nodiscard]] bool rdmsr_safe(uint32_t msr, uint64_t& out);
[[nodiscard]] bool wrmsr_safe(uint32_t msr, uint64_t value);
[[nodiscard]] uint64_t last_fixup_vector();

} // namespace hv::arch

extern "C" void hv_interrupt_dispatch(hv::RegisterDump* r);
