// Where a VMCALL/VMMCALL exit enters the hypercall interface (TLFS 3). What comes before any
// decoding lives here: #UD for a call from CPL > 0, from real mode, or before the guest OS ID
// is set (the interface is not enabled, TLFS 3.13); the register convention of a 64-bit or a
// 32-bit caller (TLFS 3.7); and applying the outcome (result in RAX, or a preempted rep call
// left on its instruction with the start index advanced, TLFS 3.9). Decoding, checks and the
// dispatch table are the pure hypercalls/dispatch.hpp over VpPlatform below.
#pragma once
#include "hv/arch/x86.hpp"
#include "hv/smp.hpp"
#include "hv/virt/child_message.hpp"
#include "hv/virt/children.hpp"
#include "hv/virt/guest_memory.hpp"
#include "hv/virt/synic.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "hypercalls/dispatch.hpp"
#include "hypercalls/tlb.hpp"
#include "hypercalls/vp_registers.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {

namespace hypercall_detail {
template <class V> void flush_on_its_processor(void* arg) {
    Vp& t = *static_cast<Vp*>(arg);
    hypercalls::flush_guest_tlb(*static_cast<V*>(t.vcpu), t.partition->hw.tag);
}

inline uint64_t physical_address_width_end() {
    uint32_t bits = x86::cpuid(0x80000008, 0).eax & 0xff;   // MAXPHYADDR (SDM vol 2 CPUID)
    return 1ull << (bits ? bits : 36);
}
} // namespace hypercall_detail

