// What the system tests of guest suites share: a suite passes when its KTAP plan ran in full with
// no failure and the run exited 0; suites that exercise both vendors and cross-processor paths
// must pass in every configuration.
#pragma once
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "harness.hpp"

namespace system_test {

inline void expect_suite_passes(const std::vector<std::string>& args) {
    auto r = boot(args);
    INFO(r.text());
    CHECK(r.has("KTAP version 1"));
    CHECK(r.ktap_planned() > 0);
    CHECK(r.ktap_count(true) == r.ktap_planned());
    CHECK(r.ktap_count(false) == 0);
    CHECK(r.status == 0);
}

// The four configurations a guest suite that exercises both vendors and cross-processor paths
// must pass in: AMD-V under QEMU and VT-x under Bochs (the slower one), 1 and 4 processors.
inline void in_every_configuration(const std::string& suite, void (*expect)(const std::vector<std::string>&)) {
    struct Vendor {
        const char* backend;
        const char* label;
        const char* timeout;
    };
    for (const Vendor& v : {Vendor{"svm", "AMD-V (QEMU)", "200"}, Vendor{"vmx", "VT-x (Bochs)", "600"}})
        for (const char* smp : {"1", "4"})
            DYNAMIC_SECTION(v.label << ", " << smp << (smp == std::string("1") ? " processor" : " processors")) {
                expect({"--backend", v.backend, "--smp", smp, "--suite", suite, "--timeout", v.timeout});
            }
}

} // namespace system_test
