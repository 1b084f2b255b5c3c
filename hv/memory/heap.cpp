#include "hv/memory/heap.hpp"

namespace hv {

// Header of every block; `next` is only meaningful while the block is free.
struct Heap::Block {
    uint64_t size;     // whole block, header included, multiple of 16
    uint32_t magic;
    uint32_t check;    // size folded with magic: catches a header overwritten by a neighbour
    Block* next;
};

namespace {

constexpr uint32_t magic_allocated = 0xA110CA7Eu;
constexpr uint32_t magic_free = 0xF4EEB10Cu;
constexpr uint32_t magic_dead = 0xDEADB10Cu;   // header swallowed by coalescing
constexpr uintptr_t header_size = 16;
constexpr uintptr_t min_block = 32;            // header plus the free-list link, rounded

uint32_t fold(uint64_t size, uint32_t magic) {
    return static_cast<uint32_t>(size) ^ static_cast<uint32_t>(size >> 32) ^ magic ^ 0x5A5A5A5Au;
}

uintptr_t round_up(uintptr_t v, uintptr_t a) { return (v + a - 1) & ~(a - 1); }

} // namespace

bool Heap::in_region(uintptr_t p, size_t bytes) const {
    for (size_t i = 0; i < region_count_; ++i) {
        if (p >= regions_[i].begin && p < regions_[i].end) {
            return bytes <= regions_[i].end - p;
        }
    }
    return false;
}

bool Heap::add_region(void* base, size_t bytes) {
    uintptr_t raw = reinterpret_cast<uintptr_t>(base);
    if (base == nullptr || bytes > UINTPTR_MAX - raw) {
        return false;
    }
    uintptr_t begin = round_up(raw, alignment), end = (raw + bytes) & ~(alignment - 1);
    if (end <= begin || end - begin < min_block) {
        return false;
    }
    for (size_t i = 0; i < region_count_; ++i) {
        if (begin < regions_[i].end && end > regions_[i].begin) {
            return false;
        }
    }
    bool extended = false;
    for (size_t i = 0; i < region_count_ && !extended; ++i) {
        if (regions_[i].end == begin) {
            regions_[i].end = end;
            extended = true;
        } else if (regions_[i].begin == end) {
            regions_[i].begin = begin;
            extended = true;
        }
    }
    if (!extended) {
        if (region_count_ == max_regions) {
            return false;
        }
        regions_[region_count_++] = {begin, end};
    }
    Block* b = reinterpret_cast<Block*>(begin);
    b->size = end - begin;
    b->magic = magic_free;
    b->check = fold(b->size, magic_free);
    insert_free(b);
    return true;
}

// Address-ordered insert, merging with neighbours that touch it inside one region.
void Heap::insert_free(Block* b) {
    Block* prev = nullptr;
    Block* next = free_list_;
    while (next != nullptr && next < b) {
        prev = next;
        next = next->next;
    }
    uintptr_t addr = reinterpret_cast<uintptr_t>(b);
    b->next = next;
    if (next != nullptr && addr + b->size == reinterpret_cast<uintptr_t>(next) &&
        in_region(addr, b->size + next->size)) {
        b->size += next->size;
        b->next = next->next;
        next->magic = magic_dead;
    }
    b->magic = magic_free;
    b->check = fold(b->size, magic_free);
    if (prev == nullptr) {
        free_list_ = b;
        return;
    }
    uintptr_t paddr = reinterpret_cast<uintptr_t>(prev);
    if (paddr + prev->size == addr && in_region(paddr, prev->size + b->size)) {
        prev->size += b->size;
        prev->next = b->next;
        prev->check = fold(prev->size, magic_free);
        b->magic = magic_dead;
    } else {
        prev->next = b;
    }
}

void* Heap::carve(Block* prev, Block* b, uintptr_t payload, size_t need) {
    (prev != nullptr ? prev->next : free_list_) = b->next;
    uintptr_t start = reinterpret_cast<uintptr_t>(b), end = start + b->size;
    uintptr_t hdr = payload - header_size;
    if (end - (hdr + need) < min_block) {
        need = end - hdr;   // a tail too small to be a block stays with the allocation
    } else {
        Block* tail = reinterpret_cast<Block*>(hdr + need);
        tail->size = end - (hdr + need);
        insert_free(tail);
    }
    if (hdr != start) {
        b->size = hdr - start;
        insert_free(b);
    }
    Block* a = reinterpret_cast<Block*>(hdr);
    a->size = need;
    a->magic = magic_allocated;
    a->check = fold(need, magic_allocated);
    return reinterpret_cast<void*>(payload);
}

void* Heap::alloc(size_t bytes) { return alloc_aligned(bytes, alignment); }

void* Heap::alloc_aligned(size_t bytes, size_t align) {
    if (align < alignment) {
        align = alignment;
    }
    if ((align & (align - 1)) != 0 || bytes > (SIZE_MAX >> 2) || align > (SIZE_MAX >> 2)) {
        return nullptr;
    }
    size_t need = round_up(bytes < alignment ? alignment : bytes, alignment) + header_size;
    Block* prev = nullptr;
    for (Block* b = free_list_; b != nullptr; prev = b, b = b->next) {
        uintptr_t start = reinterpret_cast<uintptr_t>(b), end = start + b->size;
        uintptr_t payload = round_up(start + header_size, align);
        // A leading gap must be big enough to stay a free block of its own.
        if (payload - header_size != start && payload - header_size - start < min_block) {
            payload += align;
        }
        // A large alignment near the top of the address space must not wrap below the block.
        if (payload < start + header_size) {
            continue;
        }
        if (payload - header_size < end && need <= end - (payload - header_size)) {
            return carve(prev, b, payload, need);
        }
    }
    return nullptr;
}

bool Heap::free(void* p) {
    if (p == nullptr) {
        return true;
    }
    uintptr_t payload = reinterpret_cast<uintptr_t>(p);
    if (payload % alignment != 0 || payload < header_size || !in_region(payload - header_size, min_block)) {
        return false;
    }
    Block* b = reinterpret_cast<Block*>(payload - header_size);
    if (b->magic != magic_allocated || b->check != fold(b->size, magic_allocated) || b->size < min_block ||
        b->size % alignment != 0 || !in_region(payload - header_size, b->size)) {
        return false;
    }
    insert_free(b);
    return true;
}

size_t Heap::free_bytes() const {
    size_t total = 0;
    for (const Block* b = free_list_; b != nullptr; b = b->next) {
        total += b->size - header_size;
    }
    return total;
}

size_t Heap::free_block_count() const {
    size_t n = 0;
    for (const Block* b = free_list_; b != nullptr; b = b->next) {
        ++n;
    }
    return n;
}

bool Heap::check() const {
    uintptr_t last_end = 0;
    for (const Block* b = free_list_; b != nullptr; b = b->next) {
        uintptr_t addr = reinterpret_cast<uintptr_t>(b);
        if (addr < last_end || !in_region(addr, min_block) || b->magic != magic_free ||
            b->check != fold(b->size, magic_free) || b->size < min_block || !in_region(addr, b->size)) {
            return false;
        }
        last_end = addr + b->size;
    }
    return true;
}

} // namespace hv