// The caller's view of the machine for hypercalls/dispatch.hpp: its partition's memory through
// the nested map, its own Vcpu, its sibling VPs. Nothing here reaches another partition.
template <class V> class VpPlatform {
public:
    VpPlatform(Vp& vp, V& cpu) : vp_(vp), cpu_(cpu), p_(*vp.partition) {}

    [[nodiscard]] uint64_t privileges() const { return p_.cpuid.privileges; }
    [[nodiscard]] uint64_t partition_id() const { return p_.id; }
    [[nodiscard]] uint32_t vp_index() const { return vp_.index; }
    [[nodiscard]] uint32_t vp_count() const {
        uint32_t n = p_.vp_span();
        return n < hypercalls::max_vps ? n : hypercalls::max_vps;
    }
    [[nodiscard]] bool gpa_in_space(uint64_t gpa) const { return gpa < hypercall_detail::physical_address_width_end(); }
    [[nodiscard]] bool accessible(uint64_t gpa, uint32_t n, bool write) const {
        PhysAddr h;
        for (uint64_t a = gpa & ~0xfffull; a < gpa + n; a += page_size)
            if (!gpa_to_hpa(p_, GuestPhysAddr(a), write, h))
                return false;
        return true;
    }
    [[nodiscard]] bool read(uint64_t gpa, void* dst, uint32_t n) { return read_guest(p_, GuestPhysAddr(gpa), dst, n); }
    [[nodiscard]] bool write(uint64_t gpa, const void* src, uint32_t n) {
        return write_guest(p_, GuestPhysAddr(gpa), src, n);
    }
    [[nodiscard]] tlfs::Status get_register(uint32_t name, tlfs::RegisterValue& v) {
        return hypercalls::get_register(vp_, cpu_, name, v);
    }
    [[nodiscard]] tlfs::Status set_register(uint32_t name, const tlfs::RegisterValue& v) {
        return hypercalls::set_register(vp_, cpu_, name, v, rip_written_);
    }
    // On the target's own processor (INVVPID acts locally); the call also forces that VP out
    // of the guest, so its next entry cannot use a stale translation.
    void flush_vp(uint32_t i) {
        Vp* tp = p_.vp_at(i);
        if (!tp)
            return;   // no VP at that index
        Vp& t = *tp;
        if (p_.child) {
            // A child VP runs wherever the root dispatches it: it flushes before its next entry,
            // and one inside its guest now is made to exit first.
            __atomic_store_n(&t.flush_nested, true, __ATOMIC_RELEASE);
            if (&t != &vp_ && __atomic_load_n(&t.running, __ATOMIC_ACQUIRE))
                kick(t);
            return;
        }
        if (!smp::call_on(t.cpu, hypercall_detail::flush_on_its_processor<V>, &t))
            hypercalls::flush_guest_tlb(*static_cast<V*>(t.vcpu), p_.hw.tag);   // it is not running
    }
    // A fixed interrupt for the target, injected at its next entry; vectors the hypervisor owns
    // physically are fine here, since this one never touches the physical APIC.
    void send_ipi(uint32_t i, uint8_t vector) {
        Vp* tp = p_.vp_at(i);
        if (!tp)
            return;
        Vp& t = *tp;
        __atomic_fetch_or(&t.pending_irq[vector / 64], 1ull << (vector % 64), __ATOMIC_RELEASE);
        kick(t);
    }
    [[nodiscard]] bool rip_written() const { return rip_written_; }

    // The SynIC (hv/virt/synic.hpp): the caller's connections.
    static constexpr bool has_synic = true;
    [[nodiscard]] tlfs::Status synic_post(uint32_t conn, uint32_t type, const void* payload, uint32_t size) {
        return synic::post_message(p_, conn, type, payload, size);
    }
    [[nodiscard]] tlfs::Status synic_signal(uint32_t conn, uint16_t flag) { return synic::signal_event(p_, conn, flag); }
    [[nodiscard]] tlfs::Status pm_create_port(const tlfs::root::CreatePortInput& in) { return synic::create_port(p_, in); }
    [[nodiscard]] tlfs::Status pm_connect_port(const tlfs::root::ConnectPortInput& in) {
        return synic::connect_port(p_, in);
    }
    [[nodiscard]] tlfs::Status pm_delete_port(uint64_t id, uint32_t port) { return synic::delete_port(p_, id, port); }
    [[nodiscard]] tlfs::Status pm_disconnect_port(uint64_t id, uint32_t conn) {
        return synic::disconnect_port(p_, id, conn);
    }

    // The root's partition manager (hypercalls/handlers_partition.hpp -> hv/virt/children.hpp).
    static constexpr bool has_partition_manager = true;
    [[nodiscard]] tlfs::Status pm_create(uint64_t flags, uint64_t& id) { return children::create(p_, flags, id); }
    [[nodiscard]] tlfs::Status pm_step(int which, uint64_t id) {
        return which == 0 ? children::initialize(id) : which == 1 ? children::finalize(id) : children::remove(id);
    }
    [[nodiscard]] tlfs::Status pm_property(bool set, uint64_t id, uint32_t code, uint64_t& value) {
        return set ? children::set_property(id, code, value) : children::get_property(id, code, value);
    }
    [[nodiscard]] tlfs::Status pm_deposit(uint64_t id, const uint64_t* pages, uint32_t n, uint32_t& done) {
        return children::deposit(id, pages, n, done);
    }
    [[nodiscard]] tlfs::Status pm_withdraw(uint64_t id, uint64_t* pages, uint32_t max, uint32_t& done) {
        return children::withdraw(id, pages, max, done);
    }
    [[nodiscard]] tlfs::Status pm_map(uint64_t id, uint64_t target, uint32_t flags, const uint64_t* pages, uint32_t n,
                                      uint32_t& done) {
        return children::map_gpa(id, target, flags, pages, n, done);
    }
    [[nodiscard]] tlfs::Status pm_unmap(uint64_t id, uint64_t target, uint32_t n, uint32_t& done) {
        return children::unmap_gpa(id, target, n, done);
    }
    [[nodiscard]] tlfs::Status pm_install_intercept(uint64_t id, uint32_t type, uint32_t access, uint64_t param) {
        using K = children::InterceptKind;
        if (access == 0 || (access & ~7u))
            return tlfs::Status::invalid_parameter;
        switch (type) {
        case 0x00:   // x64 I/O port
            return param > 0xffff ? tlfs::Status::invalid_parameter
                                  : children::install_intercept(id, K::io_port, static_cast<uint32_t>(param));
        case 0x11: { // x64 I/O port range: first in 15:0, last in 31:16
            uint32_t first = param & 0xffff, last = (param >> 16) & 0xffff;
            if (last < first || (param >> 32))
                return tlfs::Status::invalid_parameter;
            for (uint32_t port = first; port <= last; port++)
                if (tlfs::Status st = children::install_intercept(id, K::io_port, port); st != tlfs::Status::success)
                    return st;
            return tlfs::Status::success;
        }
        case 0x01:   // x64 MSR: every MSR the hypervisor does not handle itself already goes to the root
        case 0x0c:   // x64 MSR index
            return children::install_intercept(id, K::msr, static_cast<uint32_t>(param));
        case 0x02:   // x64 CPUID leaf
            return children::install_intercept(id, K::cpuid, static_cast<uint32_t>(param));
        case 0x03:   // exception vector
            return children::install_intercept(id, K::exception, static_cast<uint32_t>(param));
        default:
            return tlfs::Status::invalid_parameter;   // intercept types not offered
        }
    }
    [[nodiscard]] tlfs::Status pm_vp_step(bool create, uint64_t id, uint32_t vpi) {
        return create ? children::create_vp(id, vpi) : children::delete_vp(id, vpi);
    }
    [[nodiscard]] tlfs::Status pm_start_vp(uint64_t id, uint32_t vpi, const tlfs::root::InitialVpContext& c) {
        auto seg = [](const tlfs::root::SegmentRegister& r) {
            // The TLFS attribute word has the VMX layout; ours is AMD's packed form.
            return Segment{r.selector, static_cast<uint16_t>((r.attributes & 0xff) | ((r.attributes >> 4) & 0xf00)),
                           r.limit, r.base};
        };
        children::VpContext v{c.rip, c.rsp, c.rflags, seg(c.cs), seg(c.ds), seg(c.es), seg(c.fs), seg(c.gs),
                              seg(c.ss), seg(c.tr), seg(c.ldtr), {c.idtr.base, c.idtr.limit},
                              {c.gdtr.base, c.gdtr.limit}, c.efer, c.cr0, c.cr3, c.cr4, c.msr_cr_pat};
        return children::start_vp(id, vpi, v);
    }
    [[nodiscard]] tlfs::Status pm_assert(uint64_t id, uint32_t type, uint64_t dest, uint8_t vector) {
        using T = children::InterruptType;
        if (dest > 0xffffffffu)
            return tlfs::Status::invalid_parameter;
        T t;
        switch (type) {
        case 0: case 1: t = T::fixed; break;   // lowest priority: one target, as fixed
        case 4: t = T::nmi; break;
        case 5: t = T::init; break;
        case 6: t = T::sipi; break;
        default: return tlfs::Status::invalid_parameter;
        }
        return children::assert_interrupt(id, t, static_cast<uint32_t>(dest), vector);
    }
    template <class C> [[nodiscard]] tlfs::Status pm_dispatch(C& c, uint64_t id, uint32_t vpi, uint64_t time_slice) {
        DispatchReport r;
        if (tlfs::Status st = children::dispatch(vp_, id, vpi, time_slice, r); st != tlfs::Status::success)
            return st;
        Vp* child = children::find_vp(id, vpi);
        if (!child)
            return tlfs::Status::invalid_vp_index;   // deleted meanwhile by another root VP
        DispatchOutput out;
        build_dispatch_output(*child, r, out);
        return c.out(0, &out, sizeof out) ? tlfs::Status::success : tlfs::Status::access_denied;
    }
    // Get/SetVpRegisters on a child's VP: the loop runs with the child VP claimed and loaded here.
    template <class C> [[nodiscard]] tlfs::Status pm_vp_registers(C& c, uint64_t id, uint32_t vpi, bool set) {
        struct Ctx {
            C* c;
            bool set;
            tlfs::Status st;
        } ctx{&c, set, tlfs::Status::success};
        auto body = [](void* p, Vp& vp) {
            auto& x = *static_cast<Ctx*>(p);
            auto& cpu = *static_cast<V*>(vp.vcpu);
            bool rip_written = false;
            for (; x.c->next < x.c->limit; x.c->next++) {
                if (x.set) {
                    tlfs::RegisterAssoc a;
                    if (!x.c->in(x.c->rep_in(x.c->next), &a, sizeof a) || a.reserved1 || a.reserved2) {
                        x.st = tlfs::Status::invalid_parameter;
                        return;
                    }
                    if ((x.st = hypercalls::set_register(vp, cpu, a.name, a.value, rip_written)) != tlfs::Status::success)
                        return;
                } else {
                    uint32_t name;
                    tlfs::RegisterValue v{};
                    if (!x.c->in(x.c->rep_in(x.c->next), &name, sizeof name)) {
                        x.st = tlfs::Status::access_denied;
                        return;
                    }
                    if ((x.st = hypercalls::get_register(vp, cpu, name, v)) != tlfs::Status::success)
                        return;
                    if (!x.c->out(x.c->rep_out(x.c->next), &v, sizeof v)) {
                        x.st = tlfs::Status::access_denied;
                        return;
                    }
                }
            }
        };
        tlfs::Status st = children::with_vp(id, vpi, body, &ctx);
        return st == tlfs::Status::success ? ctx.st : st;
    }

private:
    Vp& vp_;
    V& cpu_;
    Partition& p_;
    bool rip_written_ = false;
};
static_assert(hypercalls::Platform<VpPlatform<svm::Vcpu>> && hypercalls::Platform<VpPlatform<vmx::Vcpu>>);

