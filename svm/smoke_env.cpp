#include "svm/smoke_env.hpp"

#include "hv/console.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/page_table.hpp"

namespace svm::smoke {
namespace {

constexpr int pool_pages = 48;
alignas(4096) uint8_t pool[pool_pages][4096];
int pool_used = 0;

// hv::PageTable's memory policy over the static pool.
struct PoolMem {
    bool alloc_table(hv::PhysAddr& out) {
        if (pool_used >= pool_pages)
            return false;
        out = take_page().pa;
        return true;
    }
    uint64_t* table(hv::PhysAddr pa) const { return static_cast<uint64_t*>(hv::phys_to_virt(pa)); }
};

} // namespace

Page take_page() {
    if (pool_used >= pool_pages)
        return {nullptr, hv::PhysAddr()};
    uint8_t* p = pool[pool_used++];
    for (int i = 0; i < 4096; ++i)
        p[i] = 0;
    return {p, hv::virt_to_phys(p)};
}

bool build_env(Env& e) {
    PoolMem mem;
    hv::PageTable<hv::NptFormat, PoolMem> npt(mem);
    if (npt.create() != hv::PtError::none)
        return false;
    const hv::PagePerms rwx{true, true, true, false, hv::CacheType::write_back};
    // Guest page tables: PML4 -> PDPT -> PD with two 2 MiB identity pages.
    uint64_t* tables[3];
    for (int i = 0; i < 3; ++i) {
        Page p = take_page();
        tables[i] = static_cast<uint64_t*>(p.ptr);
        uint64_t gpa = gpa_guest_pml4 + 0x1000ull * static_cast<uint64_t>(i);
        if (!p.ptr || npt.map(hv::GuestPhysAddr(gpa), p.pa, hv::PageSize::size_4k, rwx) != hv::PtError::none)
            return false;
    }
    tables[0][0] = (gpa_guest_pml4 + 0x1000) | 3;
    tables[1][0] = (gpa_guest_pml4 + 0x2000) | 3;
    tables[2][0] = 0x000000 | 0x83;   // P | RW | PS
    tables[2][1] = 0x200000 | 0x83;

    struct {
        uint64_t gpa;
        uint8_t** out;
    } pages[] = {{gpa_real_code, &e.real_code}, {gpa_code, &e.code}, {gpa_stack_top - 0x1000, nullptr},
                 {gpa_data, &e.data}};
    for (auto& pg : pages) {
        Page p = take_page();
        if (!p.ptr || npt.map(hv::GuestPhysAddr(pg.gpa), p.pa, hv::PageSize::size_4k, rwx) != hv::PtError::none)
            return false;
        if (pg.out)
            *pg.out = static_cast<uint8_t*>(p.ptr);
    }
    Page msr0 = take_page(), msr1 = take_page();
    Page io0 = take_page(), io1 = take_page(), io2 = take_page();
    // The maps span consecutive pages: the pool hands them out in order.
    if (!io2.ptr || msr1.pa != msr0.pa + 4096 || io1.pa != io0.pa + 4096 || io2.pa != io1.pa + 4096)
        return false;
    e.msrpm = static_cast<uint8_t*>(msr0.ptr);
    e.iopm = static_cast<uint8_t*>(io0.ptr);
    e.hw = {npt.root(), msr0.pa, io0.pa, 1};
    return true;
}

} // namespace svm::smoke
