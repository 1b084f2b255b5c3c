// Child partition lifecycle and memory (hv/virt/children.hpp, docs/child-partitions.md).
#include "hv/console.hpp"
#include "hv/lib/format.hpp"
#include "hv/panic.hpp"
#include "hv/lib/new.hpp"
#include "hv/memory/physical.hpp"
#include "hv/percpu.hpp"
#include "hv/smp.hpp"
#include "hv/virt/child_internal.hpp"
#include "hv/virt/synic.hpp"
#include "hv/virt/vendor.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "hv/arch/x86.hpp"

namespace hv::virt::children {
namespace detail {

Manager& manager() {
    static Manager m;
    return m;
}

Child* find(uint64_t id) {
    Manager& m = manager();
    for (uint32_t s = 1; s <= kMaxChildren; s++)
        if (m.slots[s] && m.slots[s]->part.id == id)
            return m.slots[s];
    return nullptr;
}

bool pop_deposit(Child& c, PhysAddr& out) {
    if (c.deposit_free == 0)
        return false;
    out = PhysAddr(c.deposit_head << page_shift);
    auto* page = static_cast<uint64_t*>(phys_to_virt(out));
    c.deposit_head = page[0];
    c.deposit_free--;
    __builtin_memset(page, 0, page_size);
    return true;
}

void push_deposit(Child& c, PhysAddr frame) {
    auto* page = static_cast<uint64_t*>(phys_to_virt(frame));
    page[0] = c.deposit_head;
    c.deposit_head = frame.frame();
    c.deposit_free++;
}

namespace {
void nothing(void*) {}
} // namespace

void flush_partition(Partition& p) {
    if (Child* c = static_cast<Child*>(p.child)) {
        for (Vp* vp : c->vp_table)
            if (vp)
                __atomic_store_n(&vp->flush_nested, true, __ATOMIC_RELEASE);
    } else {
        for (uint32_t i = 0; i < p.vp_count; i++)
            __atomic_store_n(&p.vps[i].flush_nested, true, __ATOMIC_RELEASE);
    }
    // The flag is taken before a VP's next entry. A VP inside its guest right now must be made
    // to exit first, so it cannot go on using the old translations: an IPI to every other
    // processor does that (they all run root VPs, and dispatched children run on those).
    for (uint32_t cpu = 0; cpu < online_count(); cpu++)
        if (cpu != this_cpu().index)
            static_cast<void>(smp::call_on(cpu, nothing, nullptr));
}

} // namespace detail

using namespace detail;

namespace {

template <class Format> PtError root_unmap(Partition& root, uint64_t frame) {
    PoolTableMem pool;
    NestedMap<Format> map(pool);
    map.adopt(root.hw.nested_root);
    return map.unmap(GuestPhysAddr(frame << page_shift), page_size);
}

template <class Format> PtError root_map(Partition& root, uint64_t frame) {
    PoolTableMem pool;
    NestedMap<Format> map(pool);
    map.adopt(root.hw.nested_root);
    return map.map(GuestPhysAddr(frame << page_shift), PhysAddr(frame << page_shift), PageSize::size_4k,
                   PagePerms{true, true, true});
}

PtError root_unmap_frame(uint64_t frame) {
    Manager& m = manager();
    return m.root->nested_is_ept ? root_unmap<EptFormat>(*m.root, frame) : root_unmap<NptFormat>(*m.root, frame);
}

PtError root_map_frame(uint64_t frame) {
    Manager& m = manager();
    return m.root->nested_is_ept ? root_map<EptFormat>(*m.root, frame) : root_map<NptFormat>(*m.root, frame);
}

template <class Format> PtError child_map(Child& c, uint64_t gpa_page, uint64_t frame, const PagePerms& perms) {
    DepositTableMem mem{&c};
    PageTable<Format, DepositTableMem> map(mem);
    map.adopt(c.part.hw.nested_root);
    return map.map(GuestPhysAddr(gpa_page << page_shift), PhysAddr(frame << page_shift), PageSize::size_4k, perms);
}

template <class Format> bool child_unmap(Child& c, uint64_t gpa_page, uint64_t& frame) {
    if (c.part.hw.nested_root.raw() == 0)
        return false;   // never walk a map that does not exist
    DepositTableMem mem{&c};
    PageTable<Format, DepositTableMem> map(mem);
    map.adopt(c.part.hw.nested_root);
    Translation t = map.translate(GuestPhysAddr(gpa_page << page_shift));
    if (!t.mapped)
        return false;
    frame = t.phys.frame();
    return map.unmap(GuestPhysAddr(gpa_page << page_shift), page_size) == PtError::none;
}

template <class Format> bool child_create_map(Child& c) {
    DepositTableMem mem{&c};
    PageTable<Format, DepositTableMem> map(mem);
    if (map.create() != PtError::none)
        return false;
    c.part.hw.nested_root = map.root();
    c.part.nested_is_ept = is_same_v<Format, EptFormat>;
    return true;
}

bool ept() { return manager().backend == Backend::vmx; }

// Every frame of the child returns to the root: mapped ones stay mapped in the root (they never
// left it), deposited ones are mapped back. Called with the lock held, no VP of `c` running.
void release_all(Child& c) {
    Manager& m = manager();
    // One pass over the ledger: mapped frames never left the root's map; deposited ones go back.
    uint8_t mapped = partitions::PageLedger::mapped(c.slot), deposited = partitions::PageLedger::deposited(c.slot);
    for (uint64_t f = m.ledger.first_frame(); f < m.ledger.end_frame(); f++) {
        uint8_t o = m.ledger.owner(f);
        if (o != mapped && o != deposited)
            continue;
        if (o == deposited) {
            // It held the hypervisor's state for the child (VMCS/VMCB with host addresses,
            // nested tables): nothing of it goes back to the root.
            __builtin_memset(phys_to_virt(PhysAddr(f << page_shift)), 0, page_size);
            if (root_map_frame(f) != PtError::none)
                panic("children: cannot map frame %lx back into the root", f << page_shift);
        }
        m.ledger.set_range(f, 1, partitions::PageLedger::root);
    }
}

} // namespace

void add_root_ram(uint64_t base, uint64_t length) {
    uint64_t first = align_up(base, page_size) >> page_shift, end = align_down(base + length, page_size) >> page_shift;
    if (end > first)
        manager().ledger.set_range(first, end - first, partitions::PageLedger::root);
}

bool root_ram(uint64_t frame) {
    uint8_t o = manager().ledger.owner(frame);
    return o != partitions::PageLedger::foreign && !(o & 0x80);   // the root's, or mapped into a child
}

// Runs fn(child) with the manager lock held; HV_STATUS_INVALID_PARTITION_ID when no child has `id`.
template <class F> Status with_child(uint64_t id, F&& fn) {
    IrqLockGuard g(manager().lock);
    Child* c = find(id);
    return c ? fn(*c) : Status::invalid_partition_id;
}

Status create(Partition& caller, uint64_t flags, uint64_t& id) {
    static_cast<void>(flags);   // no creation flags are supported yet: every child is the same
    Manager& m = manager();
    IrqLockGuard g(m.lock);
    if (caller.kind != PartitionKind::root)
        return Status::access_denied;
    uint32_t slot = 0;
    for (uint32_t s = 1; s <= kMaxChildren && !slot; s++)
        if (!m.slots[s])
            slot = s;
    if (!slot)
        return Status::insufficient_memory;   // the TLFS answer when no partition can be made
    void* mem = mem::alloc_aligned(sizeof(Child), 64);
    if (!mem)
        return Status::insufficient_memory;
    Child* c = new (mem) Child;
    c->slot = static_cast<uint8_t>(slot);
    c->part.id = m.next_id++;
    c->part.kind = PartitionKind::child;
    c->part.child = c;
    c->part.vp_table = c->vp_table;
    c->part.vp_table_size = kMaxChildVps;
    format(c->part.name, sizeof c->part.name, "child%lu", c->part.id);
    m.slots[slot] = c;
    m.live++;
    id = c->part.id;
    return Status::success;
}

Status initialize(uint64_t id) {
    return with_child(id, [&](Child& child) -> Status {
        Child* c = &child;
        if (c->phase != ChildPhase::created)
            return Status::invalid_partition_state;
        if (!(ept() ? child_create_map<EptFormat>(*c) : child_create_map<NptFormat>(*c)))
            return Status::insufficient_memory;
        if (!detail_init_hw(*c))
            return Status::insufficient_memory;
        c->phase = ChildPhase::initialized;
        return Status::success;
    });
}

Status finalize(uint64_t id) {
    return with_child(id, [&](Child& child) -> Status {
        Child* c = &child;
        for (Vp* vp : c->vp_table)
            if (vp && vp->running)
                return Status::invalid_partition_state;
        c->phase = ChildPhase::finalized;
        return Status::success;
    });
}

Status remove(uint64_t id) {
    Manager& m = manager();
    Child* c;
    {
        IrqLockGuard g(m.lock);
        c = find(id);
        if (!c)
            return Status::invalid_partition_id;
        if (c->dying)
            return Status::invalid_partition_state;
        c->dying = true;   // no new claims from here on
    }
    if (!detail_retire_vps(*c)) {
        IrqLockGuard g(m.lock);
        c->dying = false;
        return Status::invalid_partition_state;   // a VP is being dispatched
    }
    synic::forget_partition(id);   // no message or event reaches it any more
    {
        IrqLockGuard g(m.lock);
        release_all(*c);
        detail_free_hw(*c);
        m.slots[c->slot] = nullptr;
        m.live--;
    }
    // The root's map gained pages back and the child's map is gone: nothing can use stale
    // translations of either after this.
    flush_partition(*m.root);
    c->~Child();
    mem::free(c);
    return Status::success;
}

namespace {
constexpr uint32_t prop_privilege_flags = 0x00010000, prop_processor_vendor = 0x00060000,
                   prop_physical_address_width = 0x00060006;
// Our extension: property codes in a range the TLFS does not use, readable on the root's own
// partition ID: pages of the root's RAM held by the root, mapped into children, deposited for
// children; and the number of children.
constexpr uint32_t prop_ledger_root = 0x00ff0001, prop_ledger_mapped = 0x00ff0002,
                   prop_ledger_deposited = 0x00ff0003, prop_ledger_partitions = 0x00ff0004;
// What a child may hold: never CreatePartitions, CpuManagement or the debugging privileges.
constexpr uint64_t child_privilege_limit =
    tlfs::privilege::vp_runtime_msr | tlfs::privilege::time_ref_count_msr | tlfs::privilege::synic_msrs |
    tlfs::privilege::synthetic_timer_msrs | tlfs::privilege::apic_msrs | tlfs::privilege::hypercall_msrs |
    tlfs::privilege::vp_index_msr | tlfs::privilege::partition_reference_tsc | tlfs::privilege::frequency_msrs |
    tlfs::privilege::access_partition_id | tlfs::privilege::post_messages | tlfs::privilege::signal_events;
} // namespace

Status get_property(uint64_t id, uint32_t code, uint64_t& value) {
    Manager& m = manager();
    if (m.root && (id == m.root->id || id == ~0ull) && code >= prop_ledger_root && code <= prop_ledger_partitions) {
        // Our extension (docs/child-partitions.md): the page ledger, read on the root itself.
        Accounting a = accounting();
        value = code == prop_ledger_root     ? a.root
              : code == prop_ledger_mapped   ? a.mapped
              : code == prop_ledger_deposited ? a.deposited
                                              : a.partitions;
        return Status::success;
    }
    IrqLockGuard g(m.lock);
    Child* c = find(id);
    if (!c)
        return Status::invalid_partition_id;
    switch (code) {
    case prop_privilege_flags:
        // Before InitializePartition the CPUID policy is not built yet: what it will hold.
        value = c->phase != ChildPhase::created ? c->part.cpuid.privileges
              : c->requested_privileges          ? c->requested_privileges
                                                 : kDefaultChildPrivileges;
        return Status::success;
    case prop_processor_vendor:
        value = m.backend == Backend::vmx ? 1 : 0;   // HV_PROCESSOR_VENDOR: AMD 0, Intel 1
        return Status::success;
    case prop_physical_address_width:
        value = x86::cpuid(0x80000008).eax & 0xff;
        return Status::success;
    default:
        return Status::unknown_property;
    }
}

Status set_property(uint64_t id, uint32_t code, uint64_t value) {
    return with_child(id, [&](Child& child) -> Status {
        Child* c = &child;
        switch (code) {
        case prop_privilege_flags:
            if (c->phase != ChildPhase::created)
                return Status::invalid_partition_state;
            if (value & ~child_privilege_limit)
                return Status::property_value_out_of_range;
            c->requested_privileges = value;
            return Status::success;
        case prop_processor_vendor:
        case prop_physical_address_width:
            return Status::invalid_parameter;   // read-only
        default:
            return Status::unknown_property;
        }
    });
}

Status deposit(uint64_t id, const uint64_t* pages, uint32_t count, uint32_t& done) {
    Manager& m = manager();
    done = 0;
    {
        IrqLockGuard g(m.lock);
        Child* c = find(id);
        if (!c)
            return Status::invalid_partition_id;
        for (; done < count; done++) {
            uint64_t f = pages[done];
            if (!m.ledger.transfer(f, partitions::PageLedger::root, partitions::PageLedger::deposited(c->slot)))
                break;
            if (root_unmap_frame(f) != PtError::none) {
                static_cast<void>(m.ledger.transfer(f, partitions::PageLedger::deposited(c->slot),
                                                    partitions::PageLedger::root));
                break;
            }
            push_deposit(*c, PhysAddr(f << page_shift));
            c->deposit_total++;
        }
    }
    if (done)
        flush_partition(*m.root);
    return done == count ? Status::success : Status::invalid_parameter;
}

Status withdraw(uint64_t id, uint64_t* pages, uint32_t max, uint32_t& done) {
    done = 0;
    return with_child(id, [&](Child& child) -> Status {
        Manager& m = manager();
        Child* c = &child;
        PhysAddr p;
        while (done < max && pop_deposit(*c, p)) {
            uint64_t f = p.frame();
            if (root_map_frame(f) != PtError::none) {
                push_deposit(*c, p);
                return Status::insufficient_memory;
            }
            static_cast<void>(m.ledger.transfer(f, partitions::PageLedger::deposited(c->slot), partitions::PageLedger::root));
            c->deposit_total--;
            pages[done++] = f;
        }
        return Status::success;
    });
}

Status map_gpa(uint64_t id, uint64_t target_page, uint32_t flags, const uint64_t* pages, uint32_t count,
               uint32_t& done) {
    done = 0;
    return with_child(id, [&](Child& child) -> Status {
        Manager& m = manager();
        Child* c = &child;
        if (c->phase != ChildPhase::initialized)
            return Status::invalid_partition_state;
        // TLFS map flags: readable 1, writable 2, kernel executable 4, user executable 8.
        PagePerms perms{(flags & 1) != 0, (flags & 2) != 0, (flags & 0xc) != 0};
        if (!perms.read)
            return Status::invalid_parameter;
        for (; done < count; done++) {
            uint64_t f = pages[done], gpa_page = target_page + done;
            if (gpa_page >= (1ull << 36))
                return Status::invalid_parameter;
            if (!m.ledger.transfer(f, partitions::PageLedger::root, partitions::PageLedger::mapped(c->slot)))
                return Status::invalid_parameter;   // not the root's, or already another child's
            PtError e = ept() ? child_map<EptFormat>(*c, gpa_page, f, perms) : child_map<NptFormat>(*c, gpa_page, f, perms);
            if (e != PtError::none) {
                static_cast<void>(m.ledger.transfer(f, partitions::PageLedger::mapped(c->slot), partitions::PageLedger::root));
                return e == PtError::out_of_memory ? Status::insufficient_memory : Status::invalid_parameter;
            }
            c->mapped_pages++;
        }
        return Status::success;
    });
}

Status unmap_gpa(uint64_t id, uint64_t target_page, uint32_t count, uint32_t& done) {
    Manager& m = manager();
    Child* c;
    {
        IrqLockGuard g(m.lock);
        done = 0;
        c = find(id);
        if (!c)
            return Status::invalid_partition_id;
        if (c->phase != ChildPhase::initialized)
            return Status::invalid_partition_state;   // no nested map yet (or any more)
        for (; done < count; done++) {
            uint64_t frame;
            bool ok = ept() ? child_unmap<EptFormat>(*c, target_page + done, frame)
                            : child_unmap<NptFormat>(*c, target_page + done, frame);
            if (!ok)
                break;
            static_cast<void>(m.ledger.transfer(frame, partitions::PageLedger::mapped(c->slot), partitions::PageLedger::root));
            c->mapped_pages--;
        }
    }
    if (done)
        flush_partition(c->part);
    return done == count ? Status::success : Status::invalid_parameter;
}

Status install_intercept(uint64_t id, InterceptKind kind, uint32_t parameter) {
    return with_child(id, [&](Child& child) -> Status {
        Child* c = &child;
        InterceptConfig& ic = c->intercepts;
        switch (kind) {
        case InterceptKind::io_port:
            if (parameter > 0xffff)
                return Status::invalid_parameter;
            ic.io_ports[parameter / 64] |= 1ull << (parameter % 64);
            return Status::success;
        case InterceptKind::msr:
            if (ic.msr_count == kMaxInterceptEntries)
                return Status::insufficient_buffers;
            ic.msrs[ic.msr_count++] = parameter;
            return Status::success;
        case InterceptKind::cpuid:
            if (ic.cpuid_count == kMaxInterceptEntries)
                return Status::insufficient_buffers;
            ic.cpuid_leaves[ic.cpuid_count++] = parameter;
            return Status::success;
        case InterceptKind::exception:
            if (parameter > 31)
                return Status::invalid_parameter;
            ic.exceptions |= 1u << parameter;
            return Status::success;
        }
        return Status::invalid_parameter;
    });
}

Accounting accounting() {
    Manager& m = manager();
    IrqLockGuard g(m.lock);
    Accounting a{0, 0, 0, m.live};
    for (uint64_t f = m.ledger.first_frame(); f < m.ledger.end_frame(); f++) {
        uint8_t o = m.ledger.owner(f);
        if (o == partitions::PageLedger::root)
            a.root++;
        else if (o != partitions::PageLedger::foreign)
            (o & 0x80 ? a.deposited : a.mapped)++;
    }
    return a;
}

void init(Backend backend, Partition& root, uint64_t first_frame, uint64_t end_frame) {
    Manager& m = manager();
    m.backend = backend;
    m.root = &root;
    auto* store = static_cast<uint8_t*>(mem::alloc(partitions::PageLedger::bytes_for(first_frame, end_frame)));
    if (!store) {
        console::log("hv: children: no memory for the page ledger; child partitions are unavailable\n");
        return;
    }
    m.ledger.init(store, first_frame, end_frame);
}

} // namespace hv::virt::children
