// A child's local APIC register file (hv/virt/lapic.hpp, SDM vol 3 ch. 11): both access forms,
// the priority registers, the ICR's decoding and destinations, and IA32_APIC_BASE transitions.
#include "hv/virt/lapic.hpp"

#include <gtest/gtest.h>

namespace {

using namespace hv::virt;

constexpr TimerClocks clocks{2'000'000'000, 1'000'000'000};

struct Apic {
    ApicRegs regs;
    ApicTimer timer;
    uint64_t irr[4] = {}, isr[4] = {};

    bool read(uint32_t off, uint64_t& v) const { return apic_read(regs, timer, irr, isr, off, 0, clocks, v); }
    uint64_t read(uint32_t off) const {
        uint64_t v = 0;
        EXPECT_TRUE(read(off, v)) << std::hex << off;
        return v;
    }
    ApicWrite write(uint32_t off, uint64_t v) { return apic_write(regs, timer, off, v, 0, clocks); }
};

TEST(Lapic, IdAndVersionInBothModes) {
    Apic a;
    a.regs.id = 3;
    EXPECT_EQ(a.read(apic_reg::id), 3u << 24);
    EXPECT_EQ(a.read(apic_reg::version) & 0xff, 0x14u);
    a.regs.x2apic = true;
    EXPECT_EQ(a.read(apic_reg::id), 3u);
    EXPECT_EQ(a.read(apic_reg::ldr), (0u << 16) | (1u << 3));   // x2APIC logical id from the id
}

TEST(Lapic, PprFollowsTprAndInService) {
    Apic a;
    a.write(apic_reg::tpr, 0x35);
    EXPECT_EQ(a.read(apic_reg::ppr), 0x35u);
    a.isr[1] = 1ull << (0x51 - 64);                // vector 0x51 in service
    EXPECT_EQ(a.read(apic_reg::ppr), 0x50u);
    a.write(apic_reg::tpr, 0x62);
    EXPECT_EQ(a.read(apic_reg::ppr), 0x62u);
    EXPECT_EQ(apic_ppr(0, a.isr), 0x50u);
}

TEST(Lapic, IsrAndIrrReadAsEightRegisters) {
    Apic a;
    a.irr[1] = 1ull << (0x61 - 64);                // vector 0x61: IRR register 3, bit 1
    a.isr[3] = 1ull << 63;                         // vector 0xff: ISR register 7, bit 31
    EXPECT_EQ(a.read(apic_reg::irr + 0x30), 1u << 1);
    EXPECT_EQ(a.read(apic_reg::isr + 0x70), 1u << 31);
    EXPECT_EQ(a.read(apic_reg::isr), 0u);
}

TEST(Lapic, EoiAndX2apicFaults) {
    Apic a;
    EXPECT_TRUE(a.write(apic_reg::eoi, 0).eoi);
    a.regs.x2apic = true;
    EXPECT_TRUE(a.write(apic_reg::eoi, 1).gp);     // non-zero EOI in x2APIC mode
    uint64_t v;
    EXPECT_FALSE(a.read(apic_reg::eoi, v));        // write-only
    EXPECT_FALSE(a.read(apic_reg::dfr, v));        // no DFR in x2APIC mode
    EXPECT_TRUE(a.write(apic_reg::ldr, 1).gp);     // read-only
    EXPECT_TRUE(a.write(apic_reg::tpr, 1ull << 32).gp);
    EXPECT_TRUE(a.write(0x3a0, 0).gp);             // reserved
    a.regs.x2apic = false;
    EXPECT_FALSE(a.write(0x3a0, 0).gp);            // the page ignores it
}

TEST(Lapic, XapicIcrSendsOnLowWrite) {
    Apic a;
    EXPECT_EQ(a.write(apic_reg::icr_high, 2u << 24).ipi.kind, IpiRequest::Kind::none);
    ApicWrite w = a.write(apic_reg::icr_low, 0x4041);   // fixed, level assert, vector 0x41
    EXPECT_EQ(w.ipi.kind, IpiRequest::Kind::fixed);
    EXPECT_EQ(w.ipi.vector, 0x41);
    EXPECT_EQ(w.ipi.dest, 2u);
    EXPECT_EQ(a.read(apic_reg::icr_low) & (1u << 12), 0u);   // delivery status: idle
    EXPECT_EQ(a.write(apic_reg::icr_low, 0x0000c500).ipi.kind, IpiRequest::Kind::init);
    EXPECT_EQ(a.write(apic_reg::icr_low, 0x00008500).ipi.kind, IpiRequest::Kind::none);   // INIT de-assert
    EXPECT_EQ(a.write(apic_reg::icr_low, 0x00000608).ipi.kind, IpiRequest::Kind::sipi);
    EXPECT_EQ(a.write(apic_reg::icr_low, 0x00000005).ipi.kind, IpiRequest::Kind::none);   // vector < 16
    EXPECT_TRUE(a.read(apic_reg::esr) & (1u << 5));
    a.write(apic_reg::esr, 0);
    EXPECT_EQ(a.read(apic_reg::esr), 0u);
}

TEST(Lapic, X2apicIcrAndSelfIpi) {
    Apic a;
    a.regs.x2apic = true;
    ApicWrite w = a.write(apic_reg::icr_low, (7ull << 32) | 0x000c0050);   // all excluding self
    EXPECT_EQ(w.ipi.kind, IpiRequest::Kind::fixed);
    EXPECT_EQ(w.ipi.shorthand, 3);
    EXPECT_TRUE(a.write(apic_reg::icr_low, 1ull << 13).gp);                // reserved bit
    w = a.write(apic_reg::self_ipi, 0x77);
    EXPECT_EQ(w.ipi.kind, IpiRequest::Kind::fixed);
    EXPECT_EQ(w.ipi.shorthand, 1);
    EXPECT_EQ(w.ipi.vector, 0x77);
    EXPECT_TRUE(a.write(apic_reg::self_ipi, 0x100).gp);
}

TEST(Lapic, Destinations) {
    ApicRegs t;
    t.id = 2;
    IpiRequest phys{IpiRequest::Kind::fixed, 0x40, 0, false, 2};
    EXPECT_TRUE(apic_is_target(t, phys, 0));
    phys.dest = 3;
    EXPECT_FALSE(apic_is_target(t, phys, 0));
    phys.dest = 0xff;
    EXPECT_TRUE(apic_is_target(t, phys, 0));       // xAPIC broadcast
    IpiRequest others{IpiRequest::Kind::fixed, 0x40, 3, false, 0};
    EXPECT_TRUE(apic_is_target(t, others, 0));
    EXPECT_FALSE(apic_is_target(t, others, 2));
    t.ldr = 0x04u << 24;                           // flat: bit 2
    IpiRequest logical{IpiRequest::Kind::fixed, 0x40, 0, true, 0x06};
    EXPECT_TRUE(apic_is_target(t, logical, 0));
    logical.dest = 0x01;
    EXPECT_FALSE(apic_is_target(t, logical, 0));
    t.x2apic = true;                               // cluster 0, bit 2
    logical.dest = (0u << 16) | 0x4;
    EXPECT_TRUE(apic_is_target(t, logical, 0));
    logical.dest = (1u << 16) | 0x4;
    EXPECT_FALSE(apic_is_target(t, logical, 0));
}

TEST(Lapic, SoftwareDisableMasksLvts) {
    Apic a;
    a.write(apic_reg::svr, 0x1ff);
    a.write(apic_reg::lvt_lint0, 0x700);
    EXPECT_EQ(a.read(apic_reg::lvt_lint0), 0x700u);
    a.write(apic_reg::lvt_timer, 0x20030);         // periodic, vector 0x30
    EXPECT_EQ(a.timer.lvt, 0x20030u);
    a.write(apic_reg::svr, 0x0ff);
    EXPECT_TRUE(a.read(apic_reg::lvt_lint0) & (1u << 16));
    EXPECT_TRUE(a.timer.lvt & (1u << 16));
}

TEST(Lapic, ApicBaseTransitions) {
    using namespace apic_base_msr;
    ApicRegs a;
    EXPECT_EQ(apic_base_read(a, true), apic_default_base | enable | bsp);
    EXPECT_FALSE(apic_base_write(a, 0xfed00000 | enable));             // moved
    EXPECT_FALSE(apic_base_write(a, apic_default_base | extd));        // EXTD without EN
    EXPECT_TRUE(apic_base_write(a, apic_default_base | enable | extd));
    EXPECT_TRUE(a.x2apic);
    EXPECT_FALSE(apic_base_write(a, apic_default_base | enable));      // x2APIC to xAPIC
    EXPECT_TRUE(apic_base_write(a, apic_default_base));                // disable
    EXPECT_FALSE(apic_base_write(a, apic_default_base | enable | extd));   // disabled to x2APIC
    EXPECT_TRUE(apic_base_write(a, apic_default_base | enable));
    EXPECT_FALSE(a.x2apic);
}

} // namespace
