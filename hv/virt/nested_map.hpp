// A partition's guest-physical map (EPT on VT-x, NPT on AMD-V), built with the same page-table
// template as the hypervisor's own tables; table frames come from the hypervisor's pool.
#pragma once
#include "hv/memory/direct_map.hpp"
#include "hv/memory/page_table.hpp"
#include "hv/memory/physical.hpp"

namespace hv::virt {

struct PoolTableMem {
    bool alloc_table(PhysAddr& out) { return mem::alloc_frame(out); }   // zeroed
    uint64_t* table(PhysAddr p) { return static_cast<uint64_t*>(phys_to_virt(p)); }
    void free_table(PhysAddr p) { static_cast<void>(mem::free_frame(p)); }
};

template <class Format> using NestedMap = PageTable<Format, PoolTableMem>;

} // namespace hv::virt
