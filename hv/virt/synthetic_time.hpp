// Partition reference time and the simple synthetic MSRs (TLFS 12.4-12.7, "Partition reference
// time"; 2.4.4 for the crash MSRs): HV_X64_MSR_TIME_REF_COUNT, the reference TSC page, the
// TSC/APIC frequency MSRs and the guest crash MSRs. The arithmetic and the page's state machine
// are pure (a memory accessor M as in hypercalls/page.hpp), so they run in host unit tests; the
// MSR glue that reads the clock and logs is in synthetic_time.cpp.
//
// - Reference time counts 100 ns units from the partition's creation: (tsc - base) * 10^7 / hz,
//   in integer arithmetic that cannot overflow for any 64-bit TSC delta.
// - The reference TSC page gives the same time without an exit: ((tsc * scale) >> 64) + offset,
//   scale a 0.64 fixed-point fraction = 10^7 * 2^64 / hz. A TSC at or below 10 MHz (Bochs runs
//   its TSC at its instruction rate) cannot be expressed: the page then carries sequence 0,
//   which tells readers to fall back to the MSR (TLFS 12.7.2).
// - The TLFS page is an overlay, as the hypercall page: the bytes it covers are kept and put
//   back when it is disabled or moved. A GPA outside the partition's memory refuses with #GP.
#pragma once
#include <stdint.h>

namespace hv {
struct Vp;
}

namespace hv::virt {

__extension__ typedef unsigned __int128 uint128_t;

inline constexpr uint64_t ref_units_per_second = 10'000'000; // 100 ns units

// floor(a * mul / div) for div != 0 and mul * div < 2^64: no 128-bit division (no libgcc call).
[[nodiscard]] constexpr uint64_t mul_div(uint64_t a, uint64_t mul, uint64_t div) {
    return a / div * mul + a % div * mul / div;
}

// Reference time of a TSC `delta` ticks after the partition's base at `hz` ticks per second.
[[nodiscard]] constexpr uint64_t ref_time(uint64_t delta, uint64_t hz) {
    return hz ? mul_div(delta, ref_units_per_second, hz) : 0;
}

// floor(10^7 * 2^64 / hz) by shift-and-subtract long division; 0 when it does not fit 64 bits
// (hz <= 10 MHz) or hz is beyond 2^63.
[[nodiscard]] constexpr uint64_t tsc_scale(uint64_t hz) {
    if (hz <= ref_units_per_second || hz >> 63)
        return 0;
    uint64_t rem = ref_units_per_second, q = 0;
    for (int i = 0; i < 64; i++) {
        rem <<= 1; // rem < hz < 2^63: no overflow
        q <<= 1;
        if (rem >= hz) {
            rem -= hz;
            q |= 1;
        }
    }
    return q;
}

[[nodiscard]] constexpr uint64_t scaled(uint64_t tsc, uint64_t scale) {
    return static_cast<uint64_t>((static_cast<uint128_t>(tsc) * scale) >> 64);
}

// The offset that makes the page read 0 at `base_tsc`: what a reader computes is
// scaled(tsc, scale) + offset, modulo 2^64.
[[nodiscard]] constexpr int64_t tsc_offset(uint64_t base_tsc, uint64_t scale) {
    return -static_cast<int64_t>(scaled(base_tsc, scale));
}

// HV_REFERENCE_TSC_PAGE (TLFS 12.7.2): the first 24 bytes of the page; the rest is reserved.
struct ReferenceTscPage {
    uint32_t sequence; // 0: invalid, use the MSR
    uint32_t reserved;
    uint64_t scale;
    int64_t offset;
};
static_assert(sizeof(ReferenceTscPage) == 24);

namespace reference_tsc_msr {
inline constexpr uint64_t enable = 1;
inline constexpr uint64_t reserved = 0xffe; // 11:1
inline constexpr uint64_t gpa_mask = ~0xfffull;
} // namespace reference_tsc_msr

// HV_X64_MSR_CRASH_CTL: only CrashNotify is offered (no crash message page).
inline constexpr uint64_t crash_notify = 1ull << 63;
inline constexpr uint32_t crash_params = 5;
inline constexpr uint32_t crash_reports_logged_max = 4; // a guest looping on CTL cannot flood the log

struct SyntheticTime {
    uint64_t base_tsc = 0;                          // the TSC at the partition's creation
    uint64_t reference_tsc_msr = 0;                 // what a read returns
    uint32_t sequence = 0;                          // of the last page written
    uint8_t covered[sizeof(ReferenceTscPage)] = {}; // the guest's bytes under the page
    uint64_t crash[crash_params] = {};              // P0-P4
    uint32_t crash_reports = 0;
};

// The page's content for a partition created at `base_tsc` on a TSC of `hz`.
[[nodiscard]] constexpr ReferenceTscPage reference_page(uint64_t base_tsc, uint64_t hz, uint32_t sequence) {
    uint64_t scale = tsc_scale(hz);
    if (!scale)
        return {0, 0, 0, 0};
    return {sequence, 0, scale, tsc_offset(base_tsc, scale)};
}

// The next non-zero sequence: readers retry while it changes; 0 would mean invalid.
[[nodiscard]] constexpr uint32_t next_sequence(uint32_t s) {
    return s + 1 == 0 ? 1 : s + 1;
}

namespace detail {
template <class M> void remove_reference_page(SyntheticTime& t, M& mem) {
    if (!(t.reference_tsc_msr & reference_tsc_msr::enable))
        return;
    // Best effort, as for the hypercall page: if the page went away, so did the bytes.
    static_cast<void>(
        mem.write(t.reference_tsc_msr & reference_tsc_msr::gpa_mask, t.covered, sizeof t.covered));
    t.reference_tsc_msr &= ~reference_tsc_msr::enable;
}
} // namespace detail

// False: refuse the WRMSR with #GP(0), nothing changed.
template <class M>
[[nodiscard]] bool write_reference_tsc_msr(SyntheticTime& t, uint64_t value, uint64_t hz, M& mem) {
    using namespace reference_tsc_msr;
    if (value & reserved)
        return false;
    uint64_t gpa = value & gpa_mask;
    bool was = t.reference_tsc_msr & enable;
    uint64_t old_gpa = t.reference_tsc_msr & gpa_mask;
    if (!(value & enable)) {
        detail::remove_reference_page(t, mem);
        t.reference_tsc_msr = gpa;
        return true;
    }
    uint8_t covered[sizeof(ReferenceTscPage)];
    bool same = was && old_gpa == gpa;
    if (!same && !mem.read(gpa, covered, sizeof covered))
        return false;
    uint32_t seq = next_sequence(t.sequence);
    ReferenceTscPage page = reference_page(t.base_tsc, hz, seq);
    if (!mem.write(gpa, &page, sizeof page))
        return false;
    if (!same) {
        detail::remove_reference_page(t, mem);
        __builtin_memcpy(t.covered, covered, sizeof covered);
    }
    t.sequence = seq;
    t.reference_tsc_msr = gpa | enable;
    return true;
}

// The MSR glue (synthetic_time.cpp). False: #GP(0).
[[nodiscard]] bool is_synthetic_time_msr(uint32_t msr);
[[nodiscard]] bool synthetic_time_read(Vp& vp, uint32_t msr, uint64_t& value);
[[nodiscard]] bool synthetic_time_write(Vp& vp, uint32_t msr, uint64_t value);

inline uint64_t read_tsc() {
    return __builtin_ia32_rdtsc();
}

} // namespace hv::virt
