#include "hv/memory/physical.hpp"

#include "hv/console.hpp"
#include "hv/lib/spinlock.hpp"
#include "hv/lib/string.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/frame_allocator.hpp"
#include "hv/memory/heap.hpp"
#include "hv/memory/memory_map.hpp"
#include "hv/panic.hpp"

extern "C" char __image_start_phys[], __image_end_phys[]; // boot/linker.ld

namespace hv::mem {
namespace {

MemoryMap memory_map;
FrameAllocator frames;
Spinlock frames_lock;
Heap heap;
Spinlock heap_lock;
constexpr uint64_t heap_chunk = 2ull << 20;

bool fail(const char* what, const char* detail) {
    console::log("hv: memory: %s: %s\n", what, detail);
    return false;
}

// Gives the heap at least `bytes` more; called with heap_lock held.
bool grow(size_t bytes) {
    uint64_t want = align_up(bytes + 4096 > heap_chunk ? bytes + 4096 : heap_chunk, page_size);
    PhysAddr p;
    if (!alloc_frames(want / page_size, page_size, p))
        return false;
    return heap.add_region(phys_to_virt(p), want);
}

} // namespace

bool init_frames(const boot::BootInfo& info, uint32_t min_memory_mib, Summary& out) {
    for (size_t i = 0; i < info.memory_count; i++) {
        const boot::MemoryRange& r = info.memory[i];
        if (r.type != boot::MemoryType::bad && r.base + r.length > out.highest_ram_end)
            out.highest_ram_end = r.base + r.length;
    }
    if (MemoryMapError e = memory_map.build(info); e != MemoryMapError::none)
        return fail("bad memory map", describe(e));
    out.usable_bytes = memory_map.total_bytes();
    if (out.usable_bytes < (static_cast<uint64_t>(min_memory_mib) << 20)) {
        console::log("hv: memory: only %lu MiB usable, need at least %u MiB (option min_memory=%u)\n",
                     out.usable_bytes >> 20, min_memory_mib, min_memory_mib);
        return false;
    }
    auto image = reinterpret_cast<uint64_t>(__image_start_phys);
    auto image_end = reinterpret_cast<uint64_t>(__image_end_phys);
    MemoryMapError e = memory_map.reserve(PhysAddr(image), image_end - image);
    if (e == MemoryMapError::none)
        e = memory_map.reserve_boot_structures(info);
    if (e != MemoryMapError::none)
        return fail("cannot reserve the image and boot structures", describe(e));
    // The bitmap must be reachable through the boot direct map (first 4 GiB) right now.
    PhysAddr book;
    uint64_t bytes = FrameAllocator::bookkeeping_bytes(memory_map);
    if (!FrameAllocator::find_bookkeeping(memory_map, book) || book.raw() + bytes > direct_map_limit())
        return fail("no room for the frame bitmap", "no usable block below 4 GiB");
    if (memory_map.reserve(book, bytes) != MemoryMapError::none ||
        !frames.init(memory_map, phys_to_virt(book), align_up(bytes, 8)))
        return fail("frame allocator", "init failed");
    out.managed_frames = frames.total_frames();
    return true;
}

bool init_heap() {
    IrqLockGuard g(heap_lock);
    return grow(0);
}

bool alloc_frame(PhysAddr& out) {
    {
        IrqLockGuard g(frames_lock);
        if (!frames.allocate(out))
            return false;
    }
    if (out.raw() + page_size > direct_map_limit())
        panic("frame %lx beyond the direct map", out.raw());
    memset(phys_to_virt(out), 0, page_size);
    return true;
}

bool alloc_frames(uint64_t count, uint64_t align, PhysAddr& out) {
    IrqLockGuard g(frames_lock);
    return frames.allocate_contiguous(count, align, out);
}

bool free_frame(PhysAddr frame) {
    IrqLockGuard g(frames_lock);
    return frames.free(frame);
}

bool free_contiguous(PhysAddr base, uint64_t count) {
    IrqLockGuard g(frames_lock);
    return frames.free_contiguous(base, count);
}

uint64_t free_frames() {
    IrqLockGuard g(frames_lock);
    return frames.free_frames();
}

uint64_t donate_free_frames(uint64_t keep_frames, uint32_t max_runs, RunFn fn, void* ctx) {
    IrqLockGuard g(frames_lock);
    uint64_t budget = frames.free_frames() > keep_frames ? frames.free_frames() - keep_frames : 0;
    uint64_t given = 0;
    uint32_t runs = 0;
    // The normalized map lists the managed ranges in ascending order: walk them frame by frame,
    // so the lowest frames go to the partition and the hypervisor keeps the top of memory.
    for (size_t i = 0; i < memory_map.count() && given < budget && runs < max_runs; i++) {
        uint64_t f = memory_map[i].base.raw(), end = f + memory_map[i].length;
        while (f < end && given < budget && runs < max_runs) {
            if (!frames.is_free(PhysAddr(f))) {
                f += page_size;
                continue;
            }
            uint64_t start = f, n = 0;
            while (f < end && given + n < budget && frames.is_free(PhysAddr(f))) {
                f += page_size;
                n++;
            }
            if (!frames.claim(PhysAddr(start), n))
                panic("donate_free_frames: claiming %lu free frames at %lx failed", n, start);
            fn(ctx, PhysAddr(start), n);
            given += n;
            runs++;
        }
    }
    return given;
}

void* alloc(size_t bytes) {
    return alloc_aligned(bytes, Heap::alignment);
}

void* alloc_aligned(size_t bytes, size_t align) {
    IrqLockGuard g(heap_lock);
    void* p = heap.alloc_aligned(bytes, align);
    if (!p && grow(bytes + align))
        p = heap.alloc_aligned(bytes, align);
    return p;
}

void free(void* p) {
    IrqLockGuard g(heap_lock);
    if (!heap.free(p))
        panic("heap: bad free of %p", p);
}

bool heap_check() {
    IrqLockGuard g(heap_lock);
    return heap.check();
}

} // namespace hv::mem
