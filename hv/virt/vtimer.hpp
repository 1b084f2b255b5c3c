// Timers the hypervisor emulates for a VP: the local APIC timer of the root's virtual x2APIC
// (Intel SDM vol 3 11.5.4: one-shot, periodic and TSC-deadline modes) and the four synthetic
// timers of the TLFS (ch. 12.10, STIMER0-3). The hypervisor owns the processor's physical APIC
// timer and arms it for the earliest deadline of the VP that runs there (vtimer.cpp); the state
// machines below are pure (host unit tests, tests/unit/vtimer_test.cpp).
//
// Time bases: the APIC timer counts at virtual_apic_bus_hz (what the APIC frequency MSR reports)
// divided by the divide configuration; deadlines are kept in TSC ticks. Synthetic timers count in the
// partition's reference time (100 ns units); their deadlines are kept in reference time.
#pragma once
#include <stdint.h>

#include "hv/virt/synthetic_time.hpp"

namespace hv {
struct Vp;
}

namespace hv::virt {

// ---- The APIC timer (x2APIC MSRs 0x832 LVT timer, 0x838 initial, 0x839 current, 0x83e divide;
// IA32_TSC_DEADLINE 0x6e0) ----
namespace lvt_timer {
inline constexpr uint32_t vector_mask = 0xff;
inline constexpr uint32_t masked = 1u << 16;
inline constexpr uint32_t mode_shift = 17, mode_mask = 3u << mode_shift;
inline constexpr uint32_t one_shot = 0, periodic = 1, tsc_deadline = 2;   // bits 18:17
inline constexpr uint32_t writable = vector_mask | masked | mode_mask;
} // namespace lvt_timer

// The bus clock of every virtual local APIC timer, and what the TLFS APIC frequency MSR
// reports: fixed, so a guest's timer does not depend on the physical bus (10 MHz under Bochs,
// 1 GHz under QEMU, 25-200 MHz on servers); the physical timer only serves the deadlines.
inline constexpr uint64_t virtual_apic_bus_hz = 1'000'000'000;

// The clocks the timer math needs, read once by the caller.
struct TimerClocks {
    uint64_t tsc_hz;
    uint64_t bus_hz;   // the APIC timer's input clock before the divider
};

struct ApicTimer {
    uint32_t lvt = lvt_timer::masked;   // reset value (SDM vol 3 11.4.7.1)
    uint32_t initial = 0;
    uint32_t divide = 0;
    uint64_t deadline = 0;       // TSC of the next expiry; 0: not armed
    uint64_t period = 0;         // TSC ticks of one count (periodic mode reloads it)
    uint64_t tsc_deadline = 0;   // IA32_TSC_DEADLINE as armed; 0 once it fired or was disarmed

