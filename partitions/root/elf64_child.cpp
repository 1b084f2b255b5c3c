#include "partitions/root/elf64_child.hpp"

#include "partitions/rt/rt.hpp"

namespace root {
namespace {

constexpr uint64_t page = 4096, two_mib = 2ull << 20;
constexpr uint64_t table_pages = 64, stack_bytes = 32768;
// x86-64 paging entries (SDM vol 3 4.5): present, writable, page size; PCD+PWT for devices.
constexpr uint64_t pte_p = 1, pte_w = 2, pte_ps = 0x80, pte_uc = 0x18;

struct Tables {
    Child& c;
    uint64_t next, end;   // bump allocator of child pages for tables
    uint64_t root = 0;

    uint64_t* at(uint64_t gpa) { return reinterpret_cast<uint64_t*>(c.at(gpa)); }
    uint64_t take() {
        if (next >= end)
            return 0;
        uint64_t t = next;
        next += page;
        __builtin_memset(c.at(t), 0, page);
        return t;
    }
    // The next level's table under entry `i` of `table`, made when missing.
    uint64_t down(uint64_t table, unsigned i) {
        uint64_t& e = at(table)[i];
        if (!(e & pte_p)) {
            uint64_t t = take();
            if (!t)
                return 0;
            e = t | pte_p | pte_w;
        }
        return e & ~0xfffull;
    }
    bool map_2m(uint64_t virt, uint64_t phys, uint64_t flags) {
        uint64_t pdpt = down(root, (virt >> 39) & 511);
        uint64_t pd = pdpt ? down(pdpt, (virt >> 30) & 511) : 0;
        if (!pd)
            return false;
        at(pd)[(virt >> 21) & 511] = phys | pte_p | pte_w | pte_ps | flags;
        return true;
    }
};

void fill_handoff(const Child& c, root_abi::RootHandoff& h, uint64_t image_start, uint64_t boot_start,
                  uint64_t free_start) {
    __builtin_memset(&h, 0, sizeof h);
    h.magic = root_abi::kRootHandoffMagic;
    h.version = root_abi::kRootHandoffVersion;
    h.size = sizeof h;
    h.rsdp = 0xe0000;   // build_firmware puts the RSDP first
    h.tsc_khz = rt::tsc_khz();
    h.processor_count = c.vp_count;
    for (uint32_t i = 0; i < c.vp_count; i++)
        h.apic_ids[i] = i;
    using root_abi::RegionType;
    const root_abi::Region regions[] = {
        {0x1000, 0x9f000 - 0x1000, RegionType::usable, 0},
        {0x9f000, 0x100000 - 0x9f000, RegionType::reserved, 0},
        {image_start, boot_start - image_start, RegionType::image, 0},
        {boot_start, free_start - boot_start, RegionType::boot_data, 0},
        {free_start, c.ram_bytes() - free_start, RegionType::usable, 0},
    };
    for (const auto& r : regions)
        if (r.length)
            h.regions[h.region_count++] = r;
    __builtin_memcpy(h.cmdline, c.config.args, sizeof c.config.args < sizeof h.cmdline ? sizeof c.config.args : sizeof h.cmdline);
    __builtin_memcpy(h.backend, "child", 6);
}

} // namespace

bool prepare_elf64(Child& c, const devices::Elf64Plan& plan, devices::EntryState& entry) {
    uint64_t boot = (plan.image_end + page - 1) & ~(page - 1);
    uint64_t stack = boot + table_pages * page;
    uint64_t handoff = stack + stack_bytes;
    uint64_t free_start = handoff + sizeof(root_abi::RootHandoff);
    free_start = (free_start + page - 1) & ~(page - 1);
    if (free_start > c.ram_bytes())
        return false;
    Tables t{c, boot, stack};
    t.root = t.take();
    const devices::PagingPlan& p = plan.paging;
    for (uint64_t a = 0; a < p.identity_limit; a += two_mib)
        if (!t.map_2m(a, a, 0))
            return false;
    for (uint64_t off = 0; off < p.window_size; off += two_mib)
        if (!t.map_2m(p.window_virt + off, p.window_phys + off, 0))
            return false;
    // The xAPIC page, uncached, for kernels that use it (children have no x2APIC).
    if (!t.map_2m(0xfee00000ull & ~(two_mib - 1), 0xfee00000ull & ~(two_mib - 1), pte_uc))
        return false;
    fill_handoff(c, *reinterpret_cast<root_abi::RootHandoff*>(c.at(handoff)), plan.image_start, boot, free_start);
    entry = plan.entry;
    entry.cr3 = t.root;
    entry.rsp = handoff - 16;
    entry.rdi = handoff;
    entry.rsi = root_abi::kRootHandoffMagic;
    return true;
}

} // namespace root
