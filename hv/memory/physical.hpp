// Physical memory and the heap for the running hypervisor: glue that feeds helper-1's pure
// MemoryMap / FrameAllocator / Heap from the boot description and puts locks around them.
#pragma once
#include "boot/boot_info.hpp"
#include "hv/lib/addr.hpp"

#include <stddef.h>
#include <stdint.h>

namespace hv::mem {

struct Summary {
    uint64_t usable_bytes = 0;    // RAM the loader's map offers, before our own reservations
    uint64_t managed_frames = 0;  // what the frame allocator hands out
    uint64_t highest_ram_end = 0; // end of the highest RAM range of any type (direct map extent)
};

// Normalizes the loader's map, removes the image, modules, loader info and the first 1 MiB,
// and builds the frame allocator. Logs one line naming the problem and returns false on error.
[[nodiscard]] bool init_frames(const boot::BootInfo& info, uint32_t min_memory_mib, Summary& out);
// Starts the heap; needs the final direct map (its frames may lie anywhere in RAM).
[[nodiscard]] bool init_heap();

[[nodiscard]] bool alloc_frame(PhysAddr& out); // one 4 KiB frame, zeroed
[[nodiscard]] bool alloc_frames(uint64_t count, uint64_t align, PhysAddr& out);
[[nodiscard]] bool free_frame(PhysAddr frame);
[[nodiscard]] bool free_contiguous(PhysAddr base, uint64_t frames);
[[nodiscard]] uint64_t free_frames();

// Hands every free frame but the highest `keep_frames` to a partition: claims them so the
// hypervisor never allocates them again, and reports each run of consecutive frames to `fn`.
// Stops early (keeping the rest) once `max_runs` runs were reported. Returns frames given.
using RunFn = void (*)(void* ctx, PhysAddr base, uint64_t frames);
uint64_t donate_free_frames(uint64_t keep_frames, uint32_t max_runs, RunFn fn, void* ctx);

[[nodiscard]] void* alloc(size_t bytes);
[[nodiscard]] void* alloc_aligned(size_t bytes, size_t align);
void free(void* p); // panics on a pointer the heap refuses
[[nodiscard]] bool heap_check();

} // namespace hv::mem
