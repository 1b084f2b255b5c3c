// The root partition as partition manager (docs/root-partition.md, "Partition manager"): a
// standard Multiboot 1 kernel (tests/guest/mb1) boots as a child with two VPs on both vendors,
// finds its firmware, starts its second processor and ends through the debug-exit port; a child
// that exits with a non-zero code fails the run.
#include <catch2/catch.hpp>

#include "harness.hpp"

using system_test::boot;

namespace {

const std::string mb1 = std::string(HV_BUILD_DIR) + "/guests/mb1.elf";

void expect_clean_child(const std::vector<std::string>& args) {
    auto r = boot(args);
    INFO(r.text());
    CHECK(r.has("mb1: ok   every processor starts and reports"));
    CHECK(r.has("root: child mb1 ended debug-exit code=0"));
    CHECK_FALSE(r.has("mb1: FAIL"));
    CHECK(r.status == 0);
}

} // namespace

TEST_CASE("A Multiboot 1 child with 2 VPs runs on AMD-V (QEMU)", "[child][svm]") {
    expect_clean_child({"--backend", "svm", "--smp", "2", "--child", mb1 + ",smp=2", "--timeout", "240"});
}

TEST_CASE("A Multiboot 1 child with 2 VPs runs on VT-x (Bochs)", "[child][vmx]") {
    expect_clean_child({"--backend", "vmx", "--smp", "2", "--child", mb1 + ",smp=2", "--timeout", "600"});
}

TEST_CASE("A child that exits with code 3 fails the run", "[child][svm]") {
    auto r = boot({"--backend", "svm", "--child", mb1 + ",smp=2,args=\"exit=3\"", "--timeout", "240"});
    INFO(r.text());
    CHECK(r.has("root: child mb1 ended debug-exit code=3"));
    CHECK(r.status != 0);
}

TEST_CASE("An ELF64 kernel runs as a child on both vendors", "[child][elf64]") {
    for (const char* backend : {"svm", "vmx"}) {
        SECTION(backend) {
            auto r = boot({"--backend", backend, "--suite", "child-elf64", "--suite-smp", "1", "--timeout", "600"});
            INFO(r.text());
            CHECK(r.has("child-elf64: # totals: pass:12 fail:0"));
            CHECK(r.has("root: child child-elf64 ended debug-exit code=0"));
            CHECK(r.status == 0);
        }
    }
}
