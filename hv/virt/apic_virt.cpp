// The root partition's local APIC: an x2APIC (MSRs 0x800-0x8ff, SDM vol 3 11.12) emulated on
// the physical APIC in whichever mode the hypervisor drives it. Registers pass through, except:
//   - the ICR: INIT and SIPI start and stop the root's VPs instead of processors (the hypervisor
//     keeps INIT/SIPI for itself); other IPIs are sent after checking the vector is not one the
//     hypervisor owns;
//   - the ID and LDR, computed from the VP's APIC id;
//   - the timer (LVT timer, initial and current count, divide; IA32_TSC_DEADLINE) is emulated
//     (hv/virt/vtimer.cpp): the hypervisor owns the physical timer for the synthetic timers;
//   - vectors the hypervisor raises itself (SynIC, timers, self-IPI) are in service in the VP's
//     soft_isr, not at the physical APIC, so an EOI ends whichever of the two is higher
//     (hv/virt/vp_runtime.hpp);
//   - writes of read-only registers and reads of write-only ones raise #GP as on hardware.
#include "hv/arch/apic.hpp"
#include "hv/arch/interrupts.hpp"
#include "hv/console.hpp"
#include "hv/virt/lapic.hpp"
#include "hv/virt/policy.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "hv/virt/vtimer.hpp"

