// The guest OS ID and hypercall page MSRs (TLFS 3.13) against a byte-array memory.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/fake_guest_memory.hpp"

#include "hypercalls/page.hpp"

namespace {

struct Memory : FakeGuestMemory {
    bool holds_sequence(uint64_t gpa) const { return memcmp(bytes + (gpa - base), hypercalls::sequence_vmcall, 4) == 0; }
    bool pristine(uint64_t gpa) const { return bytes[gpa - base] == 0xcc && bytes[gpa - base + 3] == 0xcc; }
};

constexpr uint64_t a = Memory::base, b = Memory::base + 4096, enable = tlfs::hypercall_msr::enable;

TEST(HypercallPage, StaysDisabledWithoutGuestOsId) {
    Memory m;
    hypercalls::InterfaceState s;
    EXPECT_TRUE(hypercalls::write_hypercall_msr(s, a | enable, hypercalls::sequence_vmcall, m));
    EXPECT_EQ(s.hypercall_msr, a);
    EXPECT_TRUE(m.pristine(a));
    EXPECT_FALSE(hypercalls::interface_enabled(s));
}

TEST(HypercallPage, EnablesMovesAndDisables) {
    Memory m;
    hypercalls::InterfaceState s;
    hypercalls::write_guest_os_id(s, 0x8100000000000001, m);
    EXPECT_TRUE(hypercalls::write_hypercall_msr(s, a | enable | 0xffe, hypercalls::sequence_vmcall, m));
    EXPECT_EQ(s.hypercall_msr, a | enable);
    EXPECT_TRUE(m.holds_sequence(a));
    EXPECT_TRUE(hypercalls::write_hypercall_msr(s, b | enable, hypercalls::sequence_vmcall, m));
    EXPECT_TRUE(m.holds_sequence(b));
    EXPECT_TRUE(m.pristine(a));
    EXPECT_TRUE(hypercalls::write_hypercall_msr(s, b, hypercalls::sequence_vmcall, m));
    EXPECT_EQ(s.hypercall_msr, b);
    EXPECT_TRUE(m.pristine(b));
}

TEST(HypercallPage, RefusesAPageOutsideThePartition) {
    Memory m;
    hypercalls::InterfaceState s;
    hypercalls::write_guest_os_id(s, 1, m);
    ASSERT_TRUE(hypercalls::write_hypercall_msr(s, a | enable, hypercalls::sequence_vmmcall, m));
    EXPECT_FALSE(hypercalls::write_hypercall_msr(s, 0x900000 | enable, hypercalls::sequence_vmmcall, m));
    EXPECT_EQ(s.hypercall_msr, a | enable);   // unchanged
}

TEST(HypercallPage, ClearingTheIdDisablesThePage) {
    Memory m;
    hypercalls::InterfaceState s;
    hypercalls::write_guest_os_id(s, 1, m);
    ASSERT_TRUE(hypercalls::write_hypercall_msr(s, a | enable, hypercalls::sequence_vmcall, m));
    hypercalls::write_guest_os_id(s, 0, m);
    EXPECT_EQ(s.hypercall_msr, a);
    EXPECT_TRUE(m.pristine(a));
    EXPECT_FALSE(hypercalls::interface_enabled(s));
}

} // namespace
