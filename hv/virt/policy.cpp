// MSR and I/O policy (docs/root-partition.md). What a partition may not see or change is
// refused with #GP(0), as a processor without the feature would; everything the root owns as
// the hardware's owner passes through untouched by never being intercepted.
#include "hv/virt/policy.hpp"

#include "hv/arch/interrupts.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/panic.hpp"
#include "hv/virt/guest_memory.hpp"
#include "hv/virt/lapic.hpp"
#include "hv/virt/synic.hpp"
#include "hv/virt/synthetic_time.hpp"
#include "hv/virt/vtimer.hpp"
#include "hypercalls/page.hpp"
#include "hypercalls/abi/tlfs.hpp"

namespace hv::virt {
namespace {

constexpr Outcome ok(uint64_t v = 0) { return {false, v}; }
constexpr Outcome gp() { return {true, 0}; }

constexpr uint64_t apic_base_bsp = 1u << 8, apic_base_extd = 1u << 10, apic_base_enable = 1u << 11;
constexpr uint64_t apic_base_default = 0xfee00000;
constexpr uint64_t feature_control_lock = 1;
constexpr uint64_t vm_cr_svmdis = 1u << 4, vm_cr_lock = 1u << 3;

// The caller partition's memory, for the hypercall page (hypercalls/page.hpp).
struct PartitionMemory {
    const Partition& p;
    bool read(uint64_t gpa, void* dst, uint32_t n) { return read_guest(p, GuestPhysAddr(gpa), dst, n); }
    bool write(uint64_t gpa, const void* src, uint32_t n) { return write_guest(p, GuestPhysAddr(gpa), src, n); }
};

bool has(const Vp& vp, uint64_t privilege) { return (vp.partition->cpuid.privileges & privilege) == privilege; }

// Synthetic MSRs exist only with their privilege (TLFS 2.4.4, partition privilege flags): without
// it an access raises #GP as on a processor without the MSR.
// The synthetic APIC MSRs (TLFS 10.x): EOI, ICR and TPR as MSRs of their own, the same
// registers as the APIC's, for every partition (the hypervisor virtualizes every APIC);
// and the VP assist page, whose enlightenments this hypervisor does not use yet: the page is
// only recorded (it must be the partition's RAM).
constexpr uint32_t synthetic_eoi = 0x40000070, synthetic_icr = 0x40000071, synthetic_tpr = 0x40000072,
                   vp_assist_page = 0x40000073;
constexpr uint64_t vp_assist_reserved = 0xffe;   // bits 11:1

// A child's APIC is the hypervisor's register model (lapic.hpp) in either mode; the synthetic ICR
// carries the destination where the APIC's mode puts it (x2APIC: bits 63:32; xAPIC: 63:56).
Outcome child_synthetic_apic(Vp& vp, uint32_t msr, bool write, uint64_t value) {
    uint64_t v = 0;
    switch (msr) {
    case synthetic_eoi:
        return write && child_apic_access(vp, 0xb0, true, v) ? ok() : gp();
    case synthetic_tpr:
        v = value;
        if (write && (value >> 8))
            return gp();
        return child_apic_access(vp, 0x80, write, v) ? ok(write ? 0 : v) : gp();
    default:   // synthetic_icr
        if (!write) {
            if (!child_apic_access(vp, 0x300, false, v))
                return gp();
            if (!vp.lapic.x2apic)
                v |= uint64_t{vp.lapic.icr_high} << 32;
            return ok(v);
        }
        if (vp.lapic.x2apic) {
            v = value;
            return child_apic_access(vp, 0x300, true, v) ? ok() : gp();
        }
        uint64_t high = value >> 32, low = static_cast<uint32_t>(value);
        return child_apic_access(vp, 0x310, true, high) && child_apic_access(vp, 0x300, true, low) ? ok() : gp();
    }
}

Outcome synthetic_apic(Vp& vp, uint32_t msr, bool write, uint64_t value) {
    if (!has(vp, tlfs::privilege::apic_msrs))
        return gp();
    if (vp.partition->kind == PartitionKind::child && msr != vp_assist_page)
        return child_synthetic_apic(vp, msr, write, value);
    switch (msr) {
    case synthetic_eoi:
        return write ? x2apic_write(vp, 0x80b, 0) : gp();   // write-only; the value is ignored
    case synthetic_icr:
        return write ? x2apic_write(vp, 0x830, value) : x2apic_read(vp, 0x830);
    case synthetic_tpr:
        return write ? x2apic_write(vp, 0x808, value) : x2apic_read(vp, 0x808);
    default: {   // vp_assist_page
        if (!write)
            return ok(vp.vp_assist_msr);
        PhysAddr h;
        if ((value & vp_assist_reserved) ||
            ((value & 1) && !gpa_to_hpa(*vp.partition, GuestPhysAddr(value & ~0xfffull), true, h)))
            return gp();
        vp.vp_assist_msr = value;
        return ok();
    }
    }
}

Outcome synthetic_read(Vp& vp, uint32_t msr) {
    Partition& p = *vp.partition;
    if (is_synthetic_time_msr(msr)) {
        uint64_t v;
        return synthetic_time_read(vp, msr, v) ? ok(v) : gp();
    }
    if (is_synic_msr(msr)) {
        uint64_t v;
        return synic_read(vp, msr, v) ? ok(v) : gp();
    }
    if (is_stimer_msr(msr)) {
        uint64_t v;
        return stimer_read(vp, msr, v) ? ok(v) : gp();
    }
    if (msr >= synthetic_eoi && msr <= vp_assist_page)
        return synthetic_apic(vp, msr, false, 0);
    switch (msr) {
    case tlfs::msr::vp_index:
        return has(vp, tlfs::privilege::vp_index_msr) ? ok(vp.index) : gp();
    case tlfs::msr::guest_os_id:
    case tlfs::msr::hypercall: {
        if (!has(vp, tlfs::privilege::hypercall_msrs))
            return gp();
        IrqLockGuard g(p.hypercall_lock);
        return ok(msr == tlfs::msr::guest_os_id ? p.hypercall.guest_os_id : p.hypercall.hypercall_msr);
    }
    default:
        return gp();   // not offered in CPUID 0x40000003 (TLFS 2.4.4): #GP as the TLFS says
    }
}

Outcome synthetic_write(Vp& vp, uint32_t msr, uint64_t value) {
    Partition& p = *vp.partition;
    if (is_synthetic_time_msr(msr))
        return synthetic_time_write(vp, msr, value) ? ok() : gp();
    if (is_synic_msr(msr))
        return synic_write(vp, msr, value) ? ok() : gp();
    if (is_stimer_msr(msr))
        return stimer_write(vp, msr, value) ? ok() : gp();
    if (msr >= synthetic_eoi && msr <= vp_assist_page)
        return synthetic_apic(vp, msr, true, value);
    if ((msr != tlfs::msr::guest_os_id && msr != tlfs::msr::hypercall) || !has(vp, tlfs::privilege::hypercall_msrs))
        return gp();   // the VP index MSR is read-only; the rest are not offered
    PartitionMemory mem{p};
    IrqLockGuard g(p.hypercall_lock);
    if (msr == tlfs::msr::guest_os_id) {
        hypercalls::write_guest_os_id(p.hypercall, value, mem);
        return ok();
    }
    // The vendor's call instruction: EPT is VT-x's nested format, NPT AMD-V's.
    const auto& sequence = p.nested_is_ept ? hypercalls::sequence_vmcall : hypercalls::sequence_vmmcall;
    return hypercalls::write_hypercall_msr(p.hypercall, value, sequence, mem) ? ok() : gp();
}

} // namespace

Outcome msr_read(Vp& vp, uint32_t msr) {
    if (msr >= x2apic_first && msr <= x2apic_last)
        return x2apic_read(vp, msr);
    if (msr >= tlfs::msr::first && msr < tlfs::msr::last)
        return synthetic_read(vp, msr);
    switch (msr) {
    case 0x1b:
        return ok(apic_base_default | apic_base_enable | apic_base_extd | (vp.index == 0 ? apic_base_bsp : 0));
    case 0x3a:
        return ok(feature_control_lock);   // locked, VMX enabled neither inside nor outside SMX
    case 0xc0010114:
        return ok(vm_cr_svmdis | vm_cr_lock);
    case 0xc0010117:
        return gp();
    case msr_tsc_deadline: {
        // Offered (CPUID.1:ECX[24]) only with the hypervisor's virtual x2APIC: the root's.
        uint64_t v = 0;
        return vp.partition->cpuid.x2apic && apic_timer_read(vp, msr, v) ? ok(v) : gp();
    }
    default:
        if (msr >= vmx_capability_first && msr <= vmx_capability_last)
            return gp();
        break;
    }
    // An MSR outside every bitmap range exits always: the root owns the hardware, so it reads
    // the processor's (and gets #GP where the processor raises it).
    uint64_t v;
    if (vp.partition->kind == PartitionKind::root && arch::rdmsr_safe(msr, v))
        return ok(v);
    return gp();
}

Outcome msr_write(Vp& vp, uint32_t msr, uint64_t value) {
    if (msr >= x2apic_first && msr <= x2apic_last)
        return x2apic_write(vp, msr, value);
    if (msr >= tlfs::msr::first && msr < tlfs::msr::last)
        return synthetic_write(vp, msr, value);
    switch (msr) {
    case 0x1b: {
        // x2APIC mode stays on: leaving it is the illegal x2APIC-to-xAPIC transition (SDM vol 3
        // 11.12.5); moving the base or disabling the APIC is not offered.
        uint64_t keep = apic_base_default | apic_base_enable | apic_base_extd;
        return (value & ~apic_base_bsp) == keep ? ok() : gp();
    }
    case 0x3a:
    case 0xc0010114:
    case 0xc0010117:
        return gp();
    case msr_tsc_deadline:
        return vp.partition->cpuid.x2apic && apic_timer_write(vp, msr, value) ? ok() : gp();
    case tsc_aux:
        // The hypervisor keeps its processor index there (RDTSCP); root VPs are pinned one to
        // one, so the index a root would write is the one it reads back anyway.
        return (value >> 32) ? gp() : ok();
    default:
        if (msr >= vmx_capability_first && msr <= vmx_capability_last)
            return gp();
        break;
    }
    if (vp.partition->kind == PartitionKind::root && arch::wrmsr_safe(msr, value))
        return ok();
    return gp();
}

Outcome io_access(Vp& vp, const IoAccess& io, uint32_t out_value) {
    Partition& p = *vp.partition;
    if (io.string)
        return gp();   // string I/O to an emulated port: not offered (the UART takes OUT/IN)
    if (Uart16550::claims(io.port)) {
        if (io.size != 1)
            return ok(io.in ? 0xffffffffu : 0);
        if (io.in) {
            IrqLockGuard g(p.uart_lock);
            return ok(p.uart.read(io.port));
        }
        char line[Uart16550::line_max + 1];
        bool complete;
        {
            IrqLockGuard g(p.uart_lock);
            complete = p.uart.write(io.port, static_cast<uint8_t>(out_value), line);
        }
        if (complete) {
            // The root's lines are the machine's console; a child's carry its name (issue 5).
            if (p.kind == PartitionKind::root)
                console::log("%s\n", line);
            else
                console::log("%s: %s\n", p.name, line);
        }
        return ok();
    }
    if (io.port == debug_exit_port && p.debug_exit_port && !io.in) {
        console::log("hv: %s partition wrote %u to the debug-exit port\n", p.name, out_value & 0xff);
        stop(static_cast<int>(out_value & 0xff));
    }
    // An intercepted port the policy does not know: reads float high, writes are dropped.
    return ok(io.in ? 0xffffffffu : 0);
}

} // namespace hv::virt
