// One piece of work on every VP of a child suite at once (child-ring-stress, child-storage): the
// other VPs wait halted, not spinning (a spinning VP takes a root processor from the ones at
// work), until run() releases them with a fixed IPI to all but self (x2APIC ICR, shorthand 11b:
// Intel SDM vol 3 10.6.1); each runs the work once, then halts for good.
#pragma once
#include <stdint.h>

#include "partitions/rt/rt.hpp"
#include "tests/guest/vectors.hpp"
#include "tests/guest/vmbus_session.hpp"

namespace vp_team {

inline constexpr uint8_t v_go = 0x54;   // a counting gate of tests/guest/vectors (it sends the EOI)

struct Team {
    bool (*work)(uint32_t vp) = nullptr;   // false: that VP failed
    volatile uint32_t go = 0, done = 0, failed = 0;
};
inline Team team;

// From rt::ap_main: waits for run(), does the work, halts for good.
[[noreturn]] inline void ap_main() {
    rt::wrmsr(0x80f, 0x1ff);   // x2APIC SVR: software-enabled, so the start IPI is accepted
    const uint32_t vp = vectors::this_vp();
    while (!__atomic_load_n(&team.go, __ATOMIC_ACQUIRE))
        asm volatile("sti; hlt; cli" ::: "memory");
    if (!team.work(vp))
        __atomic_fetch_add(&team.failed, 1u, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&team.done, 1u, __ATOMIC_ACQ_REL);
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

// On VP 0, once: releases the others, does its own share, then takes VMBus messages until all
// `vps` are done or `ms` pass. Returns the VPs that failed (vps when some never finished).
inline uint32_t run(bool (*work)(uint32_t vp), uint32_t vps, uint64_t ms) {
    team.work = work;
    __atomic_store_n(&team.go, 1u, __ATOMIC_RELEASE);
    rt::wrmsr(0x830, (3u << 18) | v_go);
    if (!work(0))
        __atomic_fetch_add(&team.failed, 1u, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&team.done, 1u, __ATOMIC_ACQ_REL);
    bool all = vmbus_session::pump_until([vps] { return team.done == vps; }, ms);
    return all ? team.failed : vps;
}

} // namespace vp_team
