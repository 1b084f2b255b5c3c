// Guest suite `reftime`, run as the root partition's image: partition reference time and the
// simple synthetic MSRs (TLFS 12.4-12.7 and 2.4.4). Hypothesis: CPUID 0x40000003 offers exactly
// the time reference count, the reference TSC page, the frequency MSRs and the crash MSRs; the
// reference count runs at 10 MHz, monotonic on one VP and across VPs; the reference TSC page
// follows the sequence protocol and agrees with the MSR, moves, disables (overlay removed) and is
// refused outside the partition's memory; every read-only or reserved form faults with #GP; the
// crash MSRs take P0-P4 and a notification (the hypervisor logs it: the system test checks).
// The page layout is spelled out here from the TLFS, independently of the hypervisor's headers.
#include "hypercalls/abi/tlfs.hpp"
#include "tests/guest/suite.hpp"

namespace {

using root_abi::RegionType;
__extension__ typedef unsigned __int128 u128;

constexpr uint32_t msr_count = tlfs::msr::time_ref_count, msr_page = tlfs::msr::reference_tsc,
                   msr_tsc_hz = tlfs::msr::tsc_frequency, msr_apic_hz = tlfs::msr::apic_frequency,
                   msr_crash_ctl = tlfs::msr::crash_ctl;
constexpr uint64_t units_per_ms = 10'000;
constexpr uint64_t crash_notify = 1ull << 63;

struct TscPage { // HV_REFERENCE_TSC_PAGE, TLFS 12.7.2
    volatile uint32_t sequence;
    uint32_t reserved;
    volatile uint64_t scale;
    volatile int64_t offset;
};

struct Env {
    uint64_t a = 0, b = 0;  // two scratch pages, identity-mapped below 4 GiB
    uint64_t hv_gpa = 0;    // a page of the hypervisor's (not the root's), or 0
    uint64_t width_end = 0; // 1 << MAXPHYADDR
    uint64_t tsc_hz = 0;
} env;

bool find_memory(const root_abi::RootHandoff& h) {
    const root_abi::Region* best = nullptr;
    for (uint32_t i = 0; i < h.region_count; i++) {
        const auto& r = h.regions[i];
        if (r.type == RegionType::usable && r.base + r.length <= (4ull << 30) &&
            (!best || r.length > best->length))
            best = &r;
        if (r.type == RegionType::hypervisor && !env.hv_gpa && r.length >= 8192 &&
            r.base + r.length <= (4ull << 30))
            env.hv_gpa = (r.base + r.length / 2) & ~0xfffull;
    }
    if (!best || best->length < 64 * 4096ull)
        return false;
    env.a = ((best->base + best->length) & ~0xfffull) - 3 * 4096ull;
    env.b = env.a + 4096;
    return true;
}

TscPage* page_at(uint64_t gpa) {
    return reinterpret_cast<TscPage*>(gpa);
}
void mark(uint64_t gpa) {
    __builtin_memset(reinterpret_cast<void*>(gpa), 0xcc, 4096);
}
bool marked(uint64_t gpa) {
    const auto* p = reinterpret_cast<const uint8_t*>(gpa);
    for (int i = 0; i < 64; i++)
        if (p[i] != 0xcc)
            return false;
    return true;
}

uint64_t ref_count() {
    return rt::rdmsr(msr_count);
}

// The TLFS reader: sequence, scale and offset, the TSC, the sequence again; retry on change.
// False when the sequence is 0 (invalid: use the MSR).
bool page_time(const TscPage* p, uint64_t& t) {
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t seq = p->sequence;
        asm volatile("" ::: "memory");
        if (seq == 0)
            return false;
        uint64_t scale = p->scale;
        int64_t offset = p->offset;
        uint64_t tsc = rt::rdtsc();
        asm volatile("" ::: "memory");
        if (p->sequence == seq) {
            t = static_cast<uint64_t>((static_cast<u128>(tsc) * scale) >> 64) + static_cast<uint64_t>(offset);
            return true;
        }
    }
    return false;
}

void spin_tsc(uint64_t ticks) {
    for (uint64_t t0 = rt::rdtsc(); rt::rdtsc() - t0 < ticks;)
        asm volatile("pause");
}

void cpuid_checks(suite::Reporter& r) {
    auto f = rt::cpuid(tlfs::cpuid::features);
    r.check(f.eax & tlfs::privilege::time_ref_count_msr, "cpuid.40000003 offers the time reference count");
    r.check(f.eax & tlfs::privilege::partition_reference_tsc, "cpuid.40000003 offers the reference TSC page");
    r.check(f.eax & tlfs::privilege::frequency_msrs, "cpuid.40000003 offers the frequency MSRs");
    r.check(f.edx & tlfs::feature_edx::guest_crash_msrs, "cpuid.40000003 EDX offers the crash MSRs");
    r.check(!(f.eax & tlfs::privilege::vp_runtime_msr), "cpuid.40000003 offers no VP runtime MSR (not implemented)");
}

