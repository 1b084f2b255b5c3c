// Which hardware virtualization extension the hypervisor will drive: AMD-V (SVM) or Intel
// VT-x (VMX), picked once at boot from CPUID and the firmware's enable/lock MSRs.
#pragma once
#include "hv/cmdline.hpp"

namespace hv {

enum class Backend : uint8_t { none, svm, vmx };

[[nodiscard]] const char* backend_name(Backend b);

// Honours `choice`: automatic picks whatever is usable (none if nothing is); forcing one that
// is absent or disabled by firmware logs why and returns false.
[[nodiscard]] bool select_backend(BackendChoice choice, Backend& out);

} // namespace hv
