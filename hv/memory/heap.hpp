// A small general-purpose allocator for the hypervisor's own objects: first fit over an
// address-ordered free list, coalescing on free. Every block starts with a 16-byte header whose
// magic tells allocated, free and swallowed-by-coalescing blocks apart, so a double free or a
// scribbled header is refused instead of corrupting the list. The kernel feeds it pages from the
// frame allocator with add_region(); not thread safe (the caller's lock wraps it).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hv {

class Heap {
public:
    static constexpr size_t alignment = 16;
    static constexpr size_t max_regions = 64;

    // Hands [base, base + bytes) to the heap; false if too small, overlapping or out of slots.
    [[nodiscard]] bool add_region(void* base, size_t bytes);

    // nullptr when out of memory or for a size that cannot be represented; alloc(0) gives a
    // minimal block so every success is a distinct pointer.
    [[nodiscard]] void* alloc(size_t bytes);
    // `align` must be a power of two; anything up to 16 is the default alignment.
    [[nodiscard]] void* alloc_aligned(size_t bytes, size_t align);
    // nullptr is accepted (true). False for a pointer the heap did not hand out, a double free,
    // or a corrupted header; the heap is unchanged in that case.
    [[nodiscard]] bool free(void* p);

    [[nodiscard]] size_t free_bytes() const;       // payload-capable bytes on the free list
    [[nodiscard]] size_t free_block_count() const;
    // Walks the free list checking order, magics and bounds; false on any corruption.
    [[nodiscard]] bool check() const;

private:
    struct Block;
    struct Region {
        uintptr_t begin, end;
    };

    [[nodiscard]] bool in_region(uintptr_t p, size_t bytes) const;
    void insert_free(Block* b);
    void* carve(Block* prev, Block* b, uintptr_t payload, size_t need);

    Block* free_list_ = nullptr;
    Region regions_[max_regions]{};
    size_t region_count_ = 0;
};

} // namespace hv
