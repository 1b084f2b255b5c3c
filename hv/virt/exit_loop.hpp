// The exit loop, written once over the CPU interface and instantiated per vendor
// (docs/architecture.md, "The exit loop"). The vendor layer has already decoded the exit; this
// gives it meaning: policy, emulation, injection. A guest's misbehaviour ends in an injected
// fault or a log line, never a hypervisor panic.
#pragma once
#include "hv/arch/apic.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/panic.hpp"
#include "hv/percpu.hpp"
#include "hv/smp.hpp"
#include "hv/virt/cpuid_policy.hpp"
#include "hv/virt/hypercall_entry.hpp"
#include "hv/virt/policy.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "hv/virt/vendor.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {

inline constexpr uint8_t vector_ud = 6, vector_gp = 13;

template <class V> void inject_exception(V& cpu, uint8_t vector, bool has_error = false, uint32_t error = 0) {
    cpu.inject(Event{Event::Type::exception, vector, has_error, error, 0});
}

// Known lengths of the fixed-form instructions, for AMD-V without NRIP-save (APM 15.7.1).
inline uint8_t length_or(const Intercept& x, uint8_t fixed) { return x.instruction_length ? x.instruction_length : fixed; }

template <class V> void set_edx_eax(V&, Vp& vp, uint64_t v) {
    vp.gprs[Gpr::rax] = static_cast<uint32_t>(v);
    vp.gprs[Gpr::rdx] = v >> 32;
}

template <class V> void handle_cpuid(Vp& vp, V& cpu, const Intercept& x) {
    auto leaf = static_cast<uint32_t>(vp.gprs[Gpr::rax]), sub = static_cast<uint32_t>(vp.gprs[Gpr::rcx]);
    x86::CpuidResult h = x86::cpuid(leaf, sub);
    VcpuCpuidContext ctx{(cpu.read(Reg::cr4) & (1u << 18)) != 0, vp.apic_id};
    CpuidRegs r = apply_cpuid_policy(leaf, sub, {h.eax, h.ebx, h.ecx, h.edx}, vp.partition->cpuid, ctx);
    vp.gprs[Gpr::rax] = r.eax;
    vp.gprs[Gpr::rbx] = r.ebx;
    vp.gprs[Gpr::rcx] = r.ecx;
    vp.gprs[Gpr::rdx] = r.edx;
    cpu.advance_rip(length_or(x, 2));
}

// EFER lives in the VMCS/VMCB, so it is handled here rather than in the vendor-free policy.
// Writable: SCE, LME, NXE (and LMA, which the processor computes); SVME stays hidden.
template <class V> Outcome efer_access(V& cpu, bool write, uint64_t value) {
    constexpr uint64_t sce = 1, lme = 1u << 8, lma = 1u << 10, nxe = 1u << 11;
    if (!write)
        return {false, cpu.read(Reg::efer)};
    uint64_t old = cpu.read(Reg::efer);
    if (value & ~(sce | lme | lma | nxe))
        return {true, 0};
    if (((value ^ old) & lme) && (cpu.read(Reg::cr0) & (1ull << 31)))
        return {true, 0};   // LME may not change while paging is on (SDM vol 3 9.8.5)
    cpu.write(Reg::efer, (value & ~lma) | (old & lma));
    return {false, 0};
}

// AMD-V: the root's MOV CR8 changes V_TPR without an exit; the physical TPR (which the root's
// x2APIC TPR register is, and which gates its physical interrupts) follows at the next exit.
template <class V> [[gnu::always_inline]] inline void sync_cr8(Vp& vp, V& cpu) {
    if constexpr (requires { cpu.virtual_tpr(); }) {
        uint8_t c = cpu.virtual_tpr();
        if (c != vp.cr8) [[unlikely]] {
            vp.cr8 = c;
            apic::write_reg(0x80, uint32_t{c} << 4);
        }
    }
}

template <class V> void handle_msr(Vp& vp, V& cpu, const Intercept& x, bool write) {
    auto msr = static_cast<uint32_t>(vp.gprs[Gpr::rcx]);
    uint64_t value = (vp.gprs[Gpr::rdx] << 32) | static_cast<uint32_t>(vp.gprs[Gpr::rax]);
    Outcome o = msr == 0xc0000080 ? efer_access(cpu, write, value)
              : write            ? msr_write(vp, msr, value)
                                 : msr_read(vp, msr);
    if (o.gp) {
        inject_exception(cpu, vector_gp, true, 0);
        return;
    }
    if (!write)
        set_edx_eax(cpu, vp, o.value);
    if constexpr (requires { cpu.set_virtual_tpr(uint8_t{0}); })
        if (write && (msr == 0x808 || msr == tlfs::msr::tpr) && vp.partition->kind == PartitionKind::root) {
            vp.cr8 = static_cast<uint8_t>((value >> 4) & 0xf);   // and CR8 reads what the TPR says
            cpu.set_virtual_tpr(vp.cr8);
        }
    cpu.advance_rip(length_or(x, 2));
}

