// External interrupts for guest suites that take them (apic, stimer): gates in the runtime's IDT
// whose vectors 32-255 count every delivery per VP, remember the interrupted RIP and the reference
// time, run an optional hook, and send the x2APIC EOI. The runtime's exception gates (0-31) stay,
// so its probes keep working; a suite may put a counting gate on vector 15, which no exception
// uses (SDM vol 3 table 6-1), to observe an illegal vector delivered as an interrupt.
#pragma once
#include <stdint.h>

#include "partitions/abi/root_handoff.hpp"

namespace vectors {

inline constexpr uint32_t max_vps = 8;

// What a hook sees: the VP (handoff index), the vector, and the interrupted context.
struct Event {
    uint32_t vp;
    uint8_t vector;
    uint64_t* frame;   // 15 GPRs (rax first), the vector, then RIP, CS, RFLAGS, RSP, SS
    uint64_t rip() const { return frame[16]; }
    uint64_t rflags() const { return frame[18]; }
};
using Hook = void (*)(Event&);

// Installs the counting gates in the runtime's IDT, which every processor has loaded (on the
// bootstrap VP, before any AP starts).
void init(const root_abi::RootHandoff& h);
// The calling VP's index in the handoff's APIC id list.
uint32_t this_vp();

void set_hook(uint8_t vector, Hook hook);
// Whether the kit sends the EOI after the hook (default true); a hook may send it itself.
void set_eoi(uint8_t vector, bool eoi);
// Installs the counting gate on vector 15 (true) or gives it back to the runtime (false).
void claim_vector15(bool claim);

uint32_t count(uint32_t vp, uint8_t vector);
uint64_t last_rip(uint32_t vp, uint8_t vector);
uint64_t last_ref(uint32_t vp, uint8_t vector);   // reference time (100 ns) at entry
void reset(uint8_t vector);                      // zeroes the vector's counts on every VP
void reset(uint8_t vector, uint32_t vp);         // ... on one VP

// Spins with interrupts enabled until count(vp, vector) reaches `want` or `ms` milliseconds of
// reference time pass; returns whether it got there.
bool wait_count(uint32_t vp, uint8_t vector, uint32_t want, uint64_t ms);

inline uint64_t ref_now() {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x40000020u));
    return (uint64_t{hi} << 32) | lo;
}
// Spins `ms` milliseconds of reference time with interrupts as they are.
void spin_ms(uint64_t ms);

inline void sti() { asm volatile("sti" ::: "memory"); }
inline void cli() { asm volatile("cli" ::: "memory"); }

} // namespace vectors
