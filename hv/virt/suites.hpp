// Built-in test suites that exercise the virtualization layer from inside the hypervisor
// (`suite=NAME` on the command line; tools/run --suite NAME).
#pragma once

namespace hv::virt {

// Runs the named suite, reporting KTAP on the console. Returns false when no suite has that name.
[[nodiscard]] bool run_builtin_suite(const char* name, int& exit_code);

} // namespace hv::virt
