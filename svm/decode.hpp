// #VMEXIT -> hv::virt::Intercept. Pure and total: any VMCB content yields an Intercept (an
// unknown exit code becomes ExitKind::unknown with raw_reason), so a guest can never make the
// decoder fail. Host-tested in tests/backend/svm.
#pragma once

#include "hv/virt/intercept.hpp"
#include "svm/svm.hpp"
#include "svm/vmcb.hpp"

namespace svm {

[[nodiscard]] hv::virt::Intercept decode_exit(const Vmcb& vmcb, const Features& f);

// Whether vector `v` pushes an error code (APM vol 2 table 8-1).
[[nodiscard]] bool exception_has_error_code(uint8_t v);

} // namespace svm
