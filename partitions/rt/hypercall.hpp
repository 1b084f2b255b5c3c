// The partition side of the TLFS hypercall interface (TLFS 3.x): establishing it (3.13: a guest
// OS ID, then the hypercall page, where the hypervisor writes its call sequence), and calls
// through that page as Linux makes them: RCX = control word, RDX = input, R8 = output, RAX =
// result. Memory-based calls take their input and output from two pages per processor that this
// runtime owns (TLFS 3.5: the input and output GPAs are 8-byte aligned and must not cross a
// page); fast calls pass two registers each way; rep calls are re-issued with the start index
// advanced until every element is done or one fails (TLFS 3.9).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hypercalls/abi/tlfs.hpp"
#include "partitions/abi/root_handoff.hpp"

namespace rt::hc {

using tlfs::Status;

// Sets the guest OS ID and enables the hypercall page (a page of the kernel's own, from
// rt::pages), and gives every processor its input and output pages. Call on the bootstrap
// processor after rt::pages::init and before any call; false when the interface refused.
[[nodiscard]] bool init(const root_abi::RootHandoff& h);
// Each processor, before its first call (the bootstrap one included): `index` 0..processors-1
// selects its pages (kept in the GS base, so a call costs no lookup).
void init_cpu(uint32_t index);

// This processor's pages. The input page is the caller's to fill before call()/rep().
struct CpuPages {
    CpuPages* self;   // at GS:0
    uint64_t in_gpa, out_gpa;
    uint32_t index;
};
CpuPages& cpu();
template <class T> T& input() { return *reinterpret_cast<T*>(cpu().in_gpa); }
template <class T> T& output() { return *reinterpret_cast<T*>(cpu().out_gpa); }
inline uint8_t* input_bytes() { return reinterpret_cast<uint8_t*>(cpu().in_gpa); }
inline uint8_t* output_bytes() { return reinterpret_cast<uint8_t*>(cpu().out_gpa); }

// The raw call: returns RAX (TLFS 3.8 result value).
uint64_t raw(uint64_t control, uint64_t in_gpa, uint64_t out_gpa);

// A simple memory-based call on this processor's pages.
[[nodiscard]] Status call(uint16_t code, uint16_t var_qwords = 0);
// A fast call (TLFS 3.6): two 8-byte inputs in RDX and R8, no output.
[[nodiscard]] Status fast(uint16_t code, uint64_t in0, uint64_t in1 = 0);
// A rep call over `count` elements laid out by the caller in the input page; `done` (optional)
// receives how many completed, which is `count` on success and the failing element otherwise.
[[nodiscard]] Status rep(uint16_t code, uint16_t count, uint16_t* done = nullptr, uint16_t var_qwords = 0);

inline bool ok(Status s) { return s == Status::success; }
inline unsigned code(Status s) { return static_cast<unsigned>(s); }

} // namespace rt::hc
