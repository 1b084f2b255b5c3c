// Isolation between partitions (docs/child-partitions.md, "Isolation tests"). Hypothesis: a
// child cannot touch GPAs it was not given, another child's memory, the root's or the
// hypervisor's memory, nor use root-only calls; a triple fault or a spinning VP stops or slows
// only that child. The child kernel is tests/guest/isolation (build/suites/child-isolation.elf):
// without arguments it is the in-child KTAP suite; `probe=...` makes it perform one hostile
// action, judged by the root's line about it; `cross=SELF,OTHER` is one side of the two-child
// memory check. The root prints a child's COM1 lines as `NAME: line`.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "harness.hpp"
#include "suites.hpp"

using system_test::boot;
using system_test::Run;
using system_test::expect_child_ktap_passes;
using system_test::index_of;

namespace {

const std::string image = std::string(HV_BUILD_DIR) + "/suites/child-isolation.elf";

void expect_suite_passes(const std::vector<std::string>& args) {
    auto r = boot(args);
    INFO(r.text());
    expect_child_ktap_passes(r, "child-isolation");
    CHECK(r.status == 0);
}

std::string spec(const std::string& name, int mem, const std::string& args, const std::string& more = "") {
    return image + ",name=" + name + ",mem=" + std::to_string(mem) + more + (args.empty() ? "" : ",args=" + args);
}

// Each probe a child of its own beside a witness child running the suite: every access outside
// the child's RAM ends that child with the root's line naming the GPA, and only that child.
struct Probe {
    const char* name;
    int mem_mib;
    const char* action;   // probe=<action>:<gpa>
    const char* gpa;      // as the root prints it (hex, no 0x)
};
const Probe probes[] = {
    {"past-ram", 4, "read", "400000"},      // the first page past its RAM
    {"hv-image", 2, "write", "200000"},     // where the hypervisor's image lies host-physically
    {"root-ram", 4, "write", "8000000"},    // the root's RAM (128 MiB into a 512 MiB machine)
    {"hv-pool", 4, "read", "1f000000"},     // the hypervisor's pool at the top of RAM
    {"hv-exec", 4, "exec", "1f000000"},     // an instruction fetch from it
    {"ioapic", 4, "write", "fec00000"},     // a device the root owns
    {"rom", 4, "read", "fffff000"},         // the firmware's reset page
};

void expect_probes_contained(std::vector<std::string> args) {
    for (const auto& x : {"--smp", "2", "--mem", "512", "--child"})
        args.push_back(x);
    args.push_back(spec("witness", 32, ""));
    for (const Probe& p : probes) {
        args.push_back("--child");
        args.push_back(spec(p.name, p.mem_mib, std::string("probe=") + p.action + ":0x" + p.gpa));
    }
    auto r = boot(args);
    INFO(r.text());
    for (const Probe& p : probes) {
        std::string n = p.name;
        INFO("probe " << n << ": " << p.action << " " << p.gpa);
        long announced = index_of(r, std::string("isolation: probe ") + p.action, n + ": ");
        long intercepted =
            index_of(r, "root: child " + n + " vp 0: access to unmapped guest-physical memory (" + p.gpa + ", ");
        CHECK(announced >= 0);
        CHECK(intercepted > announced);
        CHECK(r.has("root: child " + n + " ended killed code=0"));
        CHECK_FALSE(r.has(n + ": isolation: probe survived"));
    }
    expect_child_ktap_passes(r, "witness");
    CHECK(r.status == 1);   // the killed children fail the run, as they must
}

// Child `self` stamped its RAM before some whole scan of `other` began, and that scan ended
// before `self` did: the scan ran while `self`'s stamps existed.
bool scan_overlapped(const Run& r, const std::string& self, const std::string& other) {
    long stamped = index_of(r, "isolation: cross: stamped", self + ": ");
    long ended = index_of(r, "root: child " + self + " ended");
    for (int k = 1; k <= 3; k++) {
        long begins = index_of(r, "isolation: cross: scan " + std::to_string(k) + " begins", other + ": ");
        long done = index_of(r, "isolation: cross: scan " + std::to_string(k) + " done", other + ": ");
        if (stamped >= 0 && begins > stamped && done > begins && ended > done)
            return true;
    }
    return false;
}

// Two children stamp and scan their RAM at once; a third triple-faults; a fourth spins with
// interrupts off until the root's time limit for it. One root processor, the harshest case.
void expect_containment(std::vector<std::string> args) {
    for (const auto& x : {"--smp", "1", "--mem", "512"})
        args.push_back(x);
    for (const auto& c : {spec("a", 16, "cross=1,2"), spec("b", 16, "cross=2,1"), spec("crash", 4, "probe=triple-fault"),
                          spec("spin", 4, "probe=spin", ",timeout=30")}) {
        args.push_back("--child");
        args.push_back(c);
    }
    auto r = boot(args);
    INFO(r.text());
    expect_child_ktap_passes(r, "a");
    expect_child_ktap_passes(r, "b");
    CHECK(scan_overlapped(r, "a", "b"));
    CHECK(scan_overlapped(r, "b", "a"));
    CHECK(r.has("crash: isolation: probe triple-fault"));
    CHECK(r.has("root: child crash ended triple-fault code=0"));
    CHECK(r.has("spin: isolation: probe spin"));
    CHECK(r.has("root: child spin: time limit of 30 s reached"));
    long spin_ended = index_of(r, "root: child spin ended killed code=0");
    CHECK(spin_ended > index_of(r, "root: child a ended debug-exit code=0"));
    CHECK(spin_ended > index_of(r, "root: child b ended debug-exit code=0"));
    CHECK(r.status == 1);
}

void expect_cr4_vmxe_refused(std::vector<std::string> args) {
    args.push_back("--child");
    args.push_back(spec("cr4", 4, "probe=cr4-vmxe"));
    auto r = boot(args);
    INFO(r.text());
    CHECK(r.has("cr4: isolation: setting CR4.VMXE raised #GP"));
    CHECK(r.has("root: child cr4 ended debug-exit code=0"));
    CHECK(r.status == 0);
}

} // namespace

