// Pages for a partition kernel, from the handoff's `usable` regions (partitions/abi/root_handoff.hpp):
// the root gives them to its children as RAM (HvCallMapGpaPages) or to the hypervisor as deposits
// (HvCallDepositMemory). Only pages below 4 GiB are handed out: the handoff's initial tables map
// exactly that range one-to-one, so a page's guest-physical address is also a pointer to it.
// The first MiB stays out too (the runtime's AP trampoline and firmware data live there).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "partitions/abi/root_handoff.hpp"

namespace rt::pages {

inline constexpr uint64_t page_size = 4096;

// Takes every usable page of the handoff below 4 GiB and above 1 MiB. Call once, before any
// other processor allocates.
void init(const root_abi::RootHandoff& h);

// `count` physically contiguous pages, zeroed; 0 when no run that long is free.
[[nodiscard]] uint64_t alloc_run(uint64_t count);
[[nodiscard]] inline uint64_t alloc() { return alloc_run(1); }
// Gives back a run from alloc_run (or any part of one).
void free_run(uint64_t base, uint64_t count);
inline void free(uint64_t base) { free_run(base, 1); }

[[nodiscard]] uint64_t free_count();
[[nodiscard]] uint64_t total_count();

inline void* ptr(uint64_t gpa) { return reinterpret_cast<void*>(gpa); }

} // namespace rt::pages