template <class V> void handle_io(Vp& vp, V& cpu, const Intercept& x) {
    const IoAccess& io = x.io;
    uint32_t mask = io.size == 1 ? 0xff : io.size == 2 ? 0xffff : 0xffffffffu;
    Outcome o = io_access(vp, io, static_cast<uint32_t>(vp.gprs[Gpr::rax]) & mask);
    if (o.gp) {
        inject_exception(cpu, vector_gp, true, 0);
        return;
    }
    if (io.in) {
        uint64_t& rax = vp.gprs[Gpr::rax];
        // A 32-bit IN zero-extends into RAX; 8- and 16-bit ones merge (SDM vol 1 3.4.1.1).
        rax = io.size == 4 ? (o.value & mask) : ((rax & ~uint64_t{mask}) | (o.value & mask));
    }
    cpu.advance_rip(length_or(x, 1));
}

template <class V> [[noreturn]] void partition_fatal(Vp& vp, V& cpu, const char* what);

template <class V> void refuse_gpa(Vp& vp, V& cpu, const Intercept& x) {
    uint64_t rip = cpu.read(Reg::rip);
    if (vp.refusals_logged++ < 16)
        console::log("hv: %s vp %u: %s of gpa %lx at rip %lx refused: not the partition's memory; #GP\n",
                     vp.partition->name, vp.index,
                     x.gpa.write ? "write" : x.gpa.execute ? "instruction fetch" : "read", x.gpa.gpa, rip);
    // The same refusal at the same place again and again: the #GP cannot be delivered either (its
    // frame lands on the refused page), the processor's double-fault-then-shutdown case (SDM vol 3
    // 6.15, interrupt 8). Stop rather than spin on it.
    if (rip == vp.refused_rip && x.gpa.gpa == vp.refused_gpa) {
        if (++vp.refused_repeats >= 8)
            partition_fatal(vp, cpu, "exception storm on a refused access (a fault while delivering #GP)");
    } else {
        vp.refused_rip = rip;
        vp.refused_gpa = x.gpa.gpa;
        vp.refused_repeats = 0;
        vp.exits_before_refusal = vp.last_exits >> 8;   // what led here, for partition_fatal
    }
    inject_exception(cpu, vector_gp, true, 0);
}

template <class V> [[noreturn]] void partition_fatal(Vp& vp, V& cpu, const char* what) {
    console::log("hv: %s vp %u: %s at rip=%lx rsp=%lx cr0=%lx cr3=%lx cr4=%lx efer=%lx\n", vp.partition->name,
                 vp.index, what, cpu.read(Reg::rip), cpu.read(Reg::rsp), cpu.read(Reg::cr0), cpu.read(Reg::cr3),
                 cpu.read(Reg::cr4), cpu.read(Reg::efer));
    console::log("hv: %s vp %u: last exits (newest first, ExitKind): %lx; before the first refusal: %lx\n",
                 vp.partition->name, vp.index, vp.last_exits, vp.exits_before_refusal);
    // The root owns the machine: when it cannot go on, neither can the machine.
    stop(1);
}

// HLT: the VP waits in the hypervisor until something it can take is pending (HARNESS-tested
// pattern on both vendors: intercept HLT, step past it, inject on wake-up).
template <class V> void wait_halted(Vp& vp, V& cpu) {
    for (;;) {
        if (vp.nmi_pending || vp.start_pending)
            return;
        if (irq_deliverable(vp) && cpu.interruptible())
            return;
        asm volatile("sti; hlt; cli" ::: "memory");
    }
}

// The rare half of prepare_events, kept out of line so the common half inlines into run_vp.
template <class V> [[gnu::noinline]] void deliver_events(Vp& vp, V& cpu) {
    if (cpu.injection_pending())
        return;   // an event whose delivery an exit interrupted goes first
    if (vp.nmi_pending) {
        vp.nmi_pending = false;
        cpu.inject(Event{Event::Type::nmi, 2, false, 0, 0});
        return;
    }
    // Held by priority (the root's TPR or a vector in service): the TPR write or EOI that
    // releases it is an exit, and the next entry looks again.
    if (!irq_deliverable(vp))
        return;
    if (cpu.interruptible()) {
        cpu.inject(Event{Event::Type::external_interrupt, static_cast<uint8_t>(take_injectable_irq(vp)), false, 0, 0});
        if (!irq_deliverable(vp))
            return;
    }
    cpu.request_interrupt_window(true);
}

// On almost every exit nothing is pending: look at the VP's own flags (plain memory) before
// asking the backend anything, which costs a VMCS read on VT-x (docs/performance.md).
template <class V> inline void prepare_events(Vp& vp, V& cpu) {
    if (vp.nmi_pending || has_pending_irq(vp))
        deliver_events(vp, cpu);
}

