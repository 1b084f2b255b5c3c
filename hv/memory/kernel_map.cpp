#include "hv/memory/kernel_map.hpp"

#include "hv/arch/x86.hpp"
#include "hv/lib/spinlock.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/page_table.hpp"
#include "hv/memory/physical.hpp"
#include "hv/panic.hpp"

extern "C" char __text_start[], __rodata_start[], __data_start[], __image_end[]; // boot/linker.ld

namespace hv::kmap {
namespace {

struct FrameMemory {
    bool alloc_table(PhysAddr& out) { return mem::alloc_frame(out); }
    uint64_t* table(PhysAddr p) const { return static_cast<uint64_t*>(phys_to_virt(p)); }
};

FrameMemory frame_memory;
PageTable<LongModeFormat, FrameMemory> tables(frame_memory);
Spinlock lock;
uint64_t mmio_next = mmio_base;

void check(PtError e, const char* what) {
    if (e != PtError::none)
        panic("kernel map: %s: %s", what, describe(e));
}

void map_image_part(const char* begin, const char* end, PagePerms perms, const char* what) {
    auto b = reinterpret_cast<uint64_t>(begin), e = align_up(reinterpret_cast<uint64_t>(end), page_size);
    check(tables.map_range(VirtAddr(b), PhysAddr(b - image_base), e - b, perms, PageSize::size_4k), what);
}

} // namespace

void init(uint64_t phys_limit) {
    check(tables.create(), "root");
    if (tables.root().raw() >= (4ull << 30))
        panic("kernel map: root table above 4 GiB");
    // 1 GiB pages only when CPUID 0x80000001 EDX bit 26 says so (SDM vol 3 4.1.4).
    bool gib = (x86::cpuid(0x80000001).edx >> 26) & 1;
    phys_limit = align_up(phys_limit, huge_page_size);
    PagePerms data{true, true, false};
    check(tables.map_range(VirtAddr(direct_map_base), PhysAddr(0), phys_limit, data,
                           gib ? PageSize::size_1g : PageSize::size_2m),
          "direct map");
    map_image_part(__text_start, __rodata_start, PagePerms{true, false, true}, "text");
    map_image_part(__rodata_start, __data_start, PagePerms{true, false, false}, "rodata");
    map_image_part(__data_start, __image_end, data, "data");

    // NX bits are reserved (a #PF on use) until EFER.NXE is set (SDM vol 3 4.1.1, 4.5).
    x86::wrmsr(x86::msr::efer, x86::rdmsr(x86::msr::efer) | (1u << 11));
    x86::write_cr3(tables.root().raw());
    set_direct_map_limit(phys_limit);
}

PhysAddr root() {
    return tables.root();
}

void* map_mmio(PhysAddr base, uint64_t bytes) {
    IrqLockGuard g(lock);
    uint64_t first = base.page_base().raw(), size = align_up(base.raw() + bytes, page_size) - first;
    uint64_t va = mmio_next;
    check(tables.map_range(VirtAddr(va), PhysAddr(first), size,
                           PagePerms{true, true, false, false, CacheType::uncacheable}, PageSize::size_4k),
          "mmio");
    mmio_next += size;
    return reinterpret_cast<void*>(va + base.page_offset());
}

void map_identity(PhysAddr page) {
    IrqLockGuard g(lock);
    check(tables.map(VirtAddr(page.raw()), page, PageSize::size_4k, PagePerms{true, false, true}),
          "identity");
}

void unmap_identity(PhysAddr page) {
    IrqLockGuard g(lock);
    check(tables.unmap(VirtAddr(page.raw()), page_size), "identity");
    asm volatile("invlpg (%0)" : : "r"(page.raw()) : "memory");
}

} // namespace hv::kmap
