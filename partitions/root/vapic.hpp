// The local APIC a child sees at 0xFEE00000 (xAPIC mode; children are offered no x2APIC),
// emulated by the root from the hypervisor's memory intercepts: ID, version, TPR, EOI, SVR,
// LDR/DFR, the LVT, ICR and the timer (Intel SDM vol 3 10.4-10.6). Interrupts themselves are
// delivered by the hypervisor (HvCallAssertVirtualInterrupt), so there is no IRR/ISR here: EOI
// is accepted and ignored. The timer counts at a 1 GHz bus clock, QEMU's, measured with the
// root's TSC. Pure state: what an access asks of the root comes back as an Ipi to send.
#pragma once
#include <stdint.h>

namespace root {

inline constexpr uint64_t apic_base_gpa = 0xfee00000;

struct Ipi {
    enum class Kind : uint8_t { none, fixed, nmi, init, sipi } kind = Kind::none;
    enum class Dest : uint8_t { one, self, all, others } dest = Dest::one;
    uint32_t apic_id = 0;
    uint8_t vector = 0;
};

class Vapic {
  public:
    void reset(uint32_t apic_id, uint64_t tsc_khz);
    [[nodiscard]] uint32_t read(uint32_t offset, uint64_t now_tsc) const;
    // Returns the IPI an ICR write asks for (kind none otherwise).
    [[nodiscard]] Ipi write(uint32_t offset, uint32_t value, uint64_t now_tsc);
    // When the timer is due at `now_tsc`: true with its vector (once per expiry; a periodic
    // timer re-arms). Masked expiries re-arm too but return false.
    [[nodiscard]] bool timer_fire(uint64_t now_tsc, uint8_t& vector);
    [[nodiscard]] bool timer_armed() const { return deadline_ != 0; }
    [[nodiscard]] uint32_t id() const { return id_; }

  private:
    [[nodiscard]] uint64_t period_tsc() const;
    uint32_t id_ = 0;
    uint64_t tsc_khz_ = 1000000;
    uint32_t tpr_ = 0, ldr_ = 0, dfr_ = 0xffffffff, svr_ = 0xff, esr_ = 0;
    uint32_t icr_low_ = 0, icr_high_ = 0;
    uint32_t lvt_[6] = {};   // timer, thermal, perf, LINT0, LINT1, error (0x320-0x370)
    uint32_t initial_ = 0, divide_ = 0;
    uint64_t deadline_ = 0;  // TSC of the next expiry, 0 when stopped
};

} // namespace root