// Inlined into run_vp: the common exits then cost no call frame of their own.
template <class V> [[gnu::always_inline]] inline void handle_exit(Vp& vp, V& cpu, const Intercept& x) {
    switch (x.kind) {
    case ExitKind::cpuid: handle_cpuid(vp, cpu, x); break;
    case ExitKind::msr_read: handle_msr(vp, cpu, x, false); break;
    case ExitKind::msr_write: handle_msr(vp, cpu, x, true); break;
    case ExitKind::io: handle_io(vp, cpu, x); break;
    case ExitKind::hypercall: handle_hypercall(vp, cpu, x); break;
    case ExitKind::hlt:
        cpu.advance_rip(length_or(x, 1));
        wait_halted(vp, cpu);
        break;
    case ExitKind::gpa_access: refuse_gpa(vp, cpu, x); break;
    case ExitKind::exception:
        // Only reflected: the partition asked for nothing to be intercepted that we handle.
        if (x.exception.vector == 14)
            cpu.write(Reg::cr2, x.exception.cr2);
        inject_exception(cpu, x.exception.vector, x.exception.has_error_code, x.exception.error_code);
        break;
    case ExitKind::external_interrupt:
        if (x.vector >= 32)
            forward_vector(vp, x.vector);   // acknowledged on exit (VT-x)
        else
            drain_host_interrupts();        // AMD-V: the host IDT takes it and forwards it
        break;
    case ExitKind::nmi:
        if (smp::stopping())
            smp::stopped_halt();
        vp.nmi_pending = true;
        break;
    case ExitKind::xsetbv:
        if constexpr (requires { cpu.handle_xsetbv(vp.gprs, uint8_t{0}); })
            static_cast<void>(cpu.handle_xsetbv(vp.gprs, x.instruction_length));
        break;
    case ExitKind::virt_instruction: inject_exception(cpu, vector_ud); break;
    case ExitKind::invd:
        asm volatile("wbinvd" ::: "memory");   // INVD would drop other owners' dirty lines
        cpu.advance_rip(length_or(x, 2));
        break;
    case ExitKind::cr_access:
        if (vp.refusals_logged++ < 16)
            console::log("hv: %s vp %u: CR%u write with a bit the processor fixes; #GP\n", vp.partition->name,
                         vp.index, x.cr.cr);
        inject_exception(cpu, vector_gp, true, 0);
        break;
    case ExitKind::triple_fault: partition_fatal(vp, cpu, "triple fault");
    case ExitKind::invalid_state:
        console::log("hv: %s vp %u: VM entry failed (code %x): %s\n", vp.partition->name, vp.index, x.entry.code,
                     x.entry.check ? x.entry.check : "no check named");
        partition_fatal(vp, cpu, "invalid guest state");
    case ExitKind::preemption_timer:
        // The backstop (HARNESS.md: Bochs takes no external-interrupt exit while the guest has
        // IF=0): let whatever waits at the local APIC in now, the hypervisor's IPIs included.
        drain_host_interrupts();
        break;
    case ExitKind::interrupt_window:
        // VT-x keeps interrupt-window exiting on until cleared (AMD-V clears V_IRQ itself);
        // the next entry asks again if something is still pending.
        cpu.request_interrupt_window(false);
        break;
    case ExitKind::pause:
    case ExitKind::nmi_window:
    case ExitKind::init_signal:
    case ExitKind::sipi:
    case ExitKind::none:
        break;
    case ExitKind::unknown:
        if (vp.refusals_logged++ < 16)
            console::log("hv: %s vp %u: unexpected exit %lx; #UD\n", vp.partition->name, vp.index, x.raw_reason);
        inject_exception(cpu, vector_ud);
        break;
    }
}

// Runs `vp` on the calling processor for good.
template <class Vendor> [[noreturn]] void run_vp(Vp& vp) {
    using V = typename Vendor::Vcpu;
    V& cpu = *static_cast<V*>(vp.vcpu);
    x86::cli();
    set_current_vp(&vp);
    for (;;) {
        // One rarely-taken branch on the exit path: everything that changes a VP's course
        // (INIT-SIPI, a start, a nested-map flush) sets one of these.
        if (__atomic_load_n(&vp.state, __ATOMIC_ACQUIRE) != VpState::running || vp.start_pending ||
            vp.flush_nested) [[unlikely]] {
            while (__atomic_load_n(&vp.state, __ATOMIC_ACQUIRE) != VpState::runnable &&
                   __atomic_load_n(&vp.state, __ATOMIC_ACQUIRE) != VpState::running)
                asm volatile("sti; hlt; cli" ::: "memory");   // waiting for INIT-SIPI
            if (vp.start_pending) {
                vp.start_pending = false;
                cpu.reset(vp.start);
                start_gprs(vp.gprs, vp.start);
            }
            vp.state = VpState::running;
            if (__atomic_exchange_n(&vp.flush_nested, false, __ATOMIC_ACQ_REL))
                Vendor::flush_nested(cpu);
        }
        prepare_events(vp, cpu);
        this_cpu().doing = "running a root VP";
        Intercept x = cpu.run(vp.gprs);
        this_cpu().doing = "handling a root VP's exit";
        this_cpu().exits = this_cpu().exits + 1;
        vp.exits[static_cast<int>(x.kind)]++;
        vp.last_exits = (vp.last_exits << 8) | static_cast<uint8_t>(x.kind);   // for partition_fatal
        sync_cr8(vp, cpu);
        handle_exit(vp, cpu, x);
    }
}

} // namespace hv::virt
