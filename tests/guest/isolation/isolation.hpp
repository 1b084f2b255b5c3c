// The isolation child kernel's parts (tests/guest/isolation/main.cpp picks one from its command
// line): the in-child suite, one hostile probe, or one side of the two-child memory check.
#pragma once
#include "tests/guest/mb1/kit.hpp"

namespace iso {

using namespace mb1::kit;
extern "C" const uint8_t iso_image_end[];   // page-aligned end of the image (isolation.ld)


struct Boot {
    bool magic_ok;
    uint32_t ram_end;        // 1 MiB + Multiboot mem_upper: the end of the child's RAM
    const char* cmdline;
};

// Where the hypervisor keeps its pool on a 512 MiB machine (the top 1/8 of RAM, at least
// 16 MiB: docs/root-partition.md): for a child only a GPA past its RAM.
inline constexpr uint32_t hv_pool_gpa = 0x1f000000;

// Each returns the debug-exit code.
uint32_t run_suite(const Boot& boot);
uint32_t run_probe(const Boot& boot, const char* probe);
uint32_t run_cross(const Boot& boot, uint32_t self, uint32_t other);

// A page's stamp: four words at its start that name an owner tag and the page.
inline void stamp(uint32_t gpa, uint32_t tag, uint32_t index) {
    auto* w = mb1::phys<volatile uint32_t>(gpa);
    w[0] = tag;
    w[1] = index;
    w[2] = ~tag;
    w[3] = tag ^ index;
}
inline bool stamped(uint32_t gpa, uint32_t tag, uint32_t index) {
    auto* w = mb1::phys<volatile uint32_t>(gpa);
    return w[0] == tag && w[1] == index && w[2] == ~tag && w[3] == (tag ^ index);
}
// Any page stamped with `tag`, whatever its index.
inline bool stamped_by(uint32_t gpa, uint32_t tag) {
    auto* w = mb1::phys<volatile uint32_t>(gpa);
    return w[0] == tag && w[2] == ~tag && w[3] == (tag ^ w[1]);
}

} // namespace iso
