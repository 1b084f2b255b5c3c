// The timers a root partition sees: its virtual local APIC (IPIs, priority, injection shadows,
// the APIC timer in its three modes; tests/guest/apic.cpp) and the synthetic timers
// (tests/guest/stimer.cpp) pass on both vendors with 1 and 4 processors, and on Bochs' AMD-V
// model, whose NRIP-save path QEMU lacks.
#include <catch2/catch.hpp>

#include "suites.hpp"

using system_test::expect_suite_passes;
using system_test::in_every_configuration;

namespace {

// The stimer suite passes and prints the jitter line tools/bench reads.
void expect_stimer_passes(const std::vector<std::string>& args) {
    auto r = system_test::boot(args);
    INFO(r.text());
    CHECK(r.ktap_planned() > 0);
    CHECK(r.ktap_count(true) == r.ktap_planned());
    CHECK(r.ktap_count(false) == 0);
    CHECK(r.has("# stimer-jitter median_100ns="));
    CHECK(r.status == 0);
}

} // namespace

TEST_CASE("apic passes on both vendors with 1 and 4 processors", "[apic]") {
    in_every_configuration("apic", expect_suite_passes);
    SECTION("AMD-V with NRIP-save (Bochs), 2 processors") {
        expect_suite_passes({"--backend", "svm", "--emulator", "bochs", "--smp", "2", "--suite", "apic", "--timeout", "600"});
    }
}

TEST_CASE("stimer passes on both vendors with 1 and 4 processors", "[stimer]") {
    in_every_configuration("stimer", expect_stimer_passes);
    SECTION("AMD-V with NRIP-save (Bochs), 2 processors") {
        expect_stimer_passes({"--backend", "svm", "--emulator", "bochs", "--smp", "2", "--suite", "stimer", "--timeout", "600"});
    }
}

// The same suites as CHILD partitions (`--suite child-apic`, `child-stimer`, `child-reftime`,
// and `child-synic`, which needs the root's echo service instead of root-only calls):
// a child's local APIC, timers and reference time are the hypervisor's, and a halted child VP is
// woken through the root's scheduler signals (docs/root-partition.md, "Running").
namespace {

template <const char* Name> void expect_child_suite_passes(const std::vector<std::string>& args) {
    auto r = system_test::boot(args);
    INFO(r.text());
    system_test::expect_child_ktap_passes(r, Name);
    CHECK(r.status == 0);
}
constexpr char child_apic[] = "child-apic", child_stimer[] = "child-stimer", child_reftime[] = "child-reftime",
               child_synic[] = "child-synic";

} // namespace

TEST_CASE("apic passes as a child with 1 and 4 VPs on both vendors", "[apic][child]") {
    system_test::in_every_child_configuration(child_apic, expect_child_suite_passes<child_apic>);
}

TEST_CASE("stimer passes as a child with 1 and 4 VPs on both vendors", "[stimer][child]") {
    system_test::in_every_child_configuration(child_stimer, expect_child_suite_passes<child_stimer>);
}

TEST_CASE("reftime passes as a child with 1 and 4 VPs on both vendors", "[reftime][child]") {
    system_test::in_every_child_configuration(child_reftime, expect_child_suite_passes<child_reftime>);
}

// The SynIC across partitions: the child against the root's echo service (partitions/abi/echo.hpp).
TEST_CASE("synic passes as a child with 1 and 4 VPs on both vendors", "[synic][child]") {
    system_test::in_every_child_configuration(child_synic, expect_child_suite_passes<child_synic>);
}
