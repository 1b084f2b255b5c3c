// The timer state machines of hv/virt/vtimer.hpp: the root's APIC timer (SDM vol 3 11.5.4) and
// the synthetic timers (TLFS "Synthetic Timers"), driven with explicit times.
#include "hv/virt/vtimer.hpp"

#include <gtest/gtest.h>

namespace {

using namespace hv::virt;

constexpr TimerClocks clocks{2'000'000'000, 1'000'000'000};   // TSC 2 GHz, bus 1 GHz

uint32_t lvt(uint32_t mode, uint8_t vector, bool masked = false) {
    return (mode << lvt_timer::mode_shift) | vector | (masked ? lvt_timer::masked : 0);
}

TEST(ApicTimer, DivideConfigurationEncodings) {
    EXPECT_EQ(apic_divisor(0b0000), 2u);
    EXPECT_EQ(apic_divisor(0b0001), 4u);
    EXPECT_EQ(apic_divisor(0b0011), 16u);
    EXPECT_EQ(apic_divisor(0b1010), 128u);
    EXPECT_EQ(apic_divisor(0b1011), 1u);
}

TEST(ApicTimer, OneShotFiresOnceAndCountsDown) {
    ApicTimer t;
    ASSERT_TRUE(apic_timer_write_lvt(t, lvt(lvt_timer::one_shot, 0x40)));
    t.divide = 0b1011;                                // divide by 1
    apic_timer_write_initial(t, 1000, 0, clocks);     // 1000 bus ticks = 2000 TSC ticks
    EXPECT_EQ(t.deadline, 2000u);
    EXPECT_EQ(apic_timer_current(t, 1000, clocks), 500u);
    uint8_t v = 0;
    EXPECT_FALSE(apic_timer_expire(t, 1999, v));
    EXPECT_TRUE(apic_timer_expire(t, 2000, v));
    EXPECT_EQ(v, 0x40);
    EXPECT_FALSE(apic_timer_expire(t, 5000, v));
    EXPECT_EQ(apic_timer_current(t, 5000, clocks), 0u);
}

TEST(ApicTimer, PeriodicReloadsAndSkipsMissedPeriods) {
    ApicTimer t;
    ASSERT_TRUE(apic_timer_write_lvt(t, lvt(lvt_timer::periodic, 0x41)));
    t.divide = 0b0000;                                // divide by 2: 100 ticks = 400 TSC
    apic_timer_write_initial(t, 100, 0, clocks);
    uint8_t v = 0;
    EXPECT_TRUE(apic_timer_expire(t, 400, v));
    EXPECT_EQ(t.deadline, 800u);
    EXPECT_TRUE(apic_timer_expire(t, 5000, v));       // far behind: one interrupt, next in the future
    EXPECT_GT(t.deadline, 5000u);
    apic_timer_write_initial(t, 0, 5000, clocks);     // a zero count stops it
    EXPECT_FALSE(apic_timer_expire(t, 1u << 30, v));
}

TEST(ApicTimer, TscDeadlineMode) {
    ApicTimer t;
    apic_timer_write_tsc_deadline(t, 777);            // ignored outside TSC-deadline mode
    EXPECT_EQ(apic_timer_read_tsc_deadline(t), 0u);
    ASSERT_TRUE(apic_timer_write_lvt(t, lvt(lvt_timer::tsc_deadline, 0x42)));
    apic_timer_write_initial(t, 100, 0, clocks);      // ignored in TSC-deadline mode
    EXPECT_EQ(t.deadline, 0u);
    apic_timer_write_tsc_deadline(t, 777);
    EXPECT_EQ(apic_timer_read_tsc_deadline(t), 777u);
    uint8_t v = 0;
    EXPECT_FALSE(apic_timer_expire(t, 776, v));
    EXPECT_TRUE(apic_timer_expire(t, 777, v));
    EXPECT_EQ(apic_timer_read_tsc_deadline(t), 0u);   // reads 0 once it fired
    apic_timer_write_tsc_deadline(t, 900);
    apic_timer_write_tsc_deadline(t, 0);               // disarmed
    EXPECT_FALSE(apic_timer_expire(t, 1000, v));
}

TEST(ApicTimer, MaskedExpiresSilentlyAndReservedModeRefused) {
    ApicTimer t;
    ASSERT_TRUE(apic_timer_write_lvt(t, lvt(lvt_timer::one_shot, 0x43, true)));
    apic_timer_write_initial(t, 10, 0, clocks);
    uint8_t v = 0;
    EXPECT_FALSE(apic_timer_expire(t, 1u << 20, v));
    EXPECT_EQ(t.deadline, 0u);
    EXPECT_FALSE(apic_timer_write_lvt(t, 3u << lvt_timer::mode_shift));
    EXPECT_FALSE(apic_timer_write_lvt(t, 1u << 20));   // reserved bit
}

TEST(ApicTimer, ModeChangeDisarms) {
    ApicTimer t;
    ASSERT_TRUE(apic_timer_write_lvt(t, lvt(lvt_timer::tsc_deadline, 0x44)));
    apic_timer_write_tsc_deadline(t, 100);
    ASSERT_TRUE(apic_timer_write_lvt(t, lvt(lvt_timer::one_shot, 0x44)));
    uint8_t v = 0;
    EXPECT_FALSE(apic_timer_expire(t, 1000, v));
}

uint64_t cfg(uint32_t sint, bool periodic = false, bool autoenable = false, bool enable = false) {
    return (uint64_t{sint} << stimer_cfg::sint_shift) | (periodic ? stimer_cfg::periodic : 0) |
           (autoenable ? stimer_cfg::auto_enable : 0) | (enable ? stimer_cfg::enable : 0);
}

TEST(Stimer, OneShotIsAbsoluteAndDisablesItself) {
    Stimer s;
    ASSERT_TRUE(stimer_write_config(s, cfg(2, false, true), 0));
    EXPECT_FALSE(s.enabled());
    stimer_write_count(s, 5000, 100);                 // auto-enable
    EXPECT_TRUE(s.enabled());
    uint64_t at = 0;
    EXPECT_FALSE(stimer_expire(s, 4999, at));
    EXPECT_TRUE(stimer_expire(s, 5003, at));
    EXPECT_EQ(at, 5000u);
    EXPECT_FALSE(s.enabled());
    EXPECT_FALSE(stimer_expire(s, 10000, at));
}

TEST(Stimer, PeriodicKeepsItsGridAndLazySlips) {
    Stimer s;
    stimer_write_count(s, 100, 0);
    ASSERT_TRUE(stimer_write_config(s, cfg(3, true, false, true), 1000));
    uint64_t at = 0;
    EXPECT_TRUE(stimer_expire(s, 1100, at));
    EXPECT_EQ(at, 1100u);
    EXPECT_EQ(s.deadline, 1200u);
    EXPECT_TRUE(stimer_expire(s, 1550, at));          // 1300, 1400 and 1500 fold into one
    EXPECT_EQ(s.deadline, 1600u);
    ASSERT_TRUE(stimer_write_config(s, cfg(3, true, false, true) | stimer_cfg::lazy, 2000));
    EXPECT_TRUE(stimer_expire(s, 2350, at));          // 2100 seen late, 2200 and 2300 missed
    EXPECT_EQ(s.deadline, 2450u);                     // lazy: one period from when it was seen
}

TEST(Stimer, CountZeroDisablesAndSintZeroCannotEnable) {
    Stimer s;
    ASSERT_TRUE(stimer_write_config(s, cfg(0, false, false, true), 0));
    EXPECT_FALSE(s.enabled());                        // message mode needs a SINT
    ASSERT_TRUE(stimer_write_config(s, cfg(1, false, false, true), 0));
    stimer_write_count(s, 50, 0);
    EXPECT_TRUE(s.enabled());
    stimer_write_count(s, 0, 0);
    EXPECT_FALSE(s.enabled());
}

TEST(Stimer, DirectModeAndReservedBits) {
    Stimer s;
    uint64_t direct = stimer_cfg::direct_mode | stimer_cfg::enable;
    EXPECT_FALSE(stimer_write_config(s, direct | (uint64_t{8} << stimer_cfg::vector_shift), 0));   // vector < 16
    EXPECT_TRUE(stimer_write_config(s, direct | (uint64_t{0x50} << stimer_cfg::vector_shift), 0));
    EXPECT_EQ(s.vector(), 0x50);
    EXPECT_TRUE(s.enabled());                         // direct mode needs no SINT
    EXPECT_FALSE(stimer_write_config(s, 1ull << 13, 0));
    EXPECT_FALSE(stimer_write_config(s, 1ull << 20, 0));
    EXPECT_FALSE(stimer_write_config(s, 1ull << 63, 0));
}

TEST(Stimer, AbsurdCountsNeitherWrapNorFireEarly) {
    Stimer s;
    ASSERT_TRUE(stimer_write_config(s, cfg(1, true, false, true), 0));
    stimer_write_count(s, ~0ull, 10);                 // a periodic count of 2^64 - 1
    uint64_t at = 0;
    EXPECT_FALSE(stimer_expire(s, 1ull << 62, at));
}

} // namespace
