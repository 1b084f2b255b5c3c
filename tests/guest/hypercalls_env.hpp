// What the hypercall suite's parts share (tests/guest/hypercalls*.cpp): memory for input and
// output lists, the hypercall page, calls through it and by the raw instruction.
#pragma once
#include <stdint.h>

#include "hypercalls/abi/tlfs.hpp"
#include "tests/guest/suite.hpp"

extern "C" {
uint64_t hc_raw_vmcall(uint64_t control, uint64_t in, uint64_t out, int* vector);
uint64_t hc_raw_vmmcall(uint64_t control, uint64_t in, uint64_t out, int* vector);
}

namespace hc {

using tlfs::Status;

struct Env {
    const root_abi::RootHandoff* h;
    bool amd;                 // VMMCALL rather than VMCALL
    uint64_t pages;           // scratch pages, identity-mapped below 4 GiB: page(i)
    uint32_t page_count;
    uint64_t low_page;        // below 1 MiB, for the real-mode and ring-3 trips
    uint64_t hv_gpa;          // inside a hypervisor region (unmapped for the root), or 0
    uint64_t width_end;       // 1 << MAXPHYADDR
    uint64_t call_page;       // the enabled hypercall page, 0 while none
    [[nodiscard]] uint64_t page(uint32_t i) const { return pages + 4096ull * i; }
};
Env& env();

// Scratch page roles.
enum : uint32_t { pg_call_a, pg_call_b, pg_in, pg_out, pg_flush_pdpt, pg_flush_pd, pg_flush_pt, pg_flush_a,
                  pg_flush_b, pg_count };

struct Ret {
    uint64_t rax, rcx;
    [[nodiscard]] Status status() const { return static_cast<Status>(tlfs::result::status(rax)); }
    [[nodiscard]] uint16_t reps() const { return tlfs::result::reps(rax); }
};

// Through the hypercall page, as Linux calls it: RCX control, RDX input, R8 output.
// (The page address is fetched first: a function call between setting a register variable and
// the asm would clobber R8.)
inline Ret call(uint64_t control, uint64_t in = 0, uint64_t out = 0) {
    uint64_t rax, page = env().call_page;
    register uint64_t r8 asm("r8") = out;
    asm volatile("call *%[page]"
                 : "=a"(rax), "+c"(control), "+d"(in), "+r"(r8)
                 : [page] "r"(page)
                 : "memory", "cc");
    return {rax, control};
}

// The vendor's instruction itself; vector is 6 when it raised #UD.
inline uint64_t raw(uint64_t control, uint64_t in, uint64_t out, int& vector) {
    return env().amd ? hc_raw_vmmcall(control, in, out, &vector) : hc_raw_vmcall(control, in, out, &vector);
}

inline void* at(uint64_t gpa) { return reinterpret_cast<void*>(gpa); }
inline void zero_page(uint64_t gpa) { __builtin_memset(at(gpa), 0, 4096); }

constexpr uint64_t guest_os_id_value = 0x8100000000010000ull;   // an open-source OS, version 1

bool status_is(suite::Reporter& r, const Ret& got, Status want, const char* name);

void run_page_checks(suite::Reporter& r);     // hypercalls_page.cpp
void run_abi_checks(suite::Reporter& r);      // hypercalls_abi.cpp
void run_call_checks(suite::Reporter& r);     // hypercalls_calls.cpp
void run_vp_checks(suite::Reporter& r);       // hypercalls_vp.cpp
void run_mode_checks(suite::Reporter& r);     // hypercalls_mode.cpp

} // namespace hc
