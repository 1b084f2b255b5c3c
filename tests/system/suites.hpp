// What the system tests of guest suites share: a suite passes when its KTAP plan ran in full with
// no failure and the run exited 0; suites that exercise both vendors and cross-processor paths
// must pass in every configuration.
#pragma once
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "harness.hpp"

namespace system_test {

// Index of the first line that starts with `prefix` and contains `needle`; -1 when none.
inline long index_of(const Run& r, const std::string& needle, const std::string& prefix = "") {
    for (size_t i = 0; i < r.lines.size(); i++) {
        const std::string& t = r.lines[i].text;
        if (t.rfind(prefix, 0) == 0 && t.find(needle, prefix.size()) != std::string::npos)
            return static_cast<long>(i);
    }
    return -1;
}

// The child's KTAP (its lines behind `NAME: `): a plan, every planned test ok, none not ok.
// `ending`: how the root says the child ended (a suite that shuts down ends "shutdown").
inline void expect_child_ktap_passes(const Run& r, const std::string& name,
                                     const std::string& ending = "debug-exit code=0") {
    const std::string p = name + ": ";
    int planned = -1, ok = 0, not_ok = 0;
    for (const auto& l : r.lines) {
        if (l.text.rfind(p, 0) != 0)
            continue;
        std::string t = l.text.substr(p.size());
        if (t.rfind("1..", 0) == 0 && planned < 0)
            planned = std::atoi(t.c_str() + 3);
        ok += t.rfind("ok ", 0) == 0;
        not_ok += t.rfind("not ok ", 0) == 0;
    }
    INFO("child " << name);
    CHECK(index_of(r, "KTAP version 1", p) >= 0);
    CHECK(planned > 0);
    CHECK(ok == planned);
    CHECK(not_ok == 0);
    CHECK(r.has("root: child " + name + " ended " + ending));
}

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

// The same for a suite booted as a child partition (`--suite child-NAME`): the child with 1 and
// with 4 VPs, on a root of 2 processors, under AMD-V (QEMU) and VT-x (Bochs).
inline void in_every_child_configuration(const std::string& suite,
                                         void (*expect)(const std::vector<std::string>&)) {
    struct Vendor {
        const char* backend;
        const char* label;
        const char* timeout;
    };
    for (const Vendor& v : {Vendor{"svm", "AMD-V (QEMU)", "240"}, Vendor{"vmx", "VT-x (Bochs)", "900"}})
        for (const char* vps : {"1", "4"})
            DYNAMIC_SECTION(v.label << ", a child of " << vps << (vps == std::string("1") ? " VP" : " VPs")) {
                expect({"--backend", v.backend, "--smp", "2", "--suite", suite, "--suite-smp", vps, "--timeout",
                        v.timeout});
            }
}

} // namespace system_test
