// Internals shared by the child-partition files (children.cpp, child_vp.cpp): the partition
// table, the one lock, the ledger, deposit pages, and the per-vendor operations.
#pragma once
#include "hv/lib/spinlock.hpp"
#include "hv/virt/children.hpp"
#include "hv/virt/nested_map.hpp"
#include "partitions/page_ledger.hpp"

namespace hv::virt::children::detail {

inline constexpr uint32_t kMaxChildren = partitions::kMaxChildSlots;

struct Manager {
    Spinlock lock;              // every management call; dispatch holds it only to claim a VP
    Backend backend = Backend::none;
    Partition* root = nullptr;
    partitions::PageLedger ledger;
    Child* slots[kMaxChildren + 1] = {};   // index = slot, 0 unused
    uint64_t next_id = 2;       // the root is 1
    uint32_t live = 0;
};
Manager& manager();

[[nodiscard]] Child* find(uint64_t id);   // with the lock held
[[nodiscard]] bool pop_deposit(Child& c, PhysAddr& out);   // zeroed frame from the child's deposit
void push_deposit(Child& c, PhysAddr frame);

// Table frames for a child's nested map come from its own deposit.
struct DepositTableMem {
    Child* child;
    bool alloc_table(PhysAddr& out) { return pop_deposit(*child, out); }
    uint64_t* table(PhysAddr p) { return static_cast<uint64_t*>(phys_to_virt(p)); }
    void free_table(PhysAddr p) { push_deposit(*child, p); }
};

// Makes every processor that may hold stale translations of `p`'s nested map drop them before
// its next entry into `p` (the root: all processors; a child: where its VPs last ran).
void flush_partition(Partition& p);

} // namespace hv::virt::children::detail

namespace hv::virt::children {
// Vendor-specific pieces, in child_vp.cpp.
[[nodiscard]] bool detail_init_hw(Child& c);       // with the lock held
[[nodiscard]] bool detail_retire_vps(Child& c);    // without the lock; false if a VP is running
void detail_free_hw(Child& c);
} // namespace hv::virt::children
