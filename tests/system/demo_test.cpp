// `tools/run` with no arguments (the demo, partitions/demo): the root and two children that use
// only synthetic devices over VMBus (console, disk, heartbeat, shutdown), each ending when the
// root asks it to shut down, and the run exiting 0, on both vendors.
#include <catch2/catch.hpp>

#include "suites.hpp"

namespace {

void expect_demo(const std::vector<std::string>& args) {
    auto r = system_test::boot(args);
    INFO(r.text());
    for (const char* name : {"demo-a", "demo-b"}) {
        const std::string c = name, root = std::string("root: child ") + name;
        INFO("child " << name);
        CHECK(r.has(root + ": disk of 4096 KiB (8192 sectors)"));
        CHECK(r.has(c + ": vmbus-console: hello from a child with"));
        CHECK(r.has(c + ": vmbus-console: disk: 8192 sectors of 512 bytes (4096 KiB)"));
        CHECK(r.has(c + ": vmbus-console: disk: wrote 1 MiB (\"" + c + "\" at the front of each sector), read it back: "
                        "it matches, cache synchronised"));
        CHECK(r.has(root + ": heartbeat: negotiated framework 3.0, message 3.0"));
        CHECK(r.has(root + ": shutdown: accepted"));
        CHECK(r.has(root + " ended shutdown code=0"));
        CHECK(r.has(root + ": disk: closed after 35 requests, 1024 KiB read, 1024 KiB written"));
    }
    CHECK(r.has("root: all children ended; exit 0"));
    CHECK(r.status == 0);
}

} // namespace

TEST_CASE("The demo runs two children on synthetic devices and exits 0 on both vendors", "[demo][vmbus]") {
    SECTION("AMD-V (QEMU)") { expect_demo({"--backend", "svm", "--timeout", "240"}); }
    SECTION("VT-x (Bochs)") { expect_demo({"--backend", "vmx", "--timeout", "600"}); }
}