    [[nodiscard]] uint32_t mode() const { return (lvt & lvt_timer::mode_mask) >> lvt_timer::mode_shift; }
};

// SDM vol 3 figure 11-10: bits 0, 1 and 3 of the divide configuration give 2, 4, ... 128, or 1.
[[nodiscard]] constexpr uint32_t apic_divisor(uint32_t dcr) {
    uint32_t code = (dcr & 3) | ((dcr >> 1) & 4);
    return 1u << ((code + 1) & 7);
}

// TSC ticks for `count` timer ticks. Saturates instead of wrapping (count * 128 fits 39 bits).
[[nodiscard]] inline uint64_t apic_count_to_tsc(uint64_t count, uint32_t divisor, const TimerClocks& c) {
    return c.bus_hz ? mul_div(count * divisor, c.tsc_hz, c.bus_hz) : 0;
}

// False: the value is refused with #GP (mode 11b is reserved, SDM vol 3 figure 11-8).
[[nodiscard]] inline bool apic_timer_write_lvt(ApicTimer& t, uint32_t v) {
    if (v & ~lvt_timer::writable)
        return false;
    if (((v & lvt_timer::mode_mask) >> lvt_timer::mode_shift) == 3)
        return false;
    uint32_t old_mode = t.mode();
    t.lvt = v;
    if (t.mode() != old_mode) {
        // A mode change disarms the timer (SDM vol 3 11.5.4.1).
        t.deadline = 0;
        t.tsc_deadline = 0;
        t.initial = 0;
    }
    return true;
}

// A write of the initial count starts (or with 0 stops) the count; ignored in TSC-deadline mode.
inline void apic_timer_write_initial(ApicTimer& t, uint32_t v, uint64_t now, const TimerClocks& c) {
    if (t.mode() == lvt_timer::tsc_deadline)
        return;
    t.initial = v;
    t.period = v ? apic_count_to_tsc(v, apic_divisor(t.divide), c) : 0;
    if (v && !t.period)
        t.period = 1;
    t.deadline = v ? now + t.period : 0;
}

[[nodiscard]] inline uint32_t apic_timer_current(const ApicTimer& t, uint64_t now, const TimerClocks& c) {
    if (t.mode() == lvt_timer::tsc_deadline || !t.deadline || now >= t.deadline || !c.tsc_hz)
        return 0;
    uint64_t ticks = mul_div(t.deadline - now, c.bus_hz, c.tsc_hz) / apic_divisor(t.divide);
    return ticks > t.initial ? t.initial : static_cast<uint32_t>(ticks);
}

// IA32_TSC_DEADLINE: arms in TSC-deadline mode (0 disarms); writes in other modes are ignored
// and reads there return 0 (SDM vol 3 11.5.4.1).
inline void apic_timer_write_tsc_deadline(ApicTimer& t, uint64_t v) {
    if (t.mode() != lvt_timer::tsc_deadline)
        return;
    t.tsc_deadline = v;
    t.deadline = v;
}
[[nodiscard]] inline uint64_t apic_timer_read_tsc_deadline(const ApicTimer& t) {
    return t.mode() == lvt_timer::tsc_deadline ? t.tsc_deadline : 0;
}

// At `now`: true when the timer expired and its interrupt must be raised (vector set). A
// periodic count reloads; one that fell behind by whole periods skips them (one interrupt).
[[nodiscard]] inline bool apic_timer_expire(ApicTimer& t, uint64_t now, uint8_t& vector) {
    if (!t.deadline || now < t.deadline)
        return false;
    if (t.mode() == lvt_timer::periodic && t.period) {
        t.deadline += t.period;
        if (t.deadline <= now)
            t.deadline = now + t.period;
    } else {
        t.deadline = 0;
        t.tsc_deadline = 0;
    }
    vector = static_cast<uint8_t>(t.lvt & lvt_timer::vector_mask);
    return !(t.lvt & lvt_timer::masked) && vector >= 16;
}

// ---- Synthetic timers (TLFS 12.10; HV_X64_MSR_STIMERn_CONFIG/COUNT) ----
inline constexpr uint32_t stimer_count = 4;
namespace stimer_cfg {
inline constexpr uint64_t enable = 1ull << 0, periodic = 1ull << 1, lazy = 1ull << 2, auto_enable = 1ull << 3;
inline constexpr uint32_t vector_shift = 4;
inline constexpr uint64_t vector_mask = 0xffull << vector_shift;
inline constexpr uint64_t direct_mode = 1ull << 12;
inline constexpr uint32_t sint_shift = 16;
inline constexpr uint64_t sint_mask = 0xfull << sint_shift;
inline constexpr uint64_t valid = enable | periodic | lazy | auto_enable | vector_mask | direct_mode | sint_mask;
} // namespace stimer_cfg

struct Stimer {
    uint64_t config = 0;
    uint64_t count = 0;
    uint64_t deadline = 0;          // reference time of the next expiry; 0: not armed
    bool message_waiting = false;   // an expiry message waits for its SIMP slot to empty
    uint64_t waiting_expiration = 0;