void frequency_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    auto tsc = rt::probe_rdmsr(msr_tsc_hz);
    env.tsc_hz = tsc.vector < 0 ? tsc.value : 0;
    uint64_t khz = env.tsc_hz / 1000;
    if (khz + 1 < h.tsc_khz || khz > h.tsc_khz + 1)
        r.diag("TSC frequency MSR %lu Hz, handoff %lu kHz", env.tsc_hz, h.tsc_khz);
    r.check(env.tsc_hz && khz + 1 >= h.tsc_khz && khz <= h.tsc_khz + 1,
            "TSC frequency MSR matches the handoff's tsc_khz");
    auto apic = rt::probe_rdmsr(msr_apic_hz);
    r.diag("TSC %lu Hz, APIC timer %lu Hz", env.tsc_hz, apic.value);
    r.check(apic.vector < 0 && apic.value >= 1'000'000 && apic.value <= 10'000'000'000ull,
            "APIC frequency MSR reads a plausible rate (1 MHz - 10 GHz)");
    r.check(rt::probe_wrmsr(msr_tsc_hz, env.tsc_hz).vector == 13 &&
                rt::probe_wrmsr(msr_apic_hz, 0).vector == 13,
            "the frequency MSRs are read-only (#GP)");
}

void count_checks(suite::Reporter& r) {
    auto first = rt::probe_rdmsr(msr_count);
    r.check(first.vector < 0, "time reference count reads");
    uint64_t prev = first.value, start = first.value;
    bool mono = true;
    for (int i = 0; i < 2000; i++) {
        uint64_t v = ref_count();
        mono = mono && v >= prev;
        prev = v;
    }
    r.check(mono && prev > start, "time reference count is monotonic over 2000 reads and advances");

    if (!env.tsc_hz) {
        r.skip("time reference count runs at 10 MHz against the TSC", "no TSC frequency");
    } else {
        uint64_t t0 = rt::rdtsc(), c0 = ref_count();
        spin_tsc(env.tsc_hz / 20); // 50 ms of TSC
        uint64_t c1 = ref_count(), t1 = rt::rdtsc();
        uint64_t want = static_cast<uint64_t>(static_cast<u128>(t1 - t0) * 10'000'000 / env.tsc_hz);
        uint64_t got = c1 - c0;
        r.diag("50 ms of TSC: %lu units of 100 ns (TSC says %lu)", got, want);
        r.check(got * 10 >= want * 8 && got * 10 <= want * 12,
                "time reference count runs at 10 MHz (within 20%)");
    }
    uint64_t before = ref_count();
    bool refused =
        rt::probe_wrmsr(msr_count, 0).vector == 13 && rt::probe_wrmsr(msr_count, ~0ull).vector == 13;
    r.check(refused && ref_count() >= before, "time reference count is read-only (#GP) and not reset");
}

// Cross-VP handshake: the bootstrap VP reads, hands the turn to one AP, which reads and hands it
// back, and the bootstrap VP reads again: before <= AP's <= after, for every AP, many rounds.
volatile uint32_t turn; // the AP index whose turn it is; 0: the bootstrap VP's
volatile uint64_t ap_count, ap_page;
volatile bool ap_page_valid, ap_quit;

void cross_vp_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    if (h.processor_count < 2) {
        r.skip("application processors start", "one processor");
        r.skip("time reference count is monotonic across VPs", "one processor");
        r.skip("reference TSC page time is monotonic across VPs", "one processor");
        return;
    }
    uint32_t n = rt::start_aps(h);
    r.check(n == h.processor_count, "application processors start");
    bool mono = true, page_mono = true, answered = true;
    bool page_on = (rt::rdmsr(msr_page) & 1) && page_at(env.a)->sequence != 0;
    for (int round = 0; round < 20 && answered; round++) {
        for (uint32_t i = 1; i < n && answered; i++) {
            uint64_t p0 = 0, p1 = 0;
            bool v0 = page_on && page_time(page_at(env.a), p0);
            uint64_t c0 = ref_count();
            __atomic_store_n(&turn, i, __ATOMIC_RELEASE);
            for (uint64_t deadline = rt::rdtsc() + 2000 * rt::tsc_khz();
                 __atomic_load_n(&turn, __ATOMIC_ACQUIRE) && rt::rdtsc() < deadline;)
                asm volatile("pause");
            answered = __atomic_load_n(&turn, __ATOMIC_ACQUIRE) == 0;
            uint64_t c1 = ref_count();
            bool v1 = page_on && page_time(page_at(env.a), p1);
            if (answered && !(c0 <= ap_count && ap_count <= c1)) {
                r.diag("VP %u: %lu <= %lu <= %lu does not hold", i, c0, ap_count, c1);
                mono = false;
            }
            if (answered && v0 && v1 && ap_page_valid && !(p0 <= ap_page && ap_page <= p1)) {
                r.diag("VP %u page: %lu <= %lu <= %lu does not hold", i, p0, ap_page, p1);
                page_mono = false;
            }
        }
    }
    __atomic_store_n(&ap_quit, true, __ATOMIC_RELEASE);
    if (!answered)
        r.diag("an application processor did not answer within 2 s");
    r.check(answered && mono, "time reference count is monotonic across VPs");
    if (page_on)
        r.check(answered && page_mono, "reference TSC page time is monotonic across VPs");
    else
        r.skip("reference TSC page time is monotonic across VPs", "the page is not valid here");
}

