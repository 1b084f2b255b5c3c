// The hypervisor's own command line (docs/command-line.md): space-separated `key=value` options.
// Pure logic, unit-tested on the host. An unknown option or a bad value is an error that names it:
// a typo on a server's boot line must not silently change how the machine runs.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hv {

enum class BackendChoice : uint8_t { automatic, svm, vmx, none };
enum class StopAction : uint8_t { halt, emulator_exit };

struct Options {
    BackendChoice backend = BackendChoice::automatic;
    StopAction on_stop = StopAction::halt;
    uint32_t max_cpus = 0;            // 0: every processor the MADT lists
    bool console = true;              // COM1 output
    bool verbose = false;
    bool bench = false;               // measure the bare exit round trip before the root starts
    char suite[32] = {};              // built-in self-test suite to run, "" for none
    uint32_t min_memory_mib = 32;     // refuse to run on less usable RAM than this
};

struct CmdlineError {
    bool ok = true;
    char message[128] = {};
};

[[nodiscard]] CmdlineError parse_cmdline(const char* cmdline, Options& out);

} // namespace hv