TEST_CASE("child-isolation passes on AMD-V (QEMU) with 1 and 4 VPs", "[isolation][svm]") {
    SECTION("1 VP") { expect_suite_passes({"--backend", "svm", "--suite", "child-isolation", "--suite-smp", "1"}); }
    SECTION("4 VPs") {
        expect_suite_passes({"--backend", "svm", "--smp", "2", "--suite", "child-isolation", "--suite-smp", "4"});
    }
}

TEST_CASE("child-isolation passes on VT-x (Bochs) with 1 and 4 VPs", "[isolation][vmx]") {
    SECTION("1 VP") {
        expect_suite_passes(
            {"--backend", "vmx", "--suite", "child-isolation", "--suite-smp", "1", "--timeout", "600"});
    }
    SECTION("4 VPs") {
        expect_suite_passes({"--backend", "vmx", "--smp", "2", "--suite", "child-isolation", "--suite-smp", "4",
                             "--timeout", "900"});
    }
}

TEST_CASE("Accesses outside a child's RAM end only that child on AMD-V (QEMU)", "[isolation][svm]") {
    expect_probes_contained({"--backend", "svm", "--timeout", "300"});
}

TEST_CASE("Accesses outside a child's RAM end only that child on VT-x (Bochs)", "[isolation][vmx]") {
    expect_probes_contained({"--backend", "vmx", "--timeout", "900"});
}

TEST_CASE("Two children cannot see each other's memory and a triple fault or a spinning VP stops only its "
          "own child on AMD-V (QEMU)",
          "[isolation][svm]") {
    expect_containment({"--backend", "svm", "--timeout", "300"});
}

TEST_CASE("Two children cannot see each other's memory and a triple fault or a spinning VP stops only its "
          "own child on VT-x (Bochs)",
          "[isolation][vmx]") {
    expect_containment({"--backend", "vmx", "--timeout", "900"});
}

TEST_CASE("A child setting CR4.VMXE gets #GP and carries on", "[isolation]") {
    SECTION("VT-x (Bochs)") { expect_cr4_vmxe_refused({"--backend", "vmx", "--timeout", "600"}); }
    SECTION("AMD-V (Bochs: raises #GP as the APM says)") {
        expect_cr4_vmxe_refused({"--backend", "svm", "--emulator", "bochs", "--timeout", "600"});
    }
    SECTION("AMD-V (QEMU 7.2: its defect stays contained to that child)") {
        // QEMU TCG answers a reserved-bit CR4 write with VMEXIT_ERR instead of #GP
        // (docs/emulator-defects.md). The child cannot continue; nothing else may suffer.
        auto args = std::vector<std::string>{"--backend", "svm", "--timeout", "240", "--child",
                                             spec("cr4", 4, "probe=cr4-vmxe"), "--child", spec("witness", 4, "")};
        auto r = boot(args);
        INFO(r.text());
        CHECK(r.has("root: child cr4 ended triple-fault"));
        CHECK(r.has("root: child witness ended debug-exit code=0"));
        CHECK(r.has("hv: exit code=1"));
        CHECK_FALSE(r.has("hv: panic"));
    }
}

TEST_CASE("A child's KTAP failure fails the run even when the child exits 0", "[isolation][svm]") {
    auto r = boot({"--backend", "svm", "--child", spec("ktap", 4, "probe=not-ok"), "--timeout", "240"});
    INFO(r.text());
    CHECK(r.has("ktap: not ok 1 "));
    CHECK(r.has("root: child ktap ended debug-exit code=0"));
    CHECK(r.status != 0);
}
