#include "hv/virt/root_layout.hpp"

#include "hv/arch/tsc.hpp"
#include "hv/console.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/page_table.hpp"
#include "hv/memory/physical.hpp"
#include "hv/percpu.hpp"

namespace hv::virt {
namespace {

using root_abi::RegionType;
constexpr uint64_t mib = 1ull << 20;
constexpr uint64_t boot_data_pages = 64;
constexpr uint32_t max_donated_runs = 96;   // the handoff lists at most kMaxRegions regions

uint32_t t(RegionType r) { return static_cast<uint32_t>(r); }

RegionType firmware_type(boot::MemoryType m) {
    switch (m) {
    case boot::MemoryType::usable: return RegionType::hypervisor;   // until given to the root below
    case boot::MemoryType::acpi_reclaimable: return RegionType::acpi_reclaimable;
    case boot::MemoryType::acpi_nvs: return RegionType::acpi_nvs;
    case boot::MemoryType::bad: return RegionType::bad;
    default: return RegionType::reserved;
    }
}

void donated(void* ctx, PhysAddr base, uint64_t frames) {
    auto& l = *static_cast<RootLayout*>(ctx);
    if (!l.regions.set(base.raw(), frames * page_size, t(RegionType::usable)))
        console::log("hv: root: memory map full; %lu KiB at %lx stay with the hypervisor\n", frames * 4, base.raw());
    else
        l.donated_bytes += frames * page_size;
}

// A page-aligned block of the root's usable memory between 1 MiB and 4 GiB (its initial page
// tables and the AP trampoline's CR3 must be reachable from 32-bit code).
bool carve(RootLayout& l, uint64_t bytes, uint64_t align, RegionType as, uint64_t& out) {
    for (size_t i = 0; i < l.regions.count(); i++) {
        const auto& r = l.regions[i];
        if (r.type != t(RegionType::usable))
            continue;
        uint64_t base = align_up(r.base < mib ? mib : r.base, align);
        if (base + bytes <= r.base + r.length && base + bytes <= (4ull << 30)) {
            out = base;
            return l.regions.set(base, bytes, t(as));
        }
    }
    return false;
}

// Page-table memory for the root's initial tables: pages of the boot-data block.
struct BootDataMem {
    uint64_t next, end;
    bool alloc_table(PhysAddr& out) {
        if (next + page_size > end)
            return false;
        out = PhysAddr(next);
        __builtin_memset(phys_to_virt(out), 0, page_size);
        next += page_size;
        return true;
    }
    uint64_t* table(PhysAddr p) { return static_cast<uint64_t*>(phys_to_virt(p)); }
};

} // namespace

bool layout_root_memory(const boot::BootInfo& info, RootLayout& l) {
    for (size_t i = 0; i < info.memory_count; i++) {
        const auto& m = info.memory[i];
        if (!l.regions.set(m.base, m.length, t(firmware_type(m.type)))) {
            console::log("hv: root: the firmware memory map has more ranges than the root's map holds\n");
            return false;
        }
    }
    // The first MiB never entered the frame allocator; the hypervisor is done with its trampoline.
    for (size_t i = 0; i < info.memory_count; i++) {
        const auto& m = info.memory[i];
        if (m.type == boot::MemoryType::usable && m.base < mib)
            static_cast<void>(l.regions.set(m.base, (m.base + m.length > mib ? mib : m.base + m.length) - m.base,
                                            t(RegionType::usable)));
    }
    uint64_t free = mem::free_frames();
    uint64_t keep = free / 8;
    keep = keep < (16 * mib) / page_size ? (16 * mib) / page_size : keep;
    keep = keep > (512 * mib) / page_size ? (512 * mib) / page_size : keep;
    mem::donate_free_frames(keep, max_donated_runs, donated, &l);
    for (size_t i = 0; i < info.module_count; i++) {
        const auto& m = info.modules[i];
        if (!l.regions.set(m.start, align_up(m.end, page_size) - m.start, t(RegionType::module)))
            return false;
    }
    if (!carve(l, boot_data_pages * page_size, page_size, RegionType::boot_data, l.boot_data)) {
        console::log("hv: root: no room below 4 GiB for the handoff and initial page tables\n");
        return false;
    }
    l.boot_data_bytes = boot_data_pages * page_size;
    return true;
}

bool load_root_image(const boot::BootInfo& info, RootLayout& l) {
    const boot::Module& m = info.modules[0];
    const auto* file = static_cast<const uint8_t*>(phys_to_virt(PhysAddr(m.start)));
    if (partitions::ElfError e = partitions::parse_elf(file, m.end - m.start, l.elf); e != partitions::ElfError::ok) {
        console::log("hv: root partition image: %s\n", partitions::describe(e));
        return false;
    }
    if (!l.elf.is64 || l.elf.lowest_vaddr < 0xffff800000000000ull) {
        console::log("hv: root partition image: must be a 64-bit ELF linked in the upper half\n");
        return false;
    }
    uint64_t lo = align_down(l.elf.lowest_vaddr, page_size);
    l.image_bytes = align_up(l.elf.highest_vaddr, page_size) - lo;
    if (l.image_bytes > 1024 * mib || !carve(l, l.image_bytes, 2 * mib, RegionType::image, l.image)) {
        console::log("hv: root partition image: no room for its %lu KiB\n", l.image_bytes >> 10);
        return false;
    }
    auto* dst = static_cast<uint8_t*>(phys_to_virt(PhysAddr(l.image)));
    __builtin_memset(dst, 0, l.image_bytes);
    for (size_t i = 0; i < l.elf.segment_count; i++) {
        const auto& s = l.elf.segments[i];
        __builtin_memcpy(dst + (s.vaddr - lo), file + s.offset, s.file_size);
    }

    // Initial tables (partitions/abi/root_handoff.hpp): the first 4 GiB one-to-one, the image at
    // its link addresses. The handoff takes the first two pages, a stack the next four.
    l.handoff = l.boot_data;
    l.stack_top = l.boot_data + 6 * page_size;
    BootDataMem bd{l.boot_data + 6 * page_size, l.boot_data + l.boot_data_bytes};
    PageTable<LongModeFormat, BootDataMem> pt(bd);
    PagePerms rwx{true, true, true};
    if (pt.create() != PtError::none ||
        pt.map_range(VirtAddr(0), PhysAddr(0), 4ull << 30, rwx, PageSize::size_2m) != PtError::none) {
        console::log("hv: root: initial page tables do not fit the boot-data block\n");
        return false;
    }
    for (size_t i = 0; i < l.elf.segment_count; i++) {
        const auto& s = l.elf.segments[i];
        uint64_t va = align_down(s.vaddr, page_size), end = align_up(s.vaddr + s.mem_size, page_size);
        PagePerms p{true, (s.flags & 2) != 0, (s.flags & 1) != 0};
        if (pt.map_range(VirtAddr(va), PhysAddr(l.image + (va - lo)), end - va, p, PageSize::size_4k) !=
            PtError::none) {
            console::log("hv: root partition image: its segments cannot be mapped (overlapping pages?)\n");
            return false;
        }
    }
    l.cr3 = pt.root().raw();
    l.entry = l.elf.entry;
    return true;
}

void fill_handoff(const boot::BootInfo& info, const RootLayout& l, const char* backend) {
    auto* h = static_cast<root_abi::RootHandoff*>(phys_to_virt(PhysAddr(l.handoff)));
    __builtin_memset(h, 0, sizeof *h);
    h->magic = root_abi::kRootHandoffMagic;
    h->version = root_abi::kRootHandoffVersion;
    h->size = sizeof *h;
    h->tsc_khz = tsc::hz() / 1000;
    h->processor_count = online_count();
    h->bsp_apic_id = cpu_slot(0).apic_id;
    for (uint32_t i = 0; i < h->processor_count && i < root_abi::kMaxProcessors; i++)
        h->apic_ids[i] = cpu_slot(i).apic_id;
    for (size_t i = 0; i < l.regions.count() && h->region_count < root_abi::kMaxRegions; i++) {
        const auto& r = l.regions[i];
        h->regions[h->region_count++] = {r.base, r.length, static_cast<RegionType>(r.type), 0};
    }
    for (size_t i = 1; i < info.module_count && h->module_count < root_abi::kMaxModules; i++) {
        auto& m = h->modules[h->module_count++];
        m.base = info.modules[i].start;
        m.length = info.modules[i].end - info.modules[i].start;
        const char* s = info.str(info.modules[i].cmdline);
        for (size_t k = 0; k + 1 < sizeof m.cmdline && s[k]; k++)
            m.cmdline[k] = s[k];
    }
    const char* c = info.str(info.modules[0].cmdline);
    for (size_t k = 0; k + 1 < sizeof h->cmdline && c[k]; k++)
        h->cmdline[k] = c[k];
    for (size_t k = 0; k + 1 < sizeof h->backend && backend[k]; k++)
        h->backend[k] = backend[k];
    // The RSDP: where the loader's copy came from (the BIOS area), found again by its bytes.
    if (info.rsdp_phys) {
        h->rsdp = info.rsdp_phys;
    } else if (info.rsdp_length >= 20) {
        for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
            if (__builtin_memcmp(phys_to_virt(PhysAddr(a)), info.rsdp, 20) == 0) {
                h->rsdp = a;
                break;
            }
    }
}

} // namespace hv::virt