// What the bootstrap VP compares: the page's time bracketed by two MSR reads, within 1 ms.
bool page_agrees(suite::Reporter& r, uint64_t gpa) {
    uint64_t p = 0;
    uint64_t m0 = ref_count();
    bool valid = page_time(page_at(gpa), p);
    uint64_t m1 = ref_count();
    bool ok = valid && p + units_per_ms >= m0 && p <= m1 + units_per_ms;
    if (!ok)
        r.diag("page at %lx: valid %d, %lu vs MSR %lu..%lu (seq %u scale %lx offset %ld)", gpa, valid, p, m0,
               m1, page_at(gpa)->sequence, page_at(gpa)->scale, page_at(gpa)->offset);
    return ok;
}

// Returns whether the page is valid on this processor's TSC (above 10 MHz), for cross_vp_checks.
bool page_checks(suite::Reporter& r) {
    uint64_t a = env.a, b = env.b;
    mark(a);
    mark(b);
    auto first = rt::probe_rdmsr(msr_page);
    r.check(first.vector < 0 && first.value == 0, "reference TSC MSR reads 0 at start");
    r.check(rt::probe_wrmsr(msr_page, a | 1).vector < 0 && rt::rdmsr(msr_page) == (a | 1),
            "reference TSC page enables and reads back");
    // 10^7 * 2^64 / hz must fit 64 bits: a TSC at or below 10 MHz cannot be described.
    bool expressible = env.tsc_hz > 10'000'000;
    uint32_t seq = page_at(a)->sequence;
    r.check(expressible ? seq != 0 : seq == 0, expressible
                                                   ? "the page's sequence is valid (non-zero)"
                                                   : "the page's sequence is 0 on a TSC at or below 10 MHz");
    if (expressible) {
        uint64_t scale = page_at(a)->scale;
        uint64_t rate = static_cast<uint64_t>((static_cast<u128>(env.tsc_hz) * scale) >> 64);
        r.check(rate + 1 >= 10'000'000 && rate <= 10'000'000,
                "the page's scale turns the TSC frequency into 10 MHz");
        r.check(page_agrees(r, a), "page time agrees with the MSR within 1 ms");
        uint64_t prev = 0, t = 0;
        bool mono = true;
        for (int i = 0; i < 2000 && mono; i++) {
            mono = page_time(page_at(a), t) && t >= prev;
            prev = t;
        }
        r.check(mono, "page time is monotonic over 2000 reads");
        spin_tsc(env.tsc_hz / 100);
        r.check(page_agrees(r, a), "page time still agrees with the MSR 10 ms later");
    } else {
        r.skip("the page's scale turns the TSC frequency into 10 MHz",
               "TSC at or below 10 MHz: the page is invalid");
        r.skip("page time agrees with the MSR within 1 ms", "TSC at or below 10 MHz: readers use the MSR");
        r.skip("page time is monotonic over 2000 reads", "TSC at or below 10 MHz: the page is invalid");
        r.skip("page time still agrees with the MSR 10 ms later",
               "TSC at or below 10 MHz: readers use the MSR");
    }
    r.check(rt::probe_wrmsr(msr_page, a | 1 | 0x10).vector == 13 && rt::rdmsr(msr_page) == (a | 1),
            "reserved bits of the reference TSC MSR raise #GP");
    r.check(rt::probe_wrmsr(msr_page, a | 1).vector < 0 && rt::rdmsr(msr_page) == (a | 1) &&
                (!expressible || page_agrees(r, a)),
            "enabling the same page again keeps it valid");

    bool moved = rt::probe_wrmsr(msr_page, b | 1).vector < 0 && rt::rdmsr(msr_page) == (b | 1);
    r.check(moved && marked(a), "moving the page gives the old page its bytes back");
    r.check(moved && (expressible ? page_agrees(r, b) : page_at(b)->sequence == 0),
            "the moved page holds the time");
    r.check(rt::probe_wrmsr(msr_page, b).vector < 0 && rt::rdmsr(msr_page) == b && marked(b),
            "disabling the page clears enable and removes the overlay");
    if (env.hv_gpa)
        r.check(rt::probe_wrmsr(msr_page, env.hv_gpa | 1).vector == 13 && rt::rdmsr(msr_page) == b,
                "a page in hypervisor memory raises #GP");
    else
        r.skip("a page in hypervisor memory raises #GP", "no hypervisor region below 4 GiB");
    r.check(rt::probe_wrmsr(msr_page, env.width_end | 1).vector == 13 && rt::rdmsr(msr_page) == b,
            "a page beyond the physical address width raises #GP");
    r.check(rt::probe_wrmsr(msr_page, a | 1).vector < 0 &&
                (expressible ? page_agrees(r, a) : page_at(a)->sequence == 0),
            "the page enables again after being disabled");
    return expressible;
}

