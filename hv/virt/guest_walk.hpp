// Translating a guest's linear address through the guest's own page tables (Intel SDM vol 3
// ch. 4), to fetch the instruction bytes an intercept message carries. All four x86 modes:
// paging off, 32-bit (4 KiB and 4 MiB pages), PAE and 4-level. Guest memory is read through a
// callback (guest-physical, 8 bytes): pure, unit-tested, and a malicious table can at worst
// make the walk fail — it never reads outside what the callback allows.
#pragma once
#include <stdint.h>

namespace hv::virt {

struct GuestPaging {
    uint64_t cr0, cr3, cr4, efer;
};

enum class WalkResult : uint8_t { ok, not_present, no_access, reserved_bit, unreadable_table };

// `read(ctx, gpa, bytes, out)` reads one aligned table entry of 4 or 8 bytes (zero-extended);
// false when the guest-physical address is not the guest's memory.
using ReadEntry = bool (*)(void* ctx, uint64_t gpa, unsigned bytes, uint64_t& out);

// Translates for a supervisor instruction fetch or data read (no U/S or NX enforcement beyond
// the present bits: the hypervisor reads what the processor already executed).
[[nodiscard]] WalkResult translate_linear(const GuestPaging& p, uint64_t linear, ReadEntry read, void* ctx,
                                          uint64_t& gpa);

} // namespace hv::virt
