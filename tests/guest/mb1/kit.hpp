// What the 32-bit test kernels (tests/guest/mb1, tests/guest/isolation) build on beyond hw.hpp:
// KTAP lines on COM1, exception probes that recover instead of ending the run, the local APIC
// timer, the other processors started through INIT-SIPI-SIPI, CPUID/MSR wrappers, its command
// line. 32-bit protected mode, paging off: every address is a guest-physical one.
#pragma once
#include "tests/guest/mb1/hw.hpp"

namespace mb1::kit {

inline constexpr uint32_t max_cpus = 16;
inline constexpr uint32_t page = 4096;
inline constexpr int no_fault = -1;

// The kernel's name, which an unexpected exception's report starts with.
void set_name(const char* name);
// Timer ticks so far.
uint32_t tick_count();

// KTAP version 1 (tests/guest/ktap.hpp's format, printed with mb1's polled COM1).
void ktap_begin(uint32_t planned);
bool ktap_check(bool pass, const char* name);
void ktap_skip(const char* name, const char* reason);
// Writes `# text value` as one line (value in hex); the root prefixes it with the child's name.
void diag(const char* text, uint32_t value);
// 0 when every planned check ran and none failed.
uint32_t ktap_finish();

// Runs fn(arg) on the bootstrap processor; returns the vector of the exception it raised (the
// run resumes after the call), or no_fault. Other processors must not fault.
int try_run(void (*fn)(void*), void* arg);

// IDT with mb1's exception stubs and the timer vector; the periodic timer (10 ms).
void init_cpu_tables();
void load_idt();
void start_timer();
void stop_timer();
void wait_ticks(uint32_t n);

// Starts every processor the MADT lists other than this one; each runs `ap` with its number
// (1..). Returns how many processors run `ap` or the caller's code (the caller counts as one).
uint32_t start_aps(void (*ap)(uint32_t number));
uint32_t cpu_count();   // as the MADT lists them (at least 1)

struct Cpuid {
    uint32_t eax, ebx, ecx, edx;
};
Cpuid cpuid(uint32_t leaf, uint32_t subleaf = 0);
inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return uint64_t{hi} << 32 | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
    asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)) : "memory");
}

// The command line: `key=value` words. value(cmdline, "probe=") points after the key (up to the
// next space) or is null.
const char* value(const char* cmdline, const char* key);
bool word_is(const char* p, const char* word);   // p starts with word, then a space or the end
uint32_t parse_number(const char* p);             // decimal, or hex after 0x

} // namespace mb1::kit
