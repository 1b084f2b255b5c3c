// A software replay of VMRUN's consistency checks (AMD APM vol 2 15.5.1 "Canonicalization and
// Consistency Checks", 15.20 for EVENTINJ), so that a VMEXIT_INVALID names its cause instead of
// just "invalid". Pure: runs on the host tests and in the exit decoder.
#pragma once

#include "svm/svm.hpp"
#include "svm/vmcb.hpp"

namespace svm {

// The first failing check in words, or nullptr when this replay finds nothing wrong (the
// processor may still check more, e.g. model-specific reserved bits).
[[nodiscard]] const char* check_vmcb(const Vmcb& v, const Features& f);

// Whether an EVENTINJ value is one VMRUN accepts (type and vector rules of APM 15.20).
[[nodiscard]] bool event_injection_valid(uint64_t eventinj);

} // namespace svm