void crash_checks(suite::Reporter& r) {
    auto ctl = rt::probe_rdmsr(msr_crash_ctl);
    r.check(ctl.vector < 0 && ctl.value == crash_notify, "crash CTL reads the CrashNotify capability only");
    constexpr uint64_t params[5] = {0x7e57, 0xdead0001, 0xfeedface00000002, 3, ~0ull};
    bool ok = true;
    for (uint32_t i = 0; i < 5; i++)
        ok = ok && rt::probe_wrmsr(tlfs::msr::crash_p0 + i, params[i]).vector < 0 &&
             rt::rdmsr(tlfs::msr::crash_p0 + i) == params[i];
    r.check(ok, "crash P0-P4 write and read back");
    r.check(rt::probe_wrmsr(msr_crash_ctl, 1ull << 62).vector == 13 &&
                rt::probe_wrmsr(msr_crash_ctl, 1).vector == 13,
            "crash CTL bits not offered raise #GP (no crash message)");
    r.check(rt::probe_wrmsr(msr_crash_ctl, 0).vector < 0, "crash CTL write without notify is accepted");
    r.check(rt::probe_wrmsr(msr_crash_ctl, crash_notify).vector < 0,
            "crash CTL notify is accepted (the log has the report)");
}

// Absurd values at every MSR this suite covers, many times: each faults or is accepted as the
// checks above say, and none of it may flood the hypervisor's log (the system test reads it).
void storm_checks(suite::Reporter& r) {
    bool all = true;
    for (int i = 0; i < 200; i++) {
        uint64_t v = 0x8000000000000000ull >> (i % 64) | 0xfff;
        all = all && rt::probe_wrmsr(msr_count, v).vector == 13 &&
              rt::probe_wrmsr(msr_tsc_hz, v).vector == 13 && rt::probe_wrmsr(msr_apic_hz, v).vector == 13 &&
              rt::probe_wrmsr(msr_page, v).vector == 13 && rt::probe_wrmsr(msr_crash_ctl, v).vector == 13 &&
              rt::probe_wrmsr(0x400000ff, v).vector == 13;
    }
    r.check(all, "200 rounds of absurd writes to the time MSRs all raise #GP");
    r.check(rt::rdmsr(msr_page) == (env.a | 1), "... and the reference TSC page stays where it was");
}

} // namespace

void rt::ap_main(uint32_t index) {
    while (!__atomic_load_n(&ap_quit, __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != index) {
            asm volatile("pause");
            continue;
        }
        ap_count = rt::rdmsr(msr_count);
        uint64_t p = 0;
        ap_page_valid = (rt::rdmsr(msr_page) & 1) && page_time(page_at(env.a), p);
        ap_page = p;
        __atomic_store_n(&turn, 0, __ATOMIC_RELEASE);
    }
}

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(37);
    uint32_t width = rt::cpuid(0x80000008).eax & 0xff;
    env.width_end = 1ull << (width ? width : 36);
    r.diag("reftime: %u processors, backend %s, tsc %lu kHz", h.processor_count, h.backend, h.tsc_khz);
    if (!find_memory(h)) {
        r.diag("no scratch memory below 4 GiB: cannot run");
        return 1;
    }
    cpuid_checks(r);
    frequency_checks(r, h);
    count_checks(r);
    page_checks(r);
    cross_vp_checks(r, h);
    crash_checks(r);
    storm_checks(r);
    return r.finish();
}