template <class V> [[gnu::always_inline]] inline void handle_hypercall(Vp& vp, V& cpu, const Intercept& x) {
    // The caller's mode comes with the exit (Intercept::caller): no register reads here.
    bool enabled = __atomic_load_n(&vp.partition->hypercall.guest_os_id, __ATOMIC_ACQUIRE) != 0;
    if (!x.caller.protected_mode || x.caller.cpl != 0 || !enabled) {
        cpu.inject(Event{Event::Type::exception, 6, false, 0, 0});
        return;
    }
    // 64-bit callers (EFER.LMA and CS.L) use RCX, RDX, R8; 32-bit ones EDX:EAX, EBX:ECX, EDI:ESI.
    GuestGprs& g = vp.gprs;
    bool wide = x.caller.long64;
    auto pair = [&](Gpr hi, Gpr lo) { return (g[hi] << 32) | static_cast<uint32_t>(g[lo]); };
    hypercalls::Input in = wide ? hypercalls::Input{g[Gpr::rcx], g[Gpr::rdx], g[Gpr::r8]}
                                : hypercalls::Input{pair(Gpr::rdx, Gpr::rax), pair(Gpr::rbx, Gpr::rcx),
                                                    pair(Gpr::rdi, Gpr::rsi)};
    VpPlatform<V> pf(vp, cpu);
    hypercalls::Outcome o = hypercalls::execute(pf, in);
    if (o.action == hypercalls::Outcome::Action::resume) {
        // Re-executed with the new start index; interrupts are taken in between (TLFS 3.9).
        if (wide) {
            g[Gpr::rcx] = o.control;
        } else {
            g[Gpr::rdx] = o.control >> 32;
            g[Gpr::rax] = static_cast<uint32_t>(o.control);
        }
        return;
    }
    if (wide) {
        g[Gpr::rax] = o.rax;
    } else {
        g[Gpr::rdx] = o.rax >> 32;
        g[Gpr::rax] = static_cast<uint32_t>(o.rax);
    }
    if (!pf.rip_written())
        cpu.advance_rip(x.instruction_length ? x.instruction_length : 3);
}

} // namespace hv::virt
