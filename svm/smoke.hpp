// The AMD-V smoke suite, run inside the hypervisor (`suite=svm-smoke`): real VMRUNs on the boot
// processor against tiny guests, reported as KTAP on the console.
#pragma once

namespace svm {

[[nodiscard]] bool smoke_test();

} // namespace svm