namespace hv::virt {
namespace {

constexpr Outcome ok(uint64_t v = 0) { return {false, v}; }
constexpr Outcome gp() { return {true, 0}; }

constexpr uint32_t msr_lvt_timer = 0x832, msr_initial = 0x838;
constexpr uint32_t msr_id = 0x802, msr_version = 0x803, msr_tpr = 0x808, msr_ppr = 0x80a, msr_eoi = 0x80b,
                   msr_ldr = 0x80d, msr_svr = 0x80f, msr_esr = 0x828, msr_icr = 0x830,
                   msr_timer_current = 0x839, msr_divide = 0x83e, msr_self_ipi = 0x83f;

bool readable(uint32_t msr) {
    return msr == msr_id || msr == msr_version || msr == msr_tpr || msr == msr_ppr || msr == msr_ldr ||
           msr == msr_svr || (msr >= 0x810 && msr <= 0x828) || msr == 0x82f || msr == msr_icr ||
           (msr >= 0x832 && msr <= 0x839) || msr == msr_divide;
}

bool writable(uint32_t msr) {
    return msr == msr_tpr || msr == msr_eoi || msr == msr_svr || msr == msr_esr || msr == 0x82f || msr == msr_icr ||
           (msr >= 0x832 && msr <= 0x838) || msr == msr_divide || msr == msr_self_ipi;
}

uint32_t offset_of(uint32_t msr) { return (msr - 0x800) << 4; }

void refuse(Vp& vp, const char* what, uint64_t value) {
    if (vp.refusals_logged++ < 16)
        console::log("hv: %s vp %u: %s (icr %lx) refused\n", vp.partition->name, vp.index, what, value);
}

void start_on_sipi(Vp& target, uint8_t vector) {
    // A SIPI only affects a processor waiting for one (SDM vol 3 8.4.4.1): the second SIPI of
    // the INIT-SIPI-SIPI sequence is ignored once the first started it.
    VpState expected = VpState::wait_for_sipi;
    target.start = StartState{StartState::Mode::real_mode_sipi, vector, 0, 0, 0, 0, 0};
    if (__atomic_compare_exchange_n(&target.state, &expected, VpState::runnable, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        target.start_pending = true;
        kick(target);
    }
}

void deliver_init(Vp& target) {
    VpState s = __atomic_load_n(&target.state, __ATOMIC_ACQUIRE);
    if (s == VpState::stopped)
        __atomic_store_n(&target.state, VpState::wait_for_sipi, __ATOMIC_RELEASE);
    // INIT to a VP that already runs would reset it; the root kernel never does that, and a
    // general-purpose root only does it to offline a processor (left for processor hot-remove).
}

template <class F> void for_targets(Vp& sender, uint32_t dest, uint32_t shorthand, F&& f) {
    Partition& p = *sender.partition;
    for (uint32_t i = 0; i < p.vp_count; i++) {
        Vp& v = p.vps[i];
        bool self = &v == &sender;
        bool hit = shorthand == 1 ? self
                 : shorthand == 2 ? true
                 : shorthand == 3 ? !self
                 : (dest == 0xffffffff || v.apic_id == dest);
        if (hit)
            f(v);
    }
}

Outcome write_icr(Vp& vp, uint64_t value) {
    auto low = static_cast<uint32_t>(value);
    auto dest = static_cast<uint32_t>(value >> 32);
    uint32_t mode = (low >> 8) & 7, shorthand = (low >> 18) & 3;
    bool logical = low & (1u << 11);
    auto vector = static_cast<uint8_t>(low);
    if (value & x2apic_icr_reserved)
        return gp();
    if (mode == 5) {   // INIT; a level de-assert INIT (bit 14 clear) does nothing
        if (low & (1u << 14))
            for_targets(vp, dest, shorthand, [](Vp& t) { deliver_init(t); });
        return ok();
    }
    if (mode == 6) {   // SIPI
        for_targets(vp, dest, shorthand, [&](Vp& t) { start_on_sipi(t, vector); });
        return ok();
    }
    if (mode == 2 || mode == 3 || mode == 7) {
        refuse(vp, "SMI or reserved delivery mode", value);
        return ok();
    }
    if (mode <= 1 && (vector == arch::vector_call || vector == arch::vector_timer || vector < 16)) {
        refuse(vp, "IPI with a vector the hypervisor owns", value);
        return ok();
    }
    if (logical) {
        refuse(vp, "logical destination mode", value);
        return ok();
    }
    if (!apic::x2apic() && shorthand == 0 && dest > 0xff && dest != 0xffffffff) {
        refuse(vp, "destination beyond the xAPIC's 8-bit ids", value);
        return ok();
    }
    uint32_t phys_dest = apic::x2apic() ? dest : (dest == 0xffffffff ? 0xff : dest);
    if (!apic::send_icr(phys_dest, low & 0x000ccfffu))
        refuse(vp, "IPI the physical APIC did not accept", value);
    return ok();
}

bool timer_register(uint32_t msr) {
    return msr == msr_lvt_timer || msr == msr_initial || msr == msr_timer_current || msr == msr_divide;
}

} // namespace

Outcome x2apic_read(Vp& vp, uint32_t msr) {
    if (!readable(msr))
        return gp();
    if (timer_register(msr)) {
        uint64_t v = 0;
        return apic_timer_read(vp, msr, v) ? ok(v) : gp();
    }
    switch (msr) {
    case msr_id:
        return ok(vp.apic_id);
    case msr_ppr:
        return ok(root_ppr(vp));
    case msr_ldr:
        return ok(x2apic_ldr(vp.apic_id));
    case msr_icr:
        return ok(apic::read_reg(0x300));
    default:
        return ok(apic::read_reg(offset_of(msr)));
    }
}

Outcome x2apic_write(Vp& vp, uint32_t msr, uint64_t value) {
    if (!writable(msr))
        return gp();
    if (msr == msr_icr)
        return write_icr(vp, value);
    if (timer_register(msr))
        return apic_timer_write(vp, msr, value) ? ok() : gp();
    if (value >> 32)
        return gp();   // only the ICR is 64 bits wide
    auto v = static_cast<uint32_t>(value);
    switch (msr) {
    case msr_eoi:
        if (v != 0)
            return gp();   // x2APIC: a non-zero EOI write faults (SDM vol 3 11.12.1.2)
        if (!virtual_eoi(vp))
            apic::eoi();
        return ok();
    case msr_self_ipi:
        if ((v & 0xff) < 16 || (v & 0xff) == arch::vector_call || (v & 0xff) == arch::vector_timer)
            return gp();
        if (v >> 8)
            return gp();   // bits 31:8 reserved (SDM vol 3 11.12.11)
        raise_soft(vp, static_cast<uint8_t>(v));
        return ok();
    case msr_svr:
        // The APIC stays software-enabled: the hypervisor's own IPIs need it.
        apic::write_reg(0xf0, v | (1u << 8));
        return ok();
    default:
        apic::write_reg(offset_of(msr), v);
        return ok();
    }
}

} // namespace hv::virt
