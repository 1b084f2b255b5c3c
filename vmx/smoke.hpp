// The VT-x smoke suite run inside the hypervisor (`suite=vmx-smoke`): KTAP on the console.
#pragma once

namespace vmx {

// Detects and enables VMX on the calling (bootstrap) processor, runs small guests through
// every exit kind the backend decodes, and reports each check. True when all passed.
[[nodiscard]] bool smoke_test();

} // namespace vmx
