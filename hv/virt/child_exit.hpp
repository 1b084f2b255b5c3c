// What a child VP's exit means (hv/virt/child_vp.cpp's dispatch loop): handled in the
// hypervisor and the child resumes, or handed to the root with a report and DispatchVp returns.
// Children see a plain PC: a local APIC the hypervisor emulates (hv/virt/lapic.hpp: xAPIC page
// or x2APIC MSRs), MTRRs reading as "write-back, no ranges", the TLFS leaves without
// CpuManagement; everything else they touch is the root's to emulate.
#pragma once
#include "hv/virt/child_internal.hpp"
#include "hv/virt/exit_loop.hpp"
#include "hv/virt/guest_memory.hpp"
#include "hv/virt/guest_walk.hpp"
#include "hv/virt/lapic.hpp"
#include "partitions/devices/x86_emulate.hpp"

namespace hv::virt::children {

inline bool listed(const uint32_t* list, uint32_t n, uint32_t v) {
    for (uint32_t i = 0; i < n; i++)
        if (list[i] == v)
            return true;
    return false;
}

// MSRs a child reads and writes without the root: the few a PC kernel expects to find.
inline Outcome child_msr(Vp& vp, uint32_t msr, bool write, uint64_t value) {
    if ((msr >= x2apic_first && msr <= x2apic_last) || msr == 0x1b || msr == msr_tsc_deadline)
        return child_apic_msr(vp, msr, write, value);
    switch (msr) {
    case 0xfe:              // MTRRcap: no variable or fixed ranges
        return {false, 0};
    case 0x2ff:             // MTRRdefType: enabled, write-back
        return {false, write ? 0ull : 0x806ull};
    case 0x1a0:             // IA32_MISC_ENABLE: fast strings
        return {false, write ? 0ull : 1ull};
    case 0x8b:              // microcode revision
    case 0x79:              // microcode update trigger
        return {false, 0};
    default:
        if ((msr >= 0x200 && msr <= 0x20f) || msr == 0x250 || msr == 0x258 || msr == 0x259 ||
            (msr >= 0x268 && msr <= 0x26f))
            return {false, 0};   // MTRR ranges: none
        return write ? msr_write(vp, msr, value) : msr_read(vp, msr);
    }
}

struct WalkCtx {
    const Partition* p;
};

inline bool read_entry(void* ctx, uint64_t gpa, unsigned bytes, uint64_t& out) {
    out = 0;
    return read_guest(*static_cast<WalkCtx*>(ctx)->p, GuestPhysAddr(gpa), &out, bytes);
}

// Up to 16 bytes at CS:`rip`, through the child's own page tables (how many could be read).
template <class V> uint8_t fetch_bytes(const Partition& p, V& cpu, uint64_t rip, uint8_t (&bytes)[16]) {
    GuestPaging pg{cpu.read(Reg::cr0), cpu.read(Reg::cr3), cpu.read(Reg::cr4), cpu.read(Reg::efer)};
    Segment cs = cpu.segment(Seg::cs);
    bool long64 = (pg.efer & (1u << 10)) && (cs.attr & (1u << 9));
    uint64_t linear = (long64 ? 0 : cs.base) + rip;
    WalkCtx ctx{&p};
    uint8_t count = 0;
    while (count < 16) {
        uint64_t gpa;
        if (translate_linear(pg, linear + count, read_entry, &ctx, gpa) != WalkResult::ok)
            break;
        uint64_t in_page = page_size - (gpa & (page_size - 1));
        uint64_t want = 16u - count;
        uint64_t n = want < in_page ? want : in_page;
        if (!read_guest(p, GuestPhysAddr(gpa), bytes + count, n))
            break;
        count = static_cast<uint8_t>(count + n);
    }
    return count;
}

// Up to 16 bytes at CS:RIP, through the child's own page tables: the root decodes them to
// emulate a device access (TLFS memory intercept message).
template <class V> void fetch_instruction(const Partition& p, V& cpu, DispatchReport& out) {
    out.instruction_count = fetch_bytes(p, cpu, out.rip, out.instruction_bytes);
}

// The xAPIC page as the instruction emulator's device: aligned 32-bit accesses only (SDM vol 3
// 11.4.1); other sizes read the register's bytes and drop writes.
struct ApicPageBus final : devices::x86::MmioBus {
    Vp& vp;
    bool fault = false;
    explicit ApicPageBus(Vp& v) : vp(v) {}
    uint64_t read(uint64_t gpa, unsigned size) override {
        auto off = static_cast<uint32_t>(gpa & 0xfff);
        uint64_t v = 0;
        if (!child_apic_access(vp, off & ~0xfu, false, v))
            return 0;
        v = (v & 0xffffffffu) >> ((off & 3) * 8);
        return size >= 4 ? v : v & ((1ull << (size * 8)) - 1);
    }
    void write(uint64_t gpa, unsigned size, uint64_t value) override {
        auto off = static_cast<uint32_t>(gpa & 0xfff);
        if ((off & 0xf) || size < 4)
            return;
        uint64_t v = static_cast<uint32_t>(value);
        static_cast<void>(child_apic_access(vp, off, true, v));
    }
};

// A child's access to its xAPIC page, emulated here. False: not the APIC's (the root's to see).
template <class V> bool emulate_apic_page(Vp& vp, V& cpu, const Intercept& x) {
    if ((x.gpa.gpa & ~0xfffull) != apic_default_base || vp.lapic.x2apic || !vp.lapic.enabled || x.gpa.execute)
        return false;
    namespace dx = devices::x86;
    uint8_t bytes[16];
    uint64_t rip = cpu.read(Reg::rip);
    uint8_t n = fetch_bytes(*vp.partition, cpu, rip, bytes);
    uint64_t cr0 = cpu.read(Reg::cr0), efer = cpu.read(Reg::efer);
    Segment cs = cpu.segment(Seg::cs);
    dx::CpuMode mode = !(cr0 & 1)                                        ? dx::CpuMode::bits16
                       : ((efer & (1u << 10)) && (cs.attr & (1u << 9))) ? dx::CpuMode::bits64
                       : (cs.attr & (1u << 10))                          ? dx::CpuMode::bits32
                                                                         : dx::CpuMode::bits16;
    dx::Registers r;
    for (uint32_t i = 0; i < 16; i++)
        r.gpr[i] = vp.gprs.r[i];
    r.gpr[static_cast<uint8_t>(Gpr::rsp)] = cpu.read(Reg::rsp);
    r.rip = rip;
    r.rflags = cpu.read(Reg::rflags);
    ApicPageBus bus(vp);
    struct NoMemory final : dx::GuestMemory {} mem;
    dx::MmioFault where{x.gpa.gpa, x.gpa.write ? dx::Access::write : dx::Access::read};
    dx::Result res = dx::emulate(bytes, n, mode, r, where, bus, mem);
    if (res.status == dx::Status::fault) {
        inject_exception(cpu, res.fault.vector, res.fault.has_error_code, res.fault.error_code);
        return true;
    }
    if (res.status != dx::Status::done)
        return false;   // an instruction the emulator does not do: the root sees it (and stops the child)
    uint64_t rsp = r.gpr[static_cast<uint8_t>(Gpr::rsp)];
    for (uint32_t i = 0; i < 16; i++)
        vp.gprs.r[i] = r.gpr[i];
    cpu.write(Reg::rsp, rsp);
    cpu.write(Reg::rip, r.rip);
    cpu.write(Reg::rflags, r.rflags);
    return true;
}

template <class V> bool report(Vp& vp, V& cpu, const Intercept& x, DispatchReport& out,
                               DispatchReport::Reason why = DispatchReport::Reason::intercept) {
    out.reason = why;
    out.exit = x;
    out.rip = cpu.read(Reg::rip);
    out.rflags = cpu.read(Reg::rflags);
    out.cr0 = cpu.read(Reg::cr0);
    out.efer = cpu.read(Reg::efer);
    Segment cs = cpu.segment(Seg::cs);
    out.cs_selector = cs.selector;
    out.cs_attr = cs.attr;
    static_cast<void>(vp);
    return true;
}

template <class Vendor, class V> bool child_exit(Vp& root_vp, Vp& vp, V& cpu, const Intercept& x, DispatchReport& out) {
    Child& c = *static_cast<Child*>(vp.partition->child);
    const InterceptConfig& ic = c.intercepts;
    switch (x.kind) {
    case ExitKind::cpuid: {
        auto leaf = static_cast<uint32_t>(vp.gprs[Gpr::rax]);
        if (!listed(ic.cpuid_leaves, ic.cpuid_count, leaf)) {
            handle_cpuid(vp, cpu, x);
            return false;
        }
        out.cpuid_leaf = leaf;
        out.cpuid_subleaf = static_cast<uint32_t>(vp.gprs[Gpr::rcx]);
        x86::CpuidResult h = x86::cpuid(leaf, out.cpuid_subleaf);
        VcpuCpuidContext ctx{(cpu.read(Reg::cr4) & (1u << 18)) != 0, vp.apic_id};
        CpuidRegs r = apply_cpuid_policy(leaf, out.cpuid_subleaf, {h.eax, h.ebx, h.ecx, h.edx}, vp.partition->cpuid, ctx);
        out.default_cpuid[0] = r.eax;
        out.default_cpuid[1] = r.ebx;
        out.default_cpuid[2] = r.ecx;
        out.default_cpuid[3] = r.edx;
        return report(vp, cpu, x, out);
    }
    case ExitKind::msr_read:
    case ExitKind::msr_write: {
        bool write = x.kind == ExitKind::msr_write;
        auto msr = static_cast<uint32_t>(vp.gprs[Gpr::rcx]);
        uint64_t value = (vp.gprs[Gpr::rdx] << 32) | static_cast<uint32_t>(vp.gprs[Gpr::rax]);
        if (listed(ic.msrs, ic.msr_count, msr)) {
            out.msr_value = value;
            return report(vp, cpu, x, out);
        }
        Outcome o = msr == 0xc0000080 ? efer_access(cpu, write, value) : child_msr(vp, msr, write, value);
        if (o.gp) {
            inject_exception(cpu, vector_gp, true, 0);
            return false;
        }
        if (!write)
            set_edx_eax(cpu, vp, o.value);
        cpu.advance_rip(length_or(x, 2));
        return false;
    }
    case ExitKind::io: {
        uint16_t port = x.io.port;
        if (ic.io_ports[port / 64] & (1ull << (port % 64))) {
            out.io_value = vp.gprs[Gpr::rax];
            return report(vp, cpu, x, out);
        }
        // A port nobody emulates: reads float high, writes vanish, as on an empty ISA bus.
        if (x.io.string) {
            inject_exception(cpu, vector_gp, true, 0);
            return false;
        }
        if (x.io.in) {
            uint64_t mask = x.io.size == 1 ? 0xff : x.io.size == 2 ? 0xffff : 0xffffffffu;
            vp.gprs[Gpr::rax] = x.io.size == 4 ? mask : (vp.gprs[Gpr::rax] | mask);
        }
        cpu.advance_rip(length_or(x, 1));
        return false;
    }
    case ExitKind::hypercall:
        handle_hypercall(vp, cpu, x);
        return false;
    case ExitKind::hlt:
        cpu.advance_rip(length_or(x, 1));
        if (vp.nmi_pending || (irq_deliverable(vp) && cpu.interruptible()))
            return false;
        return report(vp, cpu, x, out, DispatchReport::Reason::halted);
    case ExitKind::gpa_access:
        if (emulate_apic_page(vp, cpu, x))
            return false;
        report(vp, cpu, x, out);
        fetch_instruction(*vp.partition, cpu, out);
        return true;
    case ExitKind::exception:
        if (ic.exceptions & (1u << x.exception.vector))
            return report(vp, cpu, x, out);
        if (x.exception.vector == 14)
            cpu.write(Reg::cr2, x.exception.cr2);
        inject_exception(cpu, x.exception.vector, x.exception.has_error_code, x.exception.error_code);
        return false;
    case ExitKind::external_interrupt:
        if (x.vector >= 32) {
            forward_vector(root_vp, x.vector);   // the root's, or the hypervisor's own
        } else {
            drain_host_interrupts();
        }
        if (irq_deliverable(root_vp) || root_vp.nmi_pending)
            return report(vp, cpu, x, out, DispatchReport::Reason::interrupted);
        return false;
    case ExitKind::nmi:
        if (smp::stopping())
            smp::stopped_halt();
        root_vp.nmi_pending = true;
        return report(vp, cpu, x, out, DispatchReport::Reason::interrupted);
    case ExitKind::preemption_timer:
        // The slice backstop: take what waits at the local APIC (see exit_loop.hpp); when that
        // gave the root something (its tick ends the child's slice), the root runs next.
        drain_host_interrupts();
        if (irq_deliverable(root_vp) || root_vp.nmi_pending)
            return report(vp, cpu, x, out, DispatchReport::Reason::interrupted);
        return false;
    case ExitKind::triple_fault:
    case ExitKind::invalid_state:
        // The root ends the child; the state it died in is worth a line (the root cannot read
        // it any more once the partition is gone).
        console::log("hv: child %lu vp %u: %s at rip=%lx rsp=%lx cr3=%lx rflags=%lx; last exits (newest first, "
                     "ExitKind): %lx\n",
                     vp.partition->id, vp.index, x.kind == ExitKind::triple_fault ? "triple fault" : "invalid state",
                     cpu.read(Reg::rip), cpu.read(Reg::rsp), cpu.read(Reg::cr3), cpu.read(Reg::rflags), vp.last_exits);
        __atomic_store_n(&vp.state, VpState::stopped, __ATOMIC_RELEASE);
        return report(vp, cpu, x, out, DispatchReport::Reason::stopped);
    case ExitKind::xsetbv:
        if constexpr (requires { cpu.handle_xsetbv(vp.gprs, uint8_t{0}); })
            static_cast<void>(cpu.handle_xsetbv(vp.gprs, x.instruction_length));
        return false;
    case ExitKind::virt_instruction:
    case ExitKind::unknown:
        inject_exception(cpu, vector_ud);
        return false;
    case ExitKind::invd:
        asm volatile("wbinvd" ::: "memory");
        cpu.advance_rip(length_or(x, 2));
        return false;
    case ExitKind::cr_access:
        if (x.cr.cr == 8 && x.cr.gpr < 16) {
            // MOV CR8 (VT-x CR8 exiting): CR8 is TPR[7:4] of the child's APIC (SDM vol 3 11.8.6).
            bool rsp = x.cr.gpr == static_cast<uint8_t>(Gpr::rsp);
            if (x.cr.write) {
                uint64_t v = rsp ? cpu.read(Reg::rsp) : vp.gprs.r[x.cr.gpr];
                if (v >> 4) {
                    inject_exception(cpu, vector_gp, true, 0);   // reserved bits 63:4
                    return false;
                }
                vp.lapic.tpr = static_cast<uint32_t>(v) << 4;
            } else if (rsp) {
                cpu.write(Reg::rsp, vp.lapic.tpr >> 4);
            } else {
                vp.gprs.r[x.cr.gpr] = vp.lapic.tpr >> 4;
            }
            cpu.advance_rip(length_or(x, 3));
            return false;
        }
        inject_exception(cpu, vector_gp, true, 0);
        return false;
    case ExitKind::interrupt_window:
        cpu.request_interrupt_window(false);   // see exit_loop.hpp
        return false;
    case ExitKind::nmi_window:
    case ExitKind::pause:
    case ExitKind::init_signal:
    case ExitKind::sipi:
    case ExitKind::none:
        return false;
    }
    return false;
}

} // namespace hv::virt::children
