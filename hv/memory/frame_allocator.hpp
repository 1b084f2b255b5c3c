// Physical 4 KiB frame allocator over a normalized MemoryMap: one bit per frame between the
// lowest and highest usable address (set = free), plus a copy of the usable ranges so that a
// free() of a frame the map never offered is told apart from a double free.
// Bookkeeping memory comes from the caller, who alone knows how to turn a physical address into
// a pointer: reserve find_bookkeeping() in the map, build the allocator, then hand it the buffer.
// Not thread safe: the caller's lock wraps it.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/memory/memory_map.hpp"

namespace hv {

class FrameAllocator {
public:
    // Bytes of bookkeeping init() needs for `map` (a multiple of 8, 0 for an empty map).
    [[nodiscard]] static uint64_t bookkeeping_bytes(const MemoryMap& map);

    // Where to put that bookkeeping: the first usable block big enough. The caller must
    // map.reserve() it before init() so that the allocator never hands out its own bitmap.
    [[nodiscard]] static bool find_bookkeeping(const MemoryMap& map, PhysAddr& out);

    // `buffer` must be 8-byte aligned and at least bookkeeping_bytes(map) long.
    [[nodiscard]] bool init(const MemoryMap& map, void* buffer, uint64_t buffer_bytes);

    [[nodiscard]] bool allocate(PhysAddr& out);
    // `frames` contiguous frames starting at a multiple of `align` (power of two, >= 4 KiB),
    // e.g. 512 frames aligned to 2 MiB for a large page.
    [[nodiscard]] bool allocate_contiguous(uint64_t frames, uint64_t align, PhysAddr& out);
    // Marks specific free frames as allocated (e.g. something placed before the allocator ran).
    [[nodiscard]] bool claim(PhysAddr base, uint64_t frames);

    // False, with no state change, for an unaligned address, a frame outside the usable map,
    // or one that is already free.
    [[nodiscard]] bool free(PhysAddr frame);
    [[nodiscard]] bool free_contiguous(PhysAddr base, uint64_t frames);

    [[nodiscard]] bool is_free(PhysAddr frame) const;
    [[nodiscard]] uint64_t free_frames() const { return free_; }
    [[nodiscard]] uint64_t total_frames() const { return total_; }

private:
    [[nodiscard]] bool managed(uint64_t frame) const;
    [[nodiscard]] bool test(uint64_t frame) const;
    void set_bits(uint64_t first, uint64_t count, bool value);
    [[nodiscard]] uint64_t first_clear(uint64_t from, uint64_t to) const;
    [[nodiscard]] bool all_allocated_and_managed(uint64_t first, uint64_t count) const;

    uint64_t* bits_ = nullptr;
    uint64_t base_frame_ = 0;    // frame number of bit 0, a multiple of 64
    uint64_t end_frame_ = 0;     // one past the highest usable frame
    uint64_t words_ = 0;
    uint64_t free_ = 0;
    uint64_t total_ = 0;
    uint64_t hint_ = 0;          // word where the last single-frame search succeeded
    PhysRange ranges_[MemoryMap::capacity]{};
    size_t range_count_ = 0;
};

} // namespace hv
