// The synthetic time, frequency and crash MSRs of a partition (hv/virt/synthetic_time.hpp).
// Each exists only with its CPUID 0x40000003 bit (TLFS 2.4.4): without it, #GP.
#include "hv/virt/synthetic_time.hpp"

#include "hv/arch/tsc.hpp"
#include "hv/console.hpp"
#include "hv/virt/guest_memory.hpp"
#include "hv/virt/vtimer.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {
namespace {

struct PartitionMemory {
    const Partition& p;
    bool read(uint64_t gpa, void* dst, uint32_t n) { return read_guest(p, GuestPhysAddr(gpa), dst, n); }
    bool write(uint64_t gpa, const void* src, uint32_t n) {
        return write_guest(p, GuestPhysAddr(gpa), src, n);
    }
};

bool has(const Partition& p, uint64_t privilege) {
    return (p.cpuid.privileges & privilege) == privilege;
}
bool has_crash_msrs(const Partition& p) {
    return p.cpuid.features_edx & tlfs::feature_edx::guest_crash_msrs;
}
bool is_crash_param(uint32_t msr) {
    return msr >= tlfs::msr::crash_p0 && msr < tlfs::msr::crash_p0 + crash_params;
}

void report_crash(Partition& p) {
    uint64_t c[crash_params];
    {
        IrqLockGuard g(p.time_lock);
        if (p.time.crash_reports >= crash_reports_logged_max)
            return;
        p.time.crash_reports++;
        __builtin_memcpy(c, p.time.crash, sizeof c);
    }
    // TODO(issue 6): a child's report belongs to the root (a message to its parent); until that
    // exists the hypervisor logs it for every partition.
    console::log("hv: partition %s crash report: P0=0x%lx P1=0x%lx P2=0x%lx P3=0x%lx P4=0x%lx\n", p.name,
                 c[0], c[1], c[2], c[3], c[4]);
}

} // namespace

bool is_synthetic_time_msr(uint32_t msr) {
    return (msr >= tlfs::msr::time_ref_count && msr <= tlfs::msr::apic_frequency) || is_crash_param(msr) ||
           msr == tlfs::msr::crash_ctl;
}

bool synthetic_time_read(Vp& vp, uint32_t msr, uint64_t& value) {
    Partition& p = *vp.partition;
    switch (msr) {
    case tlfs::msr::time_ref_count: {
        if (!has(p, tlfs::privilege::time_ref_count_msr))
            return false;
        // A processor whose TSC trails the creating one by a few cycles reads 0, not 2^64 - n.
        int64_t delta = static_cast<int64_t>(tsc::now() - p.time.base_tsc);
        value = ref_time(delta > 0 ? static_cast<uint64_t>(delta) : 0, tsc::hz());
        return true;
    }
    case tlfs::msr::reference_tsc: {
        if (!has(p, tlfs::privilege::partition_reference_tsc))
            return false;
        IrqLockGuard g(p.time_lock);
        value = p.time.reference_tsc_msr;
        return true;
    }
    case tlfs::msr::tsc_frequency:
    case tlfs::msr::apic_frequency:
        if (!has(p, tlfs::privilege::frequency_msrs))
            return false;
        value = msr == tlfs::msr::tsc_frequency ? tsc::hz() : virtual_apic_bus_hz;
        return true;
    case tlfs::msr::crash_ctl:
        if (!has_crash_msrs(p))
            return false;
        value = crash_notify; // the capabilities offered
        return true;
    default:
        if (!is_crash_param(msr) || !has_crash_msrs(p))
            return false;
        IrqLockGuard g(p.time_lock);
        value = p.time.crash[msr - tlfs::msr::crash_p0];
        return true;
    }
}

bool synthetic_time_write(Vp& vp, uint32_t msr, uint64_t value) {
    Partition& p = *vp.partition;
    switch (msr) {
    case tlfs::msr::reference_tsc: {
        if (!has(p, tlfs::privilege::partition_reference_tsc))
            return false;
        PartitionMemory mem{p};
        IrqLockGuard g(p.time_lock);
        return write_reference_tsc_msr(p.time, value, tsc::hz(), mem);
    }
    case tlfs::msr::crash_ctl:
        if (!has_crash_msrs(p) || (value & ~crash_notify))
            return false;
        if (value & crash_notify)
            report_crash(p);
        return true;
    default:
        // The time reference count and the frequencies are read-only.
        if (!is_crash_param(msr) || !has_crash_msrs(p))
            return false;
        IrqLockGuard g(p.time_lock);
        p.time.crash[msr - tlfs::msr::crash_p0] = value;
        return true;
    }
}

} // namespace hv::virt
