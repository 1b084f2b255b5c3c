#include "partitions/root/vapic.hpp"

namespace root {
namespace {

// Register offsets (SDM vol 3 table 10-1).
enum : uint32_t {
    reg_id = 0x20, reg_version = 0x30, reg_tpr = 0x80, reg_apr = 0x90, reg_ppr = 0xa0, reg_eoi = 0xb0,
    reg_ldr = 0xd0, reg_dfr = 0xe0, reg_svr = 0xf0, reg_esr = 0x280, reg_icr_low = 0x300, reg_icr_high = 0x310,
    reg_lvt_first = 0x320, reg_lvt_last = 0x370, reg_initial = 0x380, reg_current = 0x390, reg_divide = 0x3e0,
};
constexpr uint32_t lvt_masked = 1u << 16, lvt_periodic = 1u << 17;
constexpr uint32_t lvt_reset = lvt_masked;

// SDM 10.5.4 figure 10-10: bits 0, 1 and 3 encode divide by 2, 4, ... 128, or 1 (0b1011).
uint32_t divisor(uint32_t dcr) {
    uint32_t code = (dcr & 3) | ((dcr >> 1) & 4);
    return 1u << ((code + 1) & 7);
}

} // namespace

void Vapic::reset(uint32_t apic_id, uint64_t tsc_khz) {
    *this = Vapic{};
    id_ = apic_id;
    tsc_khz_ = tsc_khz ? tsc_khz : 1000000;
    for (uint32_t& l : lvt_)
        l = lvt_reset;
}

uint64_t Vapic::period_tsc() const {
    // Bus ticks at 1 GHz are nanoseconds: ns * kHz / 10^6 = TSC ticks.
    uint64_t ns = uint64_t{initial_} * divisor(divide_);
    return ns * tsc_khz_ / 1000000 + 1;
}

uint32_t Vapic::read(uint32_t off, uint64_t now) const {
    switch (off) {
    case reg_id: return id_ << 24;
    case reg_version: return 0x00050014;   // version 0x14 (integrated), 6 LVT entries
    case reg_tpr: return tpr_;
    case reg_apr:
    case reg_ppr: return tpr_ & 0xf0;
    case reg_ldr: return ldr_;
    case reg_dfr: return dfr_;
    case reg_svr: return svr_;
    case reg_esr: return esr_;
    case reg_icr_low: return icr_low_ & ~(1u << 12);   // delivery status: always idle
    case reg_icr_high: return icr_high_;
    case reg_initial: return initial_;
    case reg_divide: return divide_;
    case reg_current: {
        if (!deadline_ || now >= deadline_)
            return 0;
        uint64_t left_ns = (deadline_ - now) * 1000000 / tsc_khz_;
        return static_cast<uint32_t>(left_ns / divisor(divide_));
    }
    default:
        if (off >= reg_lvt_first && off <= reg_lvt_last && off % 16 == 0)
            return lvt_[(off - reg_lvt_first) / 16];
        return 0;   // ISR, TMR, IRR and reserved registers
    }
}

Ipi Vapic::write(uint32_t off, uint32_t v, uint64_t now) {
    switch (off) {
    case reg_tpr: tpr_ = v & 0xff; break;
    case reg_ldr: ldr_ = v & 0xff000000; break;
    case reg_dfr: dfr_ = v | 0x0fffffff; break;
    case reg_svr: svr_ = v & 0x13ff; break;
    case reg_esr: esr_ = 0; break;
    case reg_icr_high: icr_high_ = v & 0xff000000; break;
    case reg_initial:
        initial_ = v;
        deadline_ = v ? now + period_tsc() : 0;   // SDM 10.5.4: a write starts the count
        break;
    case reg_divide: divide_ = v & 0xb; break;
    case reg_icr_low: {
        icr_low_ = v;
        Ipi ipi;
        ipi.vector = static_cast<uint8_t>(v);
        ipi.apic_id = icr_high_ >> 24;
        ipi.dest = static_cast<Ipi::Dest>((v >> 18) & 3);   // shorthand
        switch ((v >> 8) & 7) {                             // delivery mode (SDM 10.6.1)
        case 0:
        case 1: ipi.kind = Ipi::Kind::fixed; break;          // lowest priority: as fixed
        case 4: ipi.kind = Ipi::Kind::nmi; break;
        case 5:
            // INIT level de-assert (level 0, trigger level) does nothing on modern processors.
            ipi.kind = ((v >> 14) & 1) == 0 && ((v >> 15) & 1) ? Ipi::Kind::none : Ipi::Kind::init;
            break;
        case 6: ipi.kind = Ipi::Kind::sipi; break;
        default: break;                                      // SMI, ExtINT: not offered
        }
        return ipi;
    }
    default:
        if (off >= reg_lvt_first && off <= reg_lvt_last && off % 16 == 0)
            lvt_[(off - reg_lvt_first) / 16] = v & 0x3f7ff;
        break;   // EOI, read-only and reserved registers
    }
    return {};
}

bool Vapic::timer_fire(uint64_t now, uint8_t& vector) {
    if (!deadline_ || now < deadline_)
        return false;
    uint32_t lvt = lvt_[0];
    if ((lvt & lvt_periodic) && initial_) {
        uint64_t p = period_tsc();
        deadline_ += p;
        if (deadline_ <= now)   // far behind (the root was busy): skip the missed periods
            deadline_ = now + p;
    } else {
        deadline_ = 0;
    }
    vector = static_cast<uint8_t>(lvt);
    // A software-disabled APIC (SVR bit 8 clear) masks every LVT entry (SDM 10.4.7.2).
    return !(lvt & lvt_masked) && (svr_ & 0x100) && vector >= 16;
}

} // namespace root
