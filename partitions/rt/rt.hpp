// A small freestanding runtime for partition kernels: the root kernel and the guest test suites.
// It knows the partition side of the hypervisor's ABI only (partitions/abi, hypercalls/abi):
// the handoff, COM1, the local APIC in x2APIC mode, INIT-SIPI-SIPI, exception probes.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "partitions/abi/root_handoff.hpp"

namespace rt {

// Loads the runtime's GDT and IDT on the calling processor.
void init_processor();
// The runtime's IDT is every processor's: vectors 0-31 report exceptions (and serve the probes);
// a kernel or suite installs its interrupt handlers here (an interrupt gate, no IST). A null
// `isr` gives a vector back: 0-31 to the runtime's exception handler, others to no gate (#NP).
void set_interrupt_gate(uint8_t vector, void (*isr)());

// Implemented by each kernel: runs on the bootstrap VP after the runtime is up.
int partition_main(const root_abi::RootHandoff& handoff);
// Implemented by each kernel: runs on each application processor once it is in long mode.
void ap_main(uint32_t index);

[[gnu::format(printf, 1, 2)]] void log(const char* fmt, ...);
// Ends the run: the hypervisor turns a write to port 0xf4 into a stop with this code when it runs
// under an emulator (docs/root-partition.md); elsewhere the kernel halts.
[[noreturn]] void exit(int code);

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t{hi} << 32) | lo;
}
void delay_us(uint64_t us);
uint64_t tsc_khz();

// Cpuid and MSR access as plain instructions, and probes that report an exception instead of
// taking it: `vector` is the exception the instruction raised, or -1 when none did.
struct Cpuid {
    uint32_t eax, ebx, ecx, edx;
};
Cpuid cpuid(uint32_t leaf, uint32_t subleaf = 0);
uint64_t rdmsr(uint32_t msr);
void wrmsr(uint32_t msr, uint64_t value);
struct Probe {
    int vector;
    uint64_t value;
};
Probe probe_rdmsr(uint32_t msr);
Probe probe_wrmsr(uint32_t msr, uint64_t value);
Probe probe_read64(uint64_t virt);
Probe probe_write64(uint64_t virt, uint64_t value);
Probe probe_ud2();
Probe probe_int3();
Probe probe_div0();
Probe probe_xsetbv(uint32_t xcr, uint64_t value);
void outb(uint16_t port, uint8_t v);
uint8_t inb(uint16_t port);
Probe probe_inb(uint16_t port);

// The local APIC, always in x2APIC mode (the hypervisor gives every root VP one).
uint32_t apic_id();
void apic_send_icr(uint32_t dest, uint32_t low);

// Starts every application processor the handoff lists with INIT-SIPI-SIPI; returns how many
// reported in within the timeout.
uint32_t start_aps(const root_abi::RootHandoff& h);
uint32_t processors_online();
// Called by an application processor once it runs (ap_main's caller does it).
void report_ap_online();

} // namespace rt
