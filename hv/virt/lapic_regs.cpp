// The register semantics of a child's local APIC (hv/virt/lapic.hpp), SDM vol 3 ch. 11.
#include "hv/virt/lapic.hpp"

namespace hv::virt {
namespace {

constexpr uint32_t lvt_masked = 1u << 16;
// Writable bits per LVT entry (SDM vol 3 figure 11-8): vector, delivery mode, polarity, trigger
// and mask where the entry has them.
constexpr uint32_t lvt_writable[6] = {
    0x000107ff,   // CMCI: vector, delivery mode, mask
    0x000107ff,   // thermal
    0x000107ff,   // performance
    0x0001a7ff,   // LINT0: + polarity, trigger
    0x0001a7ff,   // LINT1
    0x000100ff,   // error: vector, mask
};

int lvt_index(uint32_t offset) {
    switch (offset) {
    case apic_reg::lvt_cmci: return 0;
    case apic_reg::lvt_thermal: return 1;
    case apic_reg::lvt_perf: return 2;
    case apic_reg::lvt_lint0: return 3;
    case apic_reg::lvt_lint1: return 4;
    case apic_reg::lvt_error: return 5;
    default: return -1;
    }
}

uint32_t word_of(const uint64_t (&set)[4], uint32_t n) {   // 32-bit register n of a 256-bit set
    return static_cast<uint32_t>(set[n / 2] >> ((n % 2) * 32));
}

IpiRequest decode_icr(uint32_t low, uint32_t dest) {
    IpiRequest r;
    r.vector = static_cast<uint8_t>(low);
    r.logical = low & (1u << 11);
    r.shorthand = static_cast<uint8_t>((low >> 18) & 3);
    r.dest = dest;
    switch ((low >> 8) & 7) {   // delivery mode (SDM vol 3 11.6.1)
    case 0:
    case 1: r.kind = IpiRequest::Kind::fixed; break;   // lowest priority: delivered as fixed
    case 4: r.kind = IpiRequest::Kind::nmi; break;
    case 5:
        // INIT level de-assert (level 0, trigger level) does nothing on modern processors.
        r.kind = (!(low & (1u << 14)) && (low & (1u << 15))) ? IpiRequest::Kind::none : IpiRequest::Kind::init;
        break;
    case 6: r.kind = IpiRequest::Kind::sipi; break;
    default: break;   // SMI, remote read, ExtINT: not offered
    }
    if (r.kind == IpiRequest::Kind::fixed && r.vector < 16)
        r.kind = IpiRequest::Kind::none;   // an illegal vector: the send fails (ESR bit 5)
    return r;
}

} // namespace

bool apic_read(const ApicRegs& a, const ApicTimer& t, const uint64_t (&irr)[4], const uint64_t (&isr)[4],
               uint32_t offset, uint64_t now, const TimerClocks& c, uint64_t& value) {
    bool x2 = a.x2apic;
    value = 0;
    switch (offset) {
    case apic_reg::id: value = x2 ? a.id : a.id << 24; return true;
    case apic_reg::version: value = 0x00050014; return true;   // integrated APIC, 6 LVT entries
    case apic_reg::tpr: value = a.tpr; return true;
    case apic_reg::apr: if (x2) return false; return true;        // no arbitration priority in x2APIC
    case apic_reg::ppr: value = apic_ppr(a.tpr, isr); return true;
    case apic_reg::ldr: value = x2 ? x2apic_ldr(a.id) : a.ldr; return true;
    case apic_reg::dfr: if (x2) return false; value = a.dfr; return true;
    case apic_reg::svr: value = a.svr; return true;
    case apic_reg::esr: value = a.esr; return true;
    case apic_reg::icr_low:
        value = x2 ? (uint64_t{a.icr_high} << 32 | a.icr_low) : a.icr_low & ~(1u << 12);   // always idle
        return true;
    case apic_reg::icr_high: if (x2) return false; value = a.icr_high; return true;
    case apic_reg::lvt_timer: value = t.lvt; return true;
    case apic_reg::timer_initial: value = t.initial; return true;
    case apic_reg::timer_current: value = apic_timer_current(t, now, c); return true;
    case apic_reg::timer_divide: value = t.divide; return true;
    case apic_reg::eoi:
    case apic_reg::self_ipi:
    case apic_reg::rrd:
        return !x2;   // write-only or absent: #GP in x2APIC mode
    default:
        break;
    }
    if (offset >= apic_reg::isr && offset < apic_reg::isr + 0x80) {
        value = word_of(isr, (offset - apic_reg::isr) / 16);
        return true;
    }
    if (offset >= apic_reg::tmr && offset < apic_reg::tmr + 0x80)
        return true;   // every interrupt here is edge-triggered
    if (offset >= apic_reg::irr && offset < apic_reg::irr + 0x80) {
        value = word_of(irr, (offset - apic_reg::irr) / 16);
        return true;
    }
    if (int i = lvt_index(offset); i >= 0) {
        value = a.lvt[i];
        return true;
    }
    return !x2;   // reserved: #GP in x2APIC mode, reads as 0 in the page
}

ApicWrite apic_write(ApicRegs& a, ApicTimer& t, uint32_t offset, uint64_t value, uint64_t now, const TimerClocks& c) {
    ApicWrite w;
    bool x2 = a.x2apic;
    if (x2 && offset != apic_reg::icr_low && (value >> 32)) {
        w.gp = true;   // only the ICR is 64 bits wide
        return w;
    }
    auto v = static_cast<uint32_t>(value);
    bool soft_enabled = a.svr & (1u << 8);
    switch (offset) {
    case apic_reg::tpr: a.tpr = v & 0xff; return w;
    case apic_reg::eoi:
        if (x2 && v)
            w.gp = true;   // a non-zero x2APIC EOI faults (SDM vol 3 11.12.1.2)
        else
            w.eoi = true;
        return w;
    case apic_reg::ldr:
        if (x2)
            w.gp = true;   // read-only in x2APIC mode
        else
            a.ldr = v & 0xff000000;
        return w;
    case apic_reg::dfr:
        if (x2)
            w.gp = true;
        else
            a.dfr = v | 0x0fffffff;
        return w;
    case apic_reg::svr:
        a.svr = v & 0x11ff;   // vector, APIC software enable, EOI-broadcast suppression
        if (!(a.svr & (1u << 8))) {
            // Software disable masks every LVT entry (SDM vol 3 11.4.7.2).
            t.lvt |= lvt_masked;
            for (uint32_t& l : a.lvt)
                l |= lvt_masked;
            w.timer = true;
        }
        return w;
    case apic_reg::esr:
        if (x2 && v)
            w.gp = true;
        else
            a.esr = 0;   // a write clears it (SDM vol 3 11.5.3)
        return w;
    case apic_reg::icr_low:
        if (x2) {
            if (value & x2apic_icr_reserved) {
                w.gp = true;
                return w;
            }
            a.icr_low = v & ~(1u << 12);
            a.icr_high = static_cast<uint32_t>(value >> 32);
            w.ipi = decode_icr(a.icr_low, a.icr_high);
        } else {
            a.icr_low = v & 0x000cdfff;
            w.ipi = decode_icr(a.icr_low, a.icr_high >> 24);
        }
        if (w.ipi.kind == IpiRequest::Kind::none && ((v >> 8) & 7) <= 1 && (v & 0xff) < 16)
            a.esr |= 1u << 5;   // send illegal vector
        return w;
    case apic_reg::icr_high:
        if (x2)
            w.gp = true;
        else
            a.icr_high = v & 0xff000000;
        return w;
    case apic_reg::lvt_timer: {
        uint32_t lv = v & lvt_timer::writable;
        if (!soft_enabled)
            lv |= lvt_masked;
        if (!apic_timer_write_lvt(t, lv) && x2)
            w.gp = true;
        w.timer = true;
        return w;
    }
    case apic_reg::timer_initial:
        apic_timer_write_initial(t, v, now, c);
        w.timer = true;
        return w;
    case apic_reg::timer_divide:
        t.divide = v & 0xb;
        return w;
    case apic_reg::self_ipi:
        if (!x2)
            return w;   // not in the xAPIC page
        if (v >> 8) {
            w.gp = true;
            return w;
        }
        w.ipi = decode_icr(v & 0xff, 0);
        w.ipi.shorthand = 1;
        return w;
    default:
        break;
    }
    if (int i = lvt_index(offset); i >= 0) {
        a.lvt[i] = (v & lvt_writable[i]) | (soft_enabled ? 0 : lvt_masked);
        return w;
    }
    // Read-only (ID, version, PPR, ISR, TMR, IRR, current count) and reserved registers: the
    // x2APIC faults, the xAPIC page ignores the write (the ID is read-only here: it is the VP's).
    w.gp = x2;
    return w;
}

bool apic_is_target(const ApicRegs& target, const IpiRequest& ipi, uint32_t sender_id) {
    bool self = target.id == sender_id;
    switch (ipi.shorthand) {
    case 1: return self;
    case 2: return true;
    case 3: return !self;
    default: break;
    }
    if (!ipi.logical) {
        uint32_t broadcast = target.x2apic ? 0xffffffffu : 0xffu;
        return ipi.dest == broadcast || ipi.dest == target.id;
    }
    if (target.x2apic) {   // cluster: the high 16 bits name the cluster, the low 16 a bit mask
        if (ipi.dest == 0xffffffffu)
            return true;
        uint32_t ldr = x2apic_ldr(target.id);
        return (ipi.dest >> 16) == (ldr >> 16) && (ipi.dest & ldr & 0xffff);
    }
    uint32_t mda = ipi.dest & 0xff, ldr = target.ldr >> 24;
    if (mda == 0xff)
        return true;
    if ((target.dfr >> 28) == 0xf)   // flat model: a bit mask
        return mda & ldr;
    // cluster model: cluster in 7:4, member mask in 3:0
    return (mda >> 4) == (ldr >> 4) && (mda & ldr & 0xf);
}

bool apic_base_write(ApicRegs& a, uint64_t value) {
    using namespace apic_base_msr;
    uint64_t base = value & ~0xfffull;
    if ((value & 0xfffull & ~(bsp | extd | enable)) || (value >> 52))
        return false;   // reserved bits (MAXPHYADDR aside)
    if ((value & enable) && base != apic_default_base)
        return false;   // moving the page is not offered
    bool en = value & enable, x2 = value & extd;
    if (x2 && !en)
        return false;   // invalid state (SDM vol 3 table 11-5)
    if (a.x2apic && en && !x2)
        return false;   // x2APIC to xAPIC directly: illegal (SDM vol 3 11.12.5)
    if (!a.enabled && x2 && !a.x2apic)
        return false;   // disabled to x2APIC directly: illegal
    a.enabled = en;
    a.x2apic = x2;
    return true;
}

uint64_t apic_base_read(const ApicRegs& a, bool is_bsp) {
    using namespace apic_base_msr;
    return apic_default_base | (a.enabled ? enable : 0) | (a.x2apic ? extd : 0) | (is_bsp ? bsp : 0);
}

} // namespace hv::virt
