#include "hv/virt/suites.hpp"

#include "svm/smoke.hpp"
#include "vmx/smoke.hpp"

namespace hv::virt {
namespace {

bool named(const char* a, const char* b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

} // namespace

bool run_builtin_suite(const char* name, int& exit_code) {
    if (named(name, "svm-smoke")) {
        exit_code = svm::smoke_test() ? 0 : 1;
        return true;
    }
    if (named(name, "vmx-smoke")) {
        exit_code = vmx::smoke_test() ? 0 : 1;
        return true;
    }
    return false;
}

} // namespace hv::virt
