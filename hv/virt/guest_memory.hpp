// Reaching a partition's memory from the hypervisor: every guest-physical address a partition
// hands us (hypercall input and output pages, the hypercall page, later SynIC pages and GPADLs)
// is translated through that partition's own nested map, so a partition can only ever name its
// own memory. Anything unmapped, or read-only where a write is needed, is refused.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {

// The host-physical address behind `gpa` in `p`'s nested map, with the access checked.
[[nodiscard]] bool gpa_to_hpa(const Partition& p, GuestPhysAddr gpa, bool write, PhysAddr& out);
// Copies page by page; false when any byte of the range is not accessible as asked (then nothing
// has been written for write_guest: every page is checked before the first byte moves).
[[nodiscard]] bool read_guest(const Partition& p, GuestPhysAddr gpa, void* dst, size_t n);
[[nodiscard]] bool write_guest(const Partition& p, GuestPhysAddr gpa, const void* src, size_t n);
// An atomic OR of `bits` into the aligned 64-bit word at `gpa` (SynIC event flags, which the
// guest clears concurrently); `old` receives the word before. False: not writable or unaligned.
[[nodiscard]] bool atomic_or_guest64(const Partition& p, GuestPhysAddr gpa, uint64_t bits, uint64_t& old);

} // namespace hv::virt
