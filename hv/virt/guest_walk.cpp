#include "hv/virt/guest_walk.hpp"

namespace hv::virt {
namespace {

constexpr uint64_t cr0_pg = 1ull << 31, cr4_pse = 1ull << 4, cr4_pae = 1ull << 5, efer_lma = 1ull << 10;
constexpr uint64_t present = 1, page_size_bit = 1ull << 7;
constexpr uint64_t addr_mask = 0x000f'ffff'ffff'f000ull;

WalkResult walk32(const GuestPaging& p, uint64_t linear, ReadEntry read, void* ctx, uint64_t& gpa) {
    auto la = static_cast<uint32_t>(linear);
    uint64_t pde;
    if (!read(ctx, (p.cr3 & 0xfffff000u) + ((la >> 22) << 2), 4, pde))
        return WalkResult::unreadable_table;
    if (!(pde & present))
        return WalkResult::not_present;
    if ((pde & page_size_bit) && (p.cr4 & cr4_pse)) {
        // 4 MiB page: bits 31:22 plus PSE-36 bits 20:13 as address bits 39:32 (SDM 4.3).
        gpa = (pde & 0xffc00000u) | ((pde & 0x1fe000u) << 19) | (la & 0x3fffffu);
        return WalkResult::ok;
    }
    uint64_t pte;
    if (!read(ctx, (pde & 0xfffff000u) + (((la >> 12) & 0x3ff) << 2), 4, pte))
        return WalkResult::unreadable_table;
    if (!(pte & present))
        return WalkResult::not_present;
    gpa = (pte & 0xfffff000u) | (la & 0xfff);
    return WalkResult::ok;
}

WalkResult walk_levels(uint64_t table, int levels, uint64_t linear, ReadEntry read, void* ctx, uint64_t& gpa) {
    for (int level = levels; level >= 1; level--) {
        unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
        uint64_t e;
        if (!read(ctx, table + (((linear >> shift) & 0x1ff) << 3), 8, e))
            return WalkResult::unreadable_table;
        if (!(e & present))
            return WalkResult::not_present;
        if ((level == 2 || level == 3) && (e & page_size_bit)) {
            uint64_t span = 1ull << shift;
            gpa = (e & addr_mask & ~(span - 1)) | (linear & (span - 1));
            return WalkResult::ok;
        }
        table = e & addr_mask;
    }
    gpa = table | (linear & 0xfff);
    return WalkResult::ok;
}

} // namespace

WalkResult translate_linear(const GuestPaging& p, uint64_t linear, ReadEntry read, void* ctx, uint64_t& gpa) {
    if (!(p.cr0 & cr0_pg)) {
        gpa = (p.efer & efer_lma) ? linear : (linear & 0xffffffffu);
        return WalkResult::ok;
    }
    if (p.efer & efer_lma)
        return walk_levels(p.cr3 & addr_mask, 4, linear, read, ctx, gpa);
    if (p.cr4 & cr4_pae) {
        // PAE: four PDPTEs at CR3 (32-byte aligned), then two levels (SDM 4.4).
        uint64_t pdpte;
        if (!read(ctx, (p.cr3 & 0xffffffe0u) + (((linear >> 30) & 3) << 3), 8, pdpte))
            return WalkResult::unreadable_table;
        if (!(pdpte & present))
            return WalkResult::not_present;
        return walk_levels(pdpte & addr_mask, 2, linear & 0xffffffffu, read, ctx, gpa);
    }
    return walk32(p, linear, read, ctx, gpa);
}

} // namespace hv::virt
