// Child partitions' virtual processors (hv/virt/children.hpp): creation in deposited pages,
// start contexts, virtual interrupts, and DispatchVp — a child VP runs on the processor of the
// root VP that dispatched it, until the root is needed.
#include "hv/arch/tsc.hpp"
#include "hv/console.hpp"
#include "hv/lib/new.hpp"
#include "hv/memory/physical.hpp"
#include "hv/percpu.hpp"
#include "hv/smp.hpp"
#include "hv/virt/child_internal.hpp"
#include "hv/virt/child_exit.hpp"
#include "hv/virt/synic.hpp"
#include "hv/virt/vendor.hpp"
#include "hv/virt/vp_runtime.hpp"

namespace hv::virt::children {
using namespace detail;

namespace {

// One deposited page holds a child VP's objects: the Vp, its pending start context, and the
// vendor's Vcpu object. The VMCB/VMCS and the XSAVE area are two more deposited pages.
template <class Vendor> struct VpBlock {
    Vp vp;
    VpContext ctx;
    bool ctx_pending;
    PhysAddr pages[3];   // this block, control page, XSAVE area
    alignas(64) unsigned char vcpu[sizeof(typename Vendor::Vcpu)];
};
static_assert(sizeof(VpBlock<SvmVendor>) <= page_size, "an AMD-V child VP fits one page");
static_assert(sizeof(VpBlock<VmxVendor>) <= page_size, "a VT-x child VP fits one page");

bool ept() { return manager().backend == Backend::vmx; }

template <class Vendor> typename Vendor::Vcpu& vcpu_of(Vp& vp) { return *static_cast<typename Vendor::Vcpu*>(vp.vcpu); }

template <class Vendor> void retire_here(void* arg) { Vendor::retire(vcpu_of<Vendor>(*static_cast<Vp*>(arg))); }

// VT-x binds a VMCS to the processor that last loaded it, and both vendors keep an
// extended-state owner per processor: before a child VP is touched on another processor, its
// last one lets go (SDM vol 3 24.11.1). Never called with the manager lock held.
template <class Vendor> bool bring_here(Vp& vp) {
    uint32_t here = this_cpu().index;
    if (vp.last_cpu != ~0u && vp.last_cpu != here) {
        if (!smp::call_on(vp.last_cpu, retire_here<Vendor>, &vp))
            return false;
    }
    vp.last_cpu = here;
    vp.cpu = here;
    return true;
}

template <class Vendor> void apply_context(Vp& vp, const VpContext& c) {
    auto& cpu = vcpu_of<Vendor>(vp);
    StartState st{StartState::Mode::real_mode_sipi, 0, 0, 0, 0, 0, 0};
    cpu.reset(st);
    start_gprs(vp.gprs, st);
    const Seg segs[] = {Seg::cs, Seg::ds, Seg::es, Seg::fs, Seg::gs, Seg::ss, Seg::tr, Seg::ldtr};
    const Segment* vals[] = {&c.cs, &c.ds, &c.es, &c.fs, &c.gs, &c.ss, &c.tr, &c.ldtr};
    for (int i = 0; i < 8; i++)
        cpu.set_segment(segs[i], *vals[i]);
    cpu.set_gdtr(c.gdtr);
    cpu.set_idtr(c.idtr);
    cpu.write(Reg::efer, c.efer);
    cpu.write(Reg::cr4, c.cr4);
    cpu.write(Reg::cr3, c.cr3);
    cpu.write(Reg::cr0, c.cr0);
    if (c.pat)
        cpu.write(Reg::pat, c.pat);
    cpu.write(Reg::rflags, c.rflags | 2);
    cpu.write(Reg::rip, c.rip);
    cpu.write(Reg::rsp, c.rsp);
    vp.gprs[Gpr::rsp] = c.rsp;
}

template <class Vendor> bool init_hw(Child& c) {
    uint32_t tag = c.slot + 2u;   // 1 is the root's, 2 the benchmark's
    if (tag >= Vendor::tag_count()) {
        console::log("hv: children: no %s tag left for partition %lu\n", Vendor::name, c.part.id);
        return false;
    }
    c.part.hw.tag = static_cast<uint16_t>(tag);
    c.part.hw.virtualize_cr8 = true;
    if (!Vendor::alloc_bitmaps(c.part.hw, c.part.msr_bitmap, c.part.io_bitmap, true))
        return false;
    // Registers a VP switch already saves and restores are the child's to use freely.
    constexpr uint32_t own[] = {0x10 /* TSC read */, 0x174, 0x175, 0x176, 0x277, 0xc0000081, 0xc0000082,
                                0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102};
    for (uint32_t msr : own)
        Vendor::pass_msr(c.part.msr_bitmap, msr);
    Vendor::intercept_msr(c.part.msr_bitmap, 0x10, false, true);   // TSC writes stay ours
    uint64_t privileges = c.requested_privileges ? c.requested_privileges : kDefaultChildPrivileges;
    // x2APIC and TSC-deadline: the hypervisor emulates the child's local APIC (lapic.hpp).
    c.part.cpuid = CpuidPolicy{privileges, tlfs::feature_edx::guest_crash_msrs | tlfs::feature_edx::direct_synthetic_timers, 0,
                               kMaxChildVps, kMaxChildVps, true};
    return true;
}

template <class Vendor> Status create_vp_impl(Child& c, uint32_t index) {
    using Block = VpBlock<Vendor>;
    PhysAddr block_pa, ctl, xsave;
    if (!pop_deposit(c, block_pa))
        return Status::insufficient_memory;
    if (!pop_deposit(c, ctl)) {
        push_deposit(c, block_pa);
        return Status::insufficient_memory;
    }
    if (!pop_deposit(c, xsave)) {
        push_deposit(c, ctl);
        push_deposit(c, block_pa);
        return Status::insufficient_memory;
    }
    auto* b = new (phys_to_virt(block_pa)) Block;
    b->pages[0] = block_pa;
    b->pages[1] = ctl;
    b->pages[2] = xsave;
    b->ctx_pending = false;
    Vp& vp = b->vp;
    vp.partition = &c.part;
    vp.index = index;
    vp.apic_id = index;   // children's APIC ids are their VP indices (the root's MADT says so)
    vp.lapic.id = index;
    vp.state = VpState::stopped;
    vp.halted_in_root = true;   // not started: it waits in the root's scheduler until a SIPI
    vp.vcpu = Vendor::create_vcpu_in(c.part.hw, ctl, xsave, b->vcpu);
    if (!vp.vcpu) {
        push_deposit(c, xsave);
        push_deposit(c, ctl);
        push_deposit(c, block_pa);
        return Status::insufficient_memory;
    }
    vp.last_cpu = this_cpu().index;   // the Vcpu was set up (VMCS loaded) here
    vp.exists = true;
    c.vp_table[index] = &vp;
    return Status::success;
}

template <class Vendor> void free_vp_pages(Child& c, Vp& vp) {
    auto* b = reinterpret_cast<VpBlock<Vendor>*>(&vp);
    PhysAddr pages[3] = {b->pages[0], b->pages[1], b->pages[2]};
    for (PhysAddr p : pages)
        push_deposit(c, p);
}

} // namespace

// Hardware state for a child, made at InitializePartition (called with the lock held).
bool detail_init_hw(Child& c) { return ept() ? init_hw<VmxVendor>(c) : init_hw<SvmVendor>(c); }

Status create_vp(uint64_t id, uint32_t vp_index) {
    Manager& m = manager();
    IrqLockGuard g(m.lock);
    Child* c = find(id);
    if (!c)
        return Status::invalid_partition_id;
    if (c->phase != ChildPhase::initialized || c->dying)
        return Status::invalid_partition_state;
    if (vp_index >= kMaxChildVps)
        return Status::invalid_vp_index;
    if (c->vp_table[vp_index])
        return Status::invalid_vp_state;   // already exists (TLFS: HV_STATUS_INVALID_VP_STATE)
    return ept() ? create_vp_impl<VmxVendor>(*c, vp_index) : create_vp_impl<SvmVendor>(*c, vp_index);
}

Vp* find_vp(uint64_t id, uint32_t vp_index) {
    Manager& m = manager();
    IrqLockGuard g(m.lock);
    Child* c = find(id);
    return c && vp_index < kMaxChildVps ? c->vp_table[vp_index] : nullptr;
}

Partition* find_partition(uint64_t id) {
    Manager& m = manager();
    IrqLockGuard g(m.lock);
    if (m.root && m.root->id == id)
        return m.root;
    Child* c = find(id);
    return c && !c->dying ? &c->part : nullptr;
}

namespace {

// Claims a VP for exclusive use by the caller (dispatch, register access, deletion).
Status claim(uint64_t id, uint32_t index, Child*& c, Vp*& vp) {
    Manager& m = manager();
    IrqLockGuard g(m.lock);
    c = find(id);
    if (!c)
        return Status::invalid_partition_id;
    if (index >= kMaxChildVps || !c->vp_table[index])
        return Status::invalid_vp_index;
    vp = c->vp_table[index];
    if (vp->running)
        return Status::invalid_vp_state;
    if (c->dying || c->phase != ChildPhase::initialized)
        return Status::invalid_partition_state;
    vp->running = true;
    return Status::success;
}

void unclaim(Vp& vp) { __atomic_store_n(&vp.running, false, __ATOMIC_RELEASE); }

template <class Vendor> Status delete_vp_impl(Child& c, Vp& vp) {
    if (!bring_here<Vendor>(vp))
        return Status::invalid_vp_state;
    Vendor::retire(vcpu_of<Vendor>(vp));
    timers_forget(vp);
    // Out of the table under the SynIC lock first (lock order: SynIC, then the manager's), so no
    // message or event delivery still holds a pointer to it when its pages are reused.
    struct Ctx {
        Child* c;
        uint32_t index;
    } ctx{&c, vp.index};
    synic::exclusive(
        [](void* p) {
            auto& x = *static_cast<Ctx*>(p);
            IrqLockGuard g(manager().lock);
            x.c->vp_table[x.index] = nullptr;
        },
        &ctx);
    IrqLockGuard g(manager().lock);
    free_vp_pages<Vendor>(c, vp);
    return Status::success;
}

} // namespace

Status delete_vp(uint64_t id, uint32_t vp_index) {
    Child* c;
    Vp* vp;
    if (Status s = claim(id, vp_index, c, vp); s != Status::success)
        return s;
    return ept() ? delete_vp_impl<VmxVendor>(*c, *vp) : delete_vp_impl<SvmVendor>(*c, *vp);
}

Status start_vp(uint64_t id, uint32_t vp_index, const VpContext& ctx) {
    Child* c;
    Vp* vp;
    if (Status s = claim(id, vp_index, c, vp); s != Status::success)
        return s;
    Status result = Status::success;
    if (vp->state != VpState::stopped) {
        result = Status::invalid_vp_state;   // StartVp starts a VP once (TLFS 7.x)
    } else if (ept() ? !bring_here<VmxVendor>(*vp) : !bring_here<SvmVendor>(*vp)) {
        result = Status::invalid_vp_state;
    } else {
        if (ept())
            apply_context<VmxVendor>(*vp, ctx);
        else
            apply_context<SvmVendor>(*vp, ctx);
        __atomic_store_n(&vp->state, VpState::runnable, __ATOMIC_RELEASE);
    }
    unclaim(*vp);
    return result;
}

Status with_vp(uint64_t id, uint32_t vp_index, void (*fn)(void*, Vp&), void* ctx) {
    Child* c;
    Vp* vp;
    if (Status s = claim(id, vp_index, c, vp); s != Status::success)
        return s;
    bool here = ept() ? bring_here<VmxVendor>(*vp) : bring_here<SvmVendor>(*vp);
    if (here)
        fn(ctx, *vp);
    unclaim(*vp);
    return here ? Status::success : Status::invalid_vp_state;
}

Status assert_interrupt(uint64_t id, InterruptType type, uint32_t apic_id, uint8_t vector, bool from_hypervisor) {
    Manager& m = manager();
    Vp* target = nullptr;
    {
        IrqLockGuard g(m.lock);
        Child* c = find(id);
        if (!c)
            return Status::invalid_partition_id;
        if (apic_id < kMaxChildVps)
            target = c->vp_table[apic_id];
        if (!target)
            return Status::invalid_vp_index;
        switch (type) {
        case InterruptType::fixed:
            if (vector < 16)
                return Status::invalid_parameter;
            raise_soft(*target, vector);
            break;
        case InterruptType::nmi:
            target->nmi_pending = true;
            break;
        case InterruptType::init:
            if (target->state == VpState::running || target->state == VpState::runnable)
                return Status::invalid_vp_state;   // resetting a running VP: not offered
            child_apic_reset(*target);
            target->state = VpState::wait_for_sipi;
            break;
        case InterruptType::sipi:
            if (target->state != VpState::wait_for_sipi)
                return Status::success;   // ignored, as a processor ignores a second SIPI
            target->start = StartState{StartState::Mode::real_mode_sipi, vector, 0, 0, 0, 0, 0};
            target->start_pending = true;
            target->state = VpState::runnable;
            break;
        }
    }
    if (__atomic_load_n(&target->running, __ATOMIC_ACQUIRE))
        kick(*target);   // make it take the event now, not at its next exit
    if (from_hypervisor)
        synic::scheduler_signal(*target);   // does nothing unless it waits halted in the root
    return Status::success;
}

namespace {

// Whether `vp` may block now: the flag that lets senders wake it through the root's scheduler
// goes up first, then what is pending is looked at again, so an interrupt raised in between
// either is seen here or signals the root (synic::scheduler_signal).
bool may_block(Vp& vp, bool interruptible) {
    __atomic_store_n(&vp.halted_in_root, true, __ATOMIC_SEQ_CST);
    VpState s = __atomic_load_n(&vp.state, __ATOMIC_SEQ_CST);
    bool waits_for_start = s == VpState::stopped || s == VpState::wait_for_sipi;
    if (waits_for_start || !(vp.nmi_pending || (irq_deliverable(vp) && interruptible)))
        return true;
    __atomic_store_n(&vp.halted_in_root, false, __ATOMIC_SEQ_CST);
    return false;
}

// `root_takes_interrupts`: the root called with RFLAGS.IF set, so an interrupt for it is worth
// returning for (one it cannot take yet would only turn every child exit into a return).
// `slice_end`: the TSC at which the root gets its processor back at the next exit.
template <class Vendor>
Status dispatch_loop(Vp& root_vp, Vp& vp, DispatchReport& out, bool root_takes_interrupts, uint64_t slice_end) {
    auto& cpu = vcpu_of<Vendor>(vp);
    for (;;) {
        VpState s = __atomic_load_n(&vp.state, __ATOMIC_ACQUIRE);
        if ((s == VpState::stopped || s == VpState::wait_for_sipi) && may_block(vp, false)) {
            out.reason = DispatchReport::Reason::halted;
            return Status::success;
        }
        if (vp.start_pending) {
            vp.start_pending = false;
            cpu.reset(vp.start);
            start_gprs(vp.gprs, vp.start);
        }
        __atomic_store_n(&vp.state, VpState::running, __ATOMIC_RELEASE);
        if (__atomic_exchange_n(&vp.flush_nested, false, __ATOMIC_ACQ_REL))
            Vendor::flush_nested(cpu);
        prepare_events(vp, cpu);
        if constexpr (requires { cpu.set_virtual_tpr(uint8_t{0}); })
            cpu.set_virtual_tpr(static_cast<uint8_t>(vp.lapic.tpr >> 4));
        this_cpu().doing = "running a child VP";
        Intercept x = cpu.run(vp.gprs);
        this_cpu().doing = "handling a child VP's exit";
        this_cpu().exits = this_cpu().exits + 1;
        vp.last_exits = (vp.last_exits << 8) | static_cast<uint8_t>(x.kind);
        vp.exits[static_cast<int>(x.kind)]++;
        if constexpr (requires { cpu.virtual_tpr(); })
            if (cpu.virtual_tpr() != (vp.lapic.tpr >> 4))
                vp.lapic.tpr = uint32_t{cpu.virtual_tpr()} << 4;   // MOV CR8 (APM 15.21.1)
        if (child_exit<Vendor>(root_vp, vp, cpu, x, out)) {
            if (out.reason != DispatchReport::Reason::halted || may_block(vp, cpu.interruptible()))
                return Status::success;
            out = DispatchReport{};   // something arrived as it halted: run on
        } else if (root_vp.nmi_pending || (root_takes_interrupts && irq_deliverable(root_vp))) {
            // The exit gave the root something to take (the child signalled or posted to it):
            // the root runs now, not at its next timer tick.
            report(vp, cpu, x, out, DispatchReport::Reason::interrupted);
            return Status::success;
        } else if (!tsc::before(slice_end)) {
            // The slice the root gave is over. Its own interrupts normally end a slice sooner;
            // this bound holds when they do not, so a child that keeps exiting into the
            // hypervisor (a spin on a synthetic MSR) cannot keep the root from its processor.
            report(vp, cpu, x, out, DispatchReport::Reason::interrupted);
            return Status::success;
        }
    }
}

template <class Vendor> Status dispatch_impl(Vp& root_vp, Vp& vp, uint64_t time_slice, DispatchReport& out) {
    // The root's state is the loaded one until bring_here switches to the child's.
    bool root_if = vcpu_of<Vendor>(root_vp).read(Reg::rflags) & (1u << 9);
    if (!bring_here<Vendor>(vp))
        return Status::invalid_vp_state;
    __atomic_store_n(&vp.halted_in_root, false, __ATOMIC_SEQ_CST);
    __atomic_store_n(&vp.cpu, this_cpu().index, __ATOMIC_RELEASE);   // where kick() finds it
    timers_enter(vp);
    // 100 ns units to microseconds, at most 10 s (a root may ask for less, never for no end).
    const uint64_t slice_us = time_slice == 0 || time_slice / 10 > 10'000'000 ? 10'000'000 : time_slice / 10;
    Status s = dispatch_loop<Vendor>(root_vp, vp, out, root_if, tsc::deadline_us(slice_us));
    timers_leave(vp, out.reason == DispatchReport::Reason::halted);
    return s;
}

} // namespace

Status dispatch(Vp& root_vp, uint64_t id, uint32_t vp_index, uint64_t time_slice, DispatchReport& out) {
    Child* c;
    Vp* vp;
    if (Status s = claim(id, vp_index, c, vp); s != Status::success)
        return s;
    out = DispatchReport{};
    Status s = ept() ? dispatch_impl<VmxVendor>(root_vp, *vp, time_slice, out)
                     : dispatch_impl<SvmVendor>(root_vp, *vp, time_slice, out);
    unclaim(*vp);
    return s;
}

namespace {

template <class Vendor> void retire_all(Child& c) {
    for (Vp* vp : c.vp_table)
        if (vp) {
            timers_forget(*vp);
            if (bring_here<Vendor>(*vp))
                Vendor::retire(vcpu_of<Vendor>(*vp));
        }
}

} // namespace

// Deleting a partition (hv/virt/children.cpp finishes it under the lock): every VP lets go of
// its processor first, without the lock (cross-processor calls must never wait on it).
bool detail_retire_vps(Child& c) {
    for (Vp* vp : c.vp_table)
        if (vp && __atomic_load_n(&vp->running, __ATOMIC_ACQUIRE))
            return false;
    if (ept())
        retire_all<VmxVendor>(c);
    else
        retire_all<SvmVendor>(c);
    return true;
}

void detail_free_hw(Child& c) {
    if (c.part.msr_bitmap) {
        if (ept())
            VmxVendor::free_bitmaps(c.part.hw);
        else
            SvmVendor::free_bitmaps(c.part.hw);
    }
}

} // namespace hv::virt::children
