// The foundation boots on both emulated vendors, brings up every processor, and ends bad input
// with one clear line and a failure status instead of a hang.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "harness.hpp"

using system_test::boot;

namespace {

void expect_online(const system_test::Run& r, const std::string& backend, int cpus) {
    INFO(r.text());
    std::string want = "hv: online backend=" + backend + " processors=" + std::to_string(cpus) + "/" +
                       std::to_string(cpus) + " ";
    CHECK(r.has(want));
    CHECK(r.status == 0);
}

} // namespace

TEST_CASE("AMD-V under QEMU TCG boots from GRUB on 4 processors", "[boot][svm]") {
    auto r = boot({"--backend", "svm", "--smp", "4", "--no-root", "--timeout", "180"});
    expect_online(r, "svm", 4);
    CHECK(r.has("hv: booted by GRUB"));
    CHECK(r.has("hv: no root partition image"));
    if (r.has("hv: online"))
        system_test::record_boot_time("boot-to-online-qemu-grub-svm-smp4", r.time_of("hv: online"));
}

TEST_CASE("QEMU boots the same image through its PVH note", "[boot][svm][pvh]") {
    auto r = boot({"--backend", "svm", "--boot", "pvh", "--smp", "2", "--no-root", "--timeout", "180"});
    expect_online(r, "svm", 2);
    CHECK(r.has("hv: booted by PVH"));
    if (r.has("hv: online"))
        system_test::record_boot_time("boot-to-online-qemu-pvh-svm-smp2", r.time_of("hv: online"));
}

TEST_CASE("Intel VT-x under Bochs boots from GRUB on 4 processors", "[boot][vmx]") {
    auto r = boot({"--backend", "vmx", "--smp", "4", "--no-root", "--timeout", "400"});
    expect_online(r, "vmx", 4);
    if (r.has("hv: online"))
        system_test::record_boot_time("boot-to-online-bochs-grub-vmx-smp4", r.time_of("hv: online"));
}

TEST_CASE("AMD-V under Bochs (NRIP-save model) boots from GRUB", "[boot][svm][bochs]") {
    auto r = boot({"--backend", "svm", "--emulator", "bochs", "--smp", "2", "--no-root", "--timeout", "400"});
    expect_online(r, "svm", 2);
}

TEST_CASE("The in-hypervisor self-test passes on both vendors", "[selftest]") {
    SECTION("QEMU, 4 processors") {
        auto r = boot({"--backend", "svm", "--smp", "4", "--suite", "hv-selftest", "--timeout", "180"});
        INFO(r.text());
        CHECK(r.has("KTAP version 1"));
        CHECK_FALSE(r.has("not ok"));
        CHECK(r.has("# totals:"));
        CHECK(r.status == 0);
    }
    SECTION("Bochs, 2 processors") {
        auto r = boot({"--backend", "vmx", "--smp", "2", "--suite", "hv-selftest", "--timeout", "400"});
        INFO(r.text());
        CHECK(r.has("KTAP version 1"));
        CHECK_FALSE(r.has("not ok"));
        CHECK(r.status == 0);
    }
}

TEST_CASE("Bad input ends in one clear line and a failure status", "[badinput]") {
    SECTION("an unknown command-line option") {
        auto r = boot({"--backend", "svm", "--hv-args", "frobnicate=1", "--timeout", "120"});
        INFO(r.text());
        CHECK(r.has("hv: bad command line: unknown option 'frobnicate=1'"));
        CHECK(r.status == 1);
    }
    SECTION("a bad option value") {
        auto r = boot({"--backend", "svm", "--hv-args", "backend=arm", "--timeout", "120"});
        INFO(r.text());
        CHECK(r.has("hv: bad command line: bad value in option 'backend=arm'"));
        CHECK(r.status == 1);
    }
    SECTION("too little memory") {
        auto r = boot({"--backend", "svm", "--hv-args", "min_memory=100000", "--timeout", "120"});
        INFO(r.text());
        CHECK(r.has("need at least 100000 MiB"));
        CHECK(r.status == 1);
    }
    SECTION("forcing a virtualization extension the processor lacks") {
        auto r = boot({"--backend", "svm", "--hv-args", "backend=vmx", "--timeout", "120"});
        INFO(r.text());
        CHECK(r.has("vmx"));
        CHECK(r.status == 1);
    }
    SECTION("a fault inside the hypervisor panics with the cause and registers") {
        auto r = boot({"--backend", "svm", "--smp", "2", "--suite", "hv-panic", "--timeout", "120"});
        INFO(r.text());
        CHECK(r.has("hv: panic: #PF"));
        CHECK(r.has("rax="));
        CHECK(r.status == 1);
    }
    SECTION("a hang is a timeout (124), and no emulator is left behind") {
        // -S: QEMU starts paused, so the hypervisor never says anything.
        auto r = boot({"--backend", "svm", "--timeout", "2", "--", "-S"});
        INFO(r.text());
        CHECK(r.status == 124);
        auto started = r.lines.empty() ? std::string() : r.lines.front().text;
        auto at = started.find("work=");
        REQUIRE(at != std::string::npos);
        auto work = started.substr(at + 5, started.find(')', at) - at - 5);
        // "[/]" keeps the pattern from matching the shell that runs pgrep.
        CHECK(std::system(("pgrep -f '[/]" + work.substr(1) + "' >/dev/null").c_str()) != 0);
    }
}
