// A zeroed, page-aligned VMCB for the host tests.
#pragma once
#include <memory>

#include "svm/vmcb.hpp"

namespace svm_test {

inline std::unique_ptr<svm::Vmcb> zeroed_vmcb() { return std::unique_ptr<svm::Vmcb>(new svm::Vmcb{}); }

} // namespace svm_test
