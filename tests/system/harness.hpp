// Drives tools/run from the system tests: boots the hypervisor in an emulator, collects the serial
// console line by line with arrival times, and returns the exit status. The build is done before
// the tests run (tools/test), so every run passes --no-build.
#pragma once
#include <string>
#include <vector>

namespace system_test {

struct Line {
    double seconds;     // since the emulator started (tools/run's "run: emulator started")
    std::string text;
};

struct Run {
    int status = -1;
    std::vector<Line> lines;
    // When the boot was made again (boot(): QEMU's AMD-V defect), the first boot's console,
    // shown by text() and never searched.
    std::string retried_after;

    bool has(const std::string& needle) const;
    // Seconds from emulator start to the first line containing needle; negative when absent.
    double time_of(const std::string& needle) const;
    std::string text() const;
    // KTAP: the plan's count ("1..N"), and how many result lines said ok / not ok.
    int ktap_planned() const;
    int ktap_count(bool ok) const;
};

// args: tools/run options, e.g. {"--backend", "svm", "--smp", "4"}.
Run boot(const std::vector<std::string>& args);

// Appends {"name":..., "value":..., "unit":"s"} to build/boot-times.json (one JSON object per line),
// which tools/bench and docs/performance.md read.
void record_boot_time(const std::string& name, double seconds);

} // namespace system_test