    [[nodiscard]] bool enabled() const { return config & stimer_cfg::enable; }
    [[nodiscard]] bool periodic() const { return config & stimer_cfg::periodic; }
    [[nodiscard]] bool direct() const { return config & stimer_cfg::direct_mode; }
    [[nodiscard]] uint32_t sint() const { return static_cast<uint32_t>((config & stimer_cfg::sint_mask) >> stimer_cfg::sint_shift); }
    [[nodiscard]] uint8_t vector() const { return static_cast<uint8_t>((config & stimer_cfg::vector_mask) >> stimer_cfg::vector_shift); }
};

[[nodiscard]] constexpr uint64_t saturating_add(uint64_t a, uint64_t b) { return a + b < a ? ~0ull : a + b; }

// (Re)arms from the count at reference time `now`: a one-shot count is the absolute expiry, a
// periodic one the period (first expiry one period from now). A zero count does not arm.
inline void stimer_arm(Stimer& s, uint64_t now) {
    if (!s.enabled() || s.count == 0) {
        s.deadline = 0;
        return;
    }
    s.deadline = s.periodic() ? saturating_add(now, s.count) : s.count;
}

// A config write. False: #GP (a reserved bit, or a direct-mode vector below 16 while enabled).
// A message-mode timer with SINTx 0 cannot be enabled: the enable bit is cleared (TLFS 12.10.1:
// SINT 0 does not deliver timer messages).
[[nodiscard]] inline bool stimer_write_config(Stimer& s, uint64_t v, uint64_t now) {
    if (v & ~stimer_cfg::valid)
        return false;
    Stimer n = s;
    n.config = v;
    if (n.enabled() && n.direct() && n.vector() < 16)
        return false;
    if (n.enabled() && !n.direct() && n.sint() == 0)
        n.config &= ~stimer_cfg::enable;
    n.message_waiting = false;   // a rewrite drops an expiry that still waited for its slot
    s = n;
    stimer_arm(s, now);
    return true;
}

// A count write: 0 disables the timer; with auto-enable a non-zero count enables it.
inline void stimer_write_count(Stimer& s, uint64_t v, uint64_t now) {
    s.count = v;
    if (v == 0)
        s.config &= ~stimer_cfg::enable;
    else if ((s.config & stimer_cfg::auto_enable) && (s.direct() || s.sint() != 0))
        s.config |= stimer_cfg::enable;
    stimer_arm(s, now);
}

// At reference time `now`: true when the timer expired (its expiration time in `expired_at`).
// A one-shot timer disables itself; a periodic one moves to its next expiry, skipping the
// periods already past (lazy or not: one message stands for them, TLFS 12.10.3).
[[nodiscard]] inline bool stimer_expire(Stimer& s, uint64_t now, uint64_t& expired_at) {
    if (!s.enabled() || !s.deadline || now < s.deadline)
        return false;
    expired_at = s.deadline;
    if (s.periodic()) {
        uint64_t next = saturating_add(s.deadline, s.count);
        if (next <= now)
            next = (s.config & stimer_cfg::lazy) ? saturating_add(now, s.count)
                                                 : saturating_add(next, ((now - next) / s.count + 1) * s.count);
        s.deadline = next;
    } else {
        s.deadline = 0;
        s.config &= ~stimer_cfg::enable;
    }
    return true;
}

// Everything the hypervisor times for one VP.
struct VpTimers {
    ApicTimer apic{};
    Stimer stimer[stimer_count]{};
};

// ---- The glue (vtimer.cpp): runs on the processor of the VP whose timers it touches ----
// The root VP pinned to this processor owns the physical APIC timer from now on.
void timers_attach(Vp& vp);
// A child VP is dispatched on this processor / comes back (halted: its timers keep running
// here, and an expiry wakes it through the root's scheduler) / is deleted.
void timers_enter(Vp& vp);
void timers_leave(Vp& vp, bool halted);
void timers_forget(Vp& vp);
// `vp` (running here) changed its APIC timer: rearm.
void timers_changed(Vp& vp);
[[nodiscard]] TimerClocks timer_clocks();
// x2APIC timer registers and IA32_TSC_DEADLINE of the root's virtual APIC. False: #GP.
[[nodiscard]] bool apic_timer_read(Vp& vp, uint32_t msr, uint64_t& value);
[[nodiscard]] bool apic_timer_write(Vp& vp, uint32_t msr, uint64_t value);
inline constexpr uint32_t msr_tsc_deadline = 0x6e0;
// HV_X64_MSR_STIMERn_CONFIG/COUNT. False: #GP.
[[nodiscard]] constexpr bool is_stimer_msr(uint32_t msr) { return msr >= 0x400000b0 && msr <= 0x400000b7; }
[[nodiscard]] bool stimer_read(Vp& vp, uint32_t msr, uint64_t& value);
[[nodiscard]] bool stimer_write(Vp& vp, uint32_t msr, uint64_t value);
// After an EOM: expiry messages that waited for a busy slot try again.
void stimer_retry_messages(Vp& vp);

} // namespace hv::virt
