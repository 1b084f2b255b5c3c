// One side of the two-child memory check (`args="cross=SELF,OTHER"`, two children at once):
// each stamps every page of its RAM past its image with its own tag, looks through all of its
// RAM for the other's tag several times while both run, and finally finds its own stamps
// intact. A page shared between the two (or a GPA of one mapped to the other's page) shows as
// the other's stamp in a scan or as a broken stamp at the end. The harness checks from the
// lines' order that a whole scan ran while the other child's stamps existed.
#include "tests/guest/isolation/isolation.hpp"

namespace iso {
namespace {

using namespace mb1;

constexpr uint32_t scans = 3;
constexpr uint32_t settle_ticks = 100;   // 1 s: the other child stamps meanwhile
constexpr uint32_t tag_base = 0x1501a000;

void say(const char* a, uint32_t n, const char* b, uint32_t m) {
    print("isolation: cross: ");
    print(a);
    print_u(n);
    print(b);
    print_u(m);
    print("\n");
}

} // namespace

uint32_t run_cross(const Boot& boot, uint32_t self, uint32_t other) {
    uint32_t mine = tag_base | self, theirs = tag_base | other;
    uint32_t start = reinterpret_cast<uint32_t>(iso_image_end);
    ktap_begin(3);
    start_timer();
    uint32_t stamped_pages = 0;
    for (uint32_t a = start; a < boot.ram_end; a += page, stamped_pages++)
        stamp(a, mine, a / page);
    say("stamped ", stamped_pages, " pages with tag of child ", self);
    ktap_check(stamped_pages > 0, "it stamped every page of its RAM past the image");
    wait_ticks(settle_ticks);
    uint32_t found = 0;
    for (uint32_t k = 1; k <= scans; k++) {
        say("scan ", k, " begins, looking for the tag of child ", other);
        uint32_t hits = 0;
        for (uint32_t a = 0; a < boot.ram_end; a += page)
            hits += stamped_by(a, theirs);
        say("scan ", k, " done, pages with the other tag: ", hits);
        found += hits;
        wait_ticks(settle_ticks / 4);
    }
    ktap_check(found == 0, "no page of its RAM ever holds the other child's stamp");
    wait_ticks(settle_ticks);
    uint32_t broken = 0;
    for (uint32_t a = start; a < boot.ram_end; a += page)
        broken += !stamped(a, mine, a / page);
    say("verified ", stamped_pages - broken, " stamps intact of ", stamped_pages);
    ktap_check(broken == 0, "every stamp it wrote is intact at the end");
    stop_timer();
    return ktap_finish();
}

} // namespace iso
