// `suite=hv-selftest`: checks of the bring-up that only make sense on a real (or emulated)
// machine, reported in KTAP version 1 (kernel.org Documentation/dev-tools/ktap.rst).
#pragma once

namespace hv {

// The built-in suites, chosen with `suite=NAME`; each stops the machine:
//   hv-selftest  every check below, exit code 0 when all passed, 1 otherwise;
//   hv-panic     a page fault on the last processor: the panic report must name it, the
//                other processors must be stopped by NMI, and the exit code is 1.
// An unknown name logs one line and stops with 1.
[[noreturn]] void run_suite(const char* name);

} // namespace hv
