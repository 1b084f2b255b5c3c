// Partition reference time (TLFS 12.4-12.7): the 100 ns conversion, the reference TSC page's
// scale and offset, and the page's overlay state machine against a byte-array memory.
#include "hv/virt/synthetic_time.hpp"

#include <cstring>

#include "tests/unit/fake_guest_memory.hpp"
#include <gtest/gtest.h>

namespace {

using namespace hv::virt;

// The exact value by 128-bit arithmetic (the host has the division helper).
uint64_t exact_ref(uint64_t delta, uint64_t hz) {
    return static_cast<uint64_t>(static_cast<uint128_t>(delta) * ref_units_per_second / hz);
}

TEST(ReferenceTime, ConvertsTo100ns) {
    EXPECT_EQ(ref_time(0, 2'600'000'000), 0u);
    EXPECT_EQ(ref_time(2'600'000'000, 2'600'000'000), 10'000'000u); // one second
    EXPECT_EQ(ref_time(260, 2'600'000'000), 1u);                    // 100 ns
    EXPECT_EQ(ref_time(259, 2'600'000'000), 0u);
    EXPECT_EQ(ref_time(10'000'000, 10'000'000), 10'000'000u); // Bochs: one tick per unit
    EXPECT_EQ(ref_time(12345, 0), 0u);                        // never divides by zero
}

TEST(ReferenceTime, NoOverflowForAnyDelta) {
    // At or above 10 MHz every result fits (it is at most the delta).
    constexpr uint64_t rates[] = {10'000'000, 10'000'001, 2'600'000'000, 3'999'999'937, 1ull << 40};
    constexpr uint64_t deltas[] = {0, 1, 999'999'999'999, 1ull << 40, 1ull << 63, ~0ull, ~0ull - 12345};
    for (uint64_t hz : rates)
        for (uint64_t d : deltas)
            EXPECT_EQ(ref_time(d, hz), exact_ref(d, hz)) << "hz " << hz << " delta " << d;
}

TEST(ReferenceTime, Monotonic) {
    uint64_t prev = 0;
    for (uint64_t d = 0; d < 100'000; d += 7) {
        uint64_t t = ref_time(d, 2'600'000'000);
        EXPECT_GE(t, prev);
        prev = t;
    }
}

TEST(ReferenceTscPage, ScaleIsTheFixedPointRatio) {
    for (uint64_t hz : {10'000'001ull, 2'600'000'000ull, 3'999'999'937ull, 1ull << 40, (1ull << 63) - 1}) {
        uint64_t s = tsc_scale(hz);
        uint64_t exact = static_cast<uint64_t>((static_cast<uint128_t>(ref_units_per_second) << 64) / hz);
        EXPECT_EQ(s, exact) << hz;
        // One second of TSC is 10^7 units, less at most one for the truncation.
        uint64_t second = scaled(hz, s);
        EXPECT_LE(second, ref_units_per_second);
        EXPECT_GE(second + 1, ref_units_per_second);
    }
}

TEST(ReferenceTscPage, InexpressibleRatesGiveZero) {
    EXPECT_EQ(tsc_scale(0), 0u);
    EXPECT_EQ(tsc_scale(1'000'000), 0u);
    EXPECT_EQ(tsc_scale(10'000'000), 0u); // scale would be exactly 2^64
    EXPECT_EQ(tsc_scale(1ull << 63), 0u);
    EXPECT_EQ(reference_page(123, 10'000'000, 5).sequence, 0u);
}

TEST(ReferenceTscPage, AgreesWithTheMsr) {
    constexpr uint64_t hz = 2'600'000'000;
    for (uint64_t base : {0ull, 1ull, 987'654'321'012ull, 1ull << 62}) {
        ReferenceTscPage p = reference_page(base, hz, 1);
        ASSERT_NE(p.sequence, 0u);
        for (uint64_t d : {0ull, 1ull, 259ull, 260ull, 2'600'000'000ull, 1ull << 50}) {
            uint64_t page = scaled(base + d, p.scale) + static_cast<uint64_t>(p.offset);
            uint64_t msr = ref_time(d, hz);
            int64_t diff = static_cast<int64_t>(page - msr);
            EXPECT_LE(diff, 2) << base << " " << d;
            EXPECT_GE(diff, -2) << base << " " << d;
        }
    }
}

TEST(ReferenceTscPage, SequenceSkipsZero) {
    EXPECT_EQ(next_sequence(0), 1u);
    EXPECT_EQ(next_sequence(41), 42u);
    EXPECT_EQ(next_sequence(0xffffffffu), 1u);
}

struct Memory : FakeGuestMemory {
    ReferenceTscPage page(uint64_t gpa) const {
        ReferenceTscPage p;
        memcpy(&p, bytes + (gpa - base), sizeof p);
        return p;
    }
    bool pristine(uint64_t gpa) const {
        for (uint64_t i = 0; i < sizeof(ReferenceTscPage); i++)
            if (bytes[gpa - base + i] != 0xcc)
                return false;
        return true;
    }
};

constexpr uint64_t a = Memory::base, b = Memory::base + 4096, hz = 2'600'000'000;

TEST(ReferenceTscMsr, EnablesMovesAndDisables) {
    Memory m;
    SyntheticTime t{1000};
    ASSERT_TRUE(write_reference_tsc_msr(t, a | 1, hz, m));
    EXPECT_EQ(t.reference_tsc_msr, a | 1);
    ReferenceTscPage p = m.page(a);
    EXPECT_NE(p.sequence, 0u);
    EXPECT_EQ(p.scale, tsc_scale(hz));
    EXPECT_EQ(p.offset, tsc_offset(1000, tsc_scale(hz)));

    ASSERT_TRUE(write_reference_tsc_msr(t, b | 1, hz, m));
    EXPECT_TRUE(m.pristine(a)); // the overlay left the old page
    EXPECT_NE(m.page(b).sequence, 0u);
    EXPECT_NE(m.page(b).sequence, p.sequence);

    ASSERT_TRUE(write_reference_tsc_msr(t, b, hz, m));
    EXPECT_EQ(t.reference_tsc_msr, b);
    EXPECT_TRUE(m.pristine(b));
}

TEST(ReferenceTscMsr, SamePageAgainKeepsTheCoveredBytes) {
    Memory m;
    SyntheticTime t{0};
    ASSERT_TRUE(write_reference_tsc_msr(t, a | 1, hz, m));
    ASSERT_TRUE(write_reference_tsc_msr(t, a | 1, hz, m));
    ASSERT_TRUE(write_reference_tsc_msr(t, a, hz, m));
    EXPECT_TRUE(m.pristine(a));
}

TEST(ReferenceTscMsr, RefusesReservedBitsAndForeignPages) {
    Memory m;
    SyntheticTime t{0};
    EXPECT_FALSE(write_reference_tsc_msr(t, a | 1 | 2, hz, m));
    EXPECT_FALSE(write_reference_tsc_msr(t, a | 0x800, hz, m));
    EXPECT_FALSE(write_reference_tsc_msr(t, 0x100000 | 1, hz, m));
    EXPECT_EQ(t.reference_tsc_msr, 0u);
    ASSERT_TRUE(write_reference_tsc_msr(t, a | 1, hz, m));
    EXPECT_FALSE(write_reference_tsc_msr(t, 0x100000 | 1, hz, m));
    EXPECT_EQ(t.reference_tsc_msr, a | 1); // still where it was
    EXPECT_NE(m.page(a).sequence, 0u);
}

TEST(ReferenceTscMsr, DisabledGpaIsRememberedWithoutTouchingMemory) {
    Memory m;
    SyntheticTime t{0};
    ASSERT_TRUE(write_reference_tsc_msr(t, 0x100000, hz, m)); // disabled: any GPA reads back
    EXPECT_EQ(t.reference_tsc_msr, 0x100000u);
}

TEST(ReferenceTscMsr, SlowTscWritesAnInvalidPage) {
    Memory m;
    SyntheticTime t{0};
    ASSERT_TRUE(write_reference_tsc_msr(t, a | 1, 10'000'000, m));
    EXPECT_EQ(m.page(a).sequence, 0u); // readers fall back to the MSR
    EXPECT_EQ(t.reference_tsc_msr, a | 1);
}

} // namespace
