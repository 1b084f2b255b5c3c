#include "hv/arch/interrupts.hpp"

#include "hv/arch/apic.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/percpu.hpp"
#include "hv/smp.hpp"

// Bounds of the hv_fixup section, provided by the linker for sections named like C identifiers.
extern "C" const hv::arch::FixupEntry __start_hv_fixup[];
extern "C" const hv::arch::FixupEntry __stop_hv_fixup[];

namespace hv::arch {
namespace {

InterruptHandler handlers[256];

const char* const names[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD error",
    "#VE virtualization exception",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security exception",
    "reserved 31",
};

bool try_fixup(RegisterDump& r) {
    for (const FixupEntry* e = __start_hv_fixup; e != __stop_hv_fixup; e++) {
        if (e->fault_rip == r.rip) {
            r.rip = e->resume_rip;
            r.rflags |= 1; // CF: "the probed instruction faulted"
            this_cpu().last_fixup_vector = r.vector;
            return true;
        }
    }
    return false;
}

void handle_nmi(RegisterDump& r) {
    // Another processor is panicking (hv/smp_stop.cpp): stop here for good. NMIs stay blocked
    // because this handler never executes IRET (SDM vol 3 6.7.1).
    if (smp::stopping())
        smp::stopped_halt();
    console::log("hv: cpu %u: unexpected NMI at rip=%lx (ignored)\n", this_cpu().index, r.rip);
}

[[noreturn]] void fatal_exception(RegisterDump& r) {
    const char* name = exception_name(r.vector);
    if (r.vector == 14)
        panic_with_registers(r, "%s at rip=%lx cr2=%lx error=%lx (cpu %u)", name, r.rip, x86::read_cr2(),
                             r.error_code, this_cpu().index);
    panic_with_registers(r, "%s at rip=%lx error=%lx (cpu %u)", name, r.rip, r.error_code, this_cpu().index);
}

} // namespace

const char* exception_name(uint64_t vector) {
    return vector < 32 ? names[vector] : "interrupt";
}

void set_interrupt_handler(uint8_t vector, InterruptHandler h) {
    __atomic_store_n(&handlers[vector], h, __ATOMIC_RELEASE);
}

uint64_t last_fixup_vector() {
    return this_cpu().last_fixup_vector;
}

bool rdmsr_safe(uint32_t msr, uint64_t& out) {
    uint32_t lo = 0, hi = 0;
    bool faulted;
    asm volatile("clc\n1: rdmsr\n2:\n" HV_FIXUP_ENTRY("1b", "2b") "setc %2"
                 : "+a"(lo), "+d"(hi), "=qm"(faulted)
                 : "c"(msr)
                 : "cc");
    out = (static_cast<uint64_t>(hi) << 32) | lo;
    return !faulted;
}

bool wrmsr_safe(uint32_t msr, uint64_t value) {
    bool faulted;
    asm volatile("clc\n1: wrmsr\n2:\n" HV_FIXUP_ENTRY("1b", "2b") "setc %0"
                 : "=qm"(faulted)
                 : "c"(msr), "a"(static_cast<uint32_t>(value)), "d"(static_cast<uint32_t>(value >> 32))
                 : "cc", "memory");
    return !faulted;
}

} // namespace hv::arch

extern "C" void hv_interrupt_dispatch(hv::RegisterDump* regs) {
    using namespace hv::arch;
    hv::RegisterDump& r = *regs;
    auto vector = static_cast<uint8_t>(r.vector);
    if (vector == 2) {
        handle_nmi(r);
        return;
    }
    if (vector < 32 && try_fixup(r))
        return;
    if (InterruptHandler h = __atomic_load_n(&handlers[vector], __ATOMIC_ACQUIRE)) {
        h(r);
        return;
    }
    if (vector < 32)
        fatal_exception(r);
    if (vector == vector_spurious)
        return; // no EOI for a spurious interrupt (SDM vol 3 11.9)
    hv::console::log("hv: cpu %u: unexpected interrupt vector %u\n", hv::this_cpu().index, vector);
    hv::apic::eoi();
}
