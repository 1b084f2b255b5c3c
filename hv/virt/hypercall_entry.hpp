// Where a VMCALL/VMMCALL exit enters the hypercall interface (TLFS 3). What comes before any
// decoding lives here: #UD for a call from CPL > 0, from real mode, or before the guest OS ID
// is set (the interface is not enabled, TLFS 3.13); the register convention of a 64-bit or a
// 32-bit caller (TLFS 3.7); and applying the outcome (result in RAX, or a preempted rep call
// left on its instruction with the start index advanced, TLFS 3.9). Decoding, checks and the
// dispatch table are the pure hypercalls/dispatch.hpp over VpPlatform below.
#pragma once
#include "hv/arch/x86.hpp"
#include "hv/smp.hpp"
#include "hv/virt/guest_memory.hpp"
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
    [[nodiscard]] uint32_t vp_count() const { return p_.vp_count < hypercalls::max_vps ? p_.vp_count : hypercalls::max_vps; }
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
        Vp& t = p_.vps[i];
        if (!smp::call_on(t.cpu, hypercall_detail::flush_on_its_processor<V>, &t))
            hypercalls::flush_guest_tlb(*static_cast<V*>(t.vcpu), p_.hw.tag);   // it is not running
    }
    // A fixed interrupt for the target, injected at its next entry; vectors the hypervisor owns
    // physically are fine here, since this one never touches the physical APIC.
    void send_ipi(uint32_t i, uint8_t vector) {
        Vp& t = p_.vps[i];
        __atomic_fetch_or(&t.pending_irq[vector / 64], 1ull << (vector % 64), __ATOMIC_RELEASE);
        kick(t);
    }
    [[nodiscard]] bool rip_written() const { return rip_written_; }

private:
    Vp& vp_;
    V& cpu_;
    Partition& p_;
    bool rip_written_ = false;
};
static_assert(hypercalls::Platform<VpPlatform<svm::Vcpu>> && hypercalls::Platform<VpPlatform<vmx::Vcpu>>);

template <class V> void handle_hypercall(Vp& vp, V& cpu, const Intercept& x) {
    bool protected_mode = cpu.read(Reg::cr0) & 1;
    unsigned cpl = (cpu.segment(Seg::ss).attr >> 5) & 3;   // SS.DPL is the CPL (SDM vol 3 5.5)
    bool enabled = __atomic_load_n(&vp.partition->hypercall.guest_os_id, __ATOMIC_ACQUIRE) != 0;
    if (!protected_mode || cpl != 0 || !enabled) {
        cpu.inject(Event{Event::Type::exception, 6, false, 0, 0});
        return;
    }
    // 64-bit callers (EFER.LMA and CS.L) use RCX, RDX, R8; 32-bit ones EDX:EAX, EBX:ECX, EDI:ESI.
    GuestGprs& g = vp.gprs;
    bool wide = (cpu.read(Reg::efer) & (1u << 10)) && (cpu.segment(Seg::cs).attr & (1u << 9));
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
