// The `apic` suite's timer half: the local APIC timer in one-shot, periodic and TSC-deadline
// modes (Intel SDM vol 3 11.5.4 and 11.5.4.1). Its input clock is the rate the hypervisor reports
// in HV_X64_MSR_APIC_FREQUENCY (TLFS 12.4): the count falls at that rate divided by the divide
// configuration. Times are taken from the reference counter (10 MHz) and, for TSC-deadline, the TSC.
#include "tests/guest/apic_env.hpp"

namespace apic_suite {
namespace {

constexpr uint8_t v_timer = 0x90;
constexpr uint32_t lvt_masked = 1u << 16, lvt_periodic = 1u << 17, lvt_deadline = 2u << 17;
constexpr uint64_t units_per_ms = 10'000;

uint64_t hz;   // the timer's input clock
uint32_t vp;

// Divide configuration encodings (SDM vol 3 figure 11-10): bits 3, 1:0.
struct Divide {
    uint32_t by, code;
};
constexpr Divide divides[] = {{1, 0xb}, {2, 0x0}, {16, 0x3}, {128, 0xa}};

// Every delivery of v_timer: reference time and TSC at the handler.
constexpr uint32_t max_log = 32;
volatile uint64_t log_ref[max_log], log_tsc[max_log];
volatile uint32_t log_n;
void hook_timer(vectors::Event&) {
    uint32_t n = log_n;
    if (n < max_log) {
        log_tsc[n] = rt::rdtsc();
        log_ref[n] = vectors::ref_now();
    }
    log_n = n + 1;
}
void clear_log() {
    log_n = 0;
    vectors::reset(v_timer);
}
uint32_t fired() { return vectors::count(vp, v_timer); }

void stop() {
    rt::wrmsr(msr_initial, 0);
    rt::wrmsr(msr_lvt_timer, lvt_masked | v_timer);
}
void arm(uint32_t lvt, uint32_t divide_code, uint32_t initial) {
    rt::wrmsr(msr_divide, divide_code);
    rt::wrmsr(msr_lvt_timer, lvt);
    rt::wrmsr(msr_initial, initial);
}
uint32_t counts_for_ms(uint64_t ms, uint32_t by) { return static_cast<uint32_t>(hz / by * ms / 1000); }
// The earliest reference time a timer of `units` may fire, measured from t0: the reported
// frequency may be off by the hypervisor's calibration (1%), never more.
uint64_t not_before(uint64_t t0, uint64_t units) { return t0 + units - units / 100; }

void one_shot_checks(suite::Reporter& r) {
    constexpr uint64_t ms = 20;
    uint32_t initial = counts_for_ms(ms, 16);
    clear_log();
    uint64_t t0 = vectors::ref_now();
    arm(v_timer, 0x3, initial);
    uint64_t lvt = rt::rdmsr(msr_lvt_timer);
    uint64_t c1 = rt::rdmsr(msr_current);
    vectors::spin_ms(2);
    uint64_t c2 = rt::rdmsr(msr_current);
    r.check(c1 <= initial && c2 < c1 && c2 > 0, "one-shot: the current count (0x839) falls from the initial count");
    vectors::wait_count(vp, v_timer, 1, ms + late_ms);
    uint64_t at = log_ref[0];
    bool ok = fired() == 1 && at >= not_before(t0, ms * units_per_ms) && at <= t0 + (ms + late_ms) * units_per_ms;
    r.check(ok, "one-shot: fires once, not before its time, within the lateness bound");
    if (!ok)
        r.diag("one-shot of %lu ms: %u interrupts, first after %lu units (initial %u, current %lu then %lu)", ms,
               fired(), fired() ? at - t0 : 0, initial, c1, c2);
    vectors::spin_ms(3 * ms);
    uint64_t left = rt::rdmsr(msr_current);
    r.check(left == 0 && fired() == 1, "one-shot: the current count stays 0 after it fired, with no second interrupt");
    lvt &= 0x700ff;
    rt::wrmsr(msr_lvt_timer, lvt_periodic | lvt_masked | v_timer);
    uint64_t lvt2 = rt::rdmsr(msr_lvt_timer) & 0x700ff;
    r.check(lvt == v_timer && lvt2 == (lvt_periodic | lvt_masked | v_timer),
            "the LVT timer register (0x832) reads back vector, mask and mode");
    stop();
}

void periodic_checks(suite::Reporter& r) {
    constexpr uint64_t ms = 10;
    constexpr uint32_t n = 8;
    // Measured at most twice: a guest's time under an emulator is the host's, and a host that
    // stops the emulator's thread for more than the lateness bound (seen once in a fresh-clone
    // run: 7 interrupts in 130 ms, against 80.1-80.2 ms for the 8th in every run alone) makes
    // periods fold into one. A timer that is wrong fails both; each failed attempt is printed.
    bool early = false, enough = false, in_time = false;
    uint64_t last = 0;
    for (uint32_t attempt = 0; attempt < 2 && !(enough && !early && in_time); attempt++) {
        if (attempt)
            r.diag("periodic 10 ms, attempt 1: %u interrupts, the 8th after %lu units of 100 ns, %s; measured again",
                   log_n, last, early ? "one early" : "none early");
        clear_log();
        uint64_t t0 = vectors::ref_now();
        arm(lvt_periodic | v_timer, 0xb, counts_for_ms(ms, 1));
        vectors::wait_count(vp, v_timer, n, n * ms + late_ms);
        early = false;
        for (uint32_t k = 0; k < n && k < log_n; k++)
            early = early || log_ref[k] < not_before(t0, (k + 1) * ms * units_per_ms);
        enough = log_n >= n;
        last = enough ? log_ref[n - 1] - t0 : 0;
        in_time = enough && last <= (n * ms + late_ms) * units_per_ms;
        if (!(enough && !early && in_time))
            stop();
    }
    r.check(enough && !early, "periodic: 8 interrupts, the k-th not before k periods of 10 ms");
    r.check(in_time, "periodic: the 8th interrupt within 8 periods and the lateness bound (no drift)");
    r.diag("periodic 10 ms: %u interrupts, the 8th after %lu units of 100 ns", log_n, last);
    rt::wrmsr(msr_initial, 0);
    uint32_t stopped_at = fired();
    vectors::spin_ms(3 * ms);
    r.check(fired() == stopped_at && rt::rdmsr(msr_current) == 0, "periodic: writing initial count 0 stops it");
    stop();
}

void masked_and_divide_checks(suite::Reporter& r) {
    clear_log();
    arm(lvt_masked | v_timer, 0x3, counts_for_ms(5, 16));
    vectors::spin_ms(20);
    r.check(fired() == 0 && rt::rdmsr(msr_current) == 0, "masked LVT (bit 16): never fires, yet the count runs down to 0");
    stop();

    bool all = true;
    for (const Divide& d : divides) {
        arm(lvt_masked | v_timer, d.code, 0xffffffff);
        uint64_t r0 = vectors::ref_now(), c0 = rt::rdmsr(msr_current);
        vectors::spin_ms(10);
        uint64_t c1 = rt::rdmsr(msr_current), r1 = vectors::ref_now();
        uint64_t rate = r1 > r0 ? (c0 - c1) * 10'000'000 / (r1 - r0) : 0, want = hz / d.by;
        // 15%: far from the factor of 2 between neighbouring divisors; the two register reads
        // that bracket each 10 ms window cost a few exits (well under 1%).
        bool ok = (rt::rdmsr(msr_divide) & 0xb) == d.code && rate * 100 >= want * 85 && rate * 100 <= want * 115;
        if (!ok)
            r.diag("divide by %u: %lu counts/s, want %lu", d.by, rate, want);
        all = all && ok;
    }
    r.check(all, "divide configuration (0x83e) reads back; the count falls at APIC frequency / 1, 2, 16, 128");
    stop();
}

void deadline_checks(suite::Reporter& r) {
    bool offered = rt::cpuid(1).ecx & (1u << 24);
    r.check(offered, "cpuid.1:ECX[24] offers the TSC-deadline timer");
    const char* names[] = {"TSC-deadline: fires once, not before the deadline; IA32_TSC_DEADLINE reads 0 after",
                           "TSC-deadline: writing 0 disarms", "TSC-deadline: a deadline in the past fires at once",
                           "TSC-deadline mode ignores the initial count; the current count reads 0",
                           "one-shot mode ignores IA32_TSC_DEADLINE writes"};
    if (!offered) {
        for (const char* n : names)
            r.skip(n, "CPUID.1:ECX[24] clear (not offered)");
        return;
    }
    uint64_t tsc_ms = rt::tsc_khz();
    clear_log();
    arm(lvt_deadline | v_timer, 0xb, 0);
    uint64_t deadline = rt::rdtsc() + 10 * tsc_ms;
    rt::wrmsr(msr_tsc_deadline, deadline);
    vectors::wait_count(vp, v_timer, 1, 10 + late_ms);
    vectors::spin_ms(5);
    uint64_t after = rt::rdmsr(msr_tsc_deadline);
    bool ok = fired() == 1 && log_tsc[0] >= deadline && after == 0;
    r.check(ok, names[0]);
    if (!ok)
        r.diag("deadline %lx: %u interrupts, first at TSC %lx; MSR reads %lx", deadline, fired(), log_tsc[0], after);

    clear_log();
    rt::wrmsr(msr_tsc_deadline, rt::rdtsc() + 5 * tsc_ms);
    rt::wrmsr(msr_tsc_deadline, 0);
    vectors::spin_ms(20);
    r.check(fired() == 0, names[1]);

    clear_log();
    rt::wrmsr(msr_tsc_deadline, rt::rdtsc() - 1000);
    vectors::wait_count(vp, v_timer, 1, late_ms);
    vectors::spin_ms(5);
    r.check(fired() == 1, names[2]);

    clear_log();
    rt::wrmsr(msr_initial, counts_for_ms(2, 1));
    uint64_t current = rt::rdmsr(msr_current);
    vectors::spin_ms(10);
    r.check(fired() == 0 && current == 0 && rt::rdmsr(msr_initial) == 0, names[3]);

    clear_log();
    arm(v_timer, 0xb, 0);
    auto p = rt::probe_wrmsr(msr_tsc_deadline, rt::rdtsc() + tsc_ms);
    vectors::spin_ms(10);
    r.check(p.vector < 0 && fired() == 0, names[4]);
    stop();
}

} // namespace

void timer_checks(suite::Reporter& r) {
    vp = vectors::this_vp();
    vectors::set_hook(v_timer, hook_timer);
    auto f = rt::probe_rdmsr(msr_apic_hz);
    hz = f.value;
    r.diag("APIC timer input clock %lu Hz", hz);
    bool plausible = f.vector < 0 && hz >= 1'000'000 && hz <= 10'000'000'000ull;
    r.check(plausible, "APIC frequency MSR (0x40000023) reads a plausible rate (1 MHz - 10 GHz)");
    if (!plausible)
        hz = 1'000'000'000;   // the checks below then fail on their own figures
    one_shot_checks(r);
    periodic_checks(r);
    masked_and_divide_checks(r);
    deadline_checks(r);
}

} // namespace apic_suite
