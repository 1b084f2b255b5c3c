#include "hv/virt/suites.hpp"

#include "svm/smoke.hpp"
#if __has_include("vmx/smoke.hpp")   // TEMP: until the VT-x smoke suite lands
#include "vmx/smoke.hpp"
#define HV_HAVE_VMX_SMOKE 1
#endif

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
#ifdef HV_HAVE_VMX_SMOKE
    if (named(name, "vmx-smoke")) {
        exit_code = vmx::smoke_test() ? 0 : 1;
        return true;
    }
#endif
    return false;
}

} // namespace hv::virt
