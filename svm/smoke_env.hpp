// The little world svm/smoke.cpp runs its guests in: static pages, an NPT that maps only the
// guest-physical pages below, and guest page tables identity-mapping the first 4 MiB of GPA
// (so that 0x200000 is a guest-virtual address the nested tables lack: the NPF test).
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/virt/vcpu.hpp"

namespace svm::smoke {

inline constexpr uint64_t gpa_guest_pml4 = 0x1000;
inline constexpr uint64_t gpa_real_code = 0x9000;    // SIPI vector 9
inline constexpr uint64_t gpa_code = 0x10000;
inline constexpr uint64_t gpa_stack_top = 0x12000;   // stack page 0x11000
inline constexpr uint64_t gpa_data = 0x12000;        // IDT at +0, GDT at +0x800
inline constexpr uint64_t gpa_unmapped = 0x200000;

struct Env {
    hv::virt::PartitionHw hw;
    uint8_t* code;        // hypervisor pointers to the pages behind gpa_code, ...
    uint8_t* real_code;
    uint8_t* data;
    uint8_t* msrpm;
    uint8_t* iopm;
};

// Builds everything once; false (after a KTAP diagnostic) when the NPT cannot be built.
[[nodiscard]] bool build_env(Env& e);

// A page and its physical address from the suite's static pool.
struct Page {
    void* ptr;
    hv::PhysAddr pa;
};
[[nodiscard]] Page take_page();

} // namespace svm::smoke
