// Guest suite `stimer`, run as the root partition's image: the synthetic timers (TLFS "Synthetic
// Timers": STIMER0-3 config 0x400000B0 + 2n and count 0x400000B1 + 2n, per VP). Hypothesis: CPUID
// offers the timer MSRs and direct mode; the registers start at 0, reserved config bits #GP,
// a count of 0 disables, AutoEnable enables on a non-zero count, a message-mode timer with SINTx 0
// cannot be enabled; an expiry posts HvMessageTimerExpired into SINTx's slot and raises its
// vector (not when masked), never before its time; one-shots disable themselves, fire at once when
// already due, periodic timers keep k * period without drift; a busy slot holds the next expiry
// until EOM; direct mode raises the vector with no message; each VP has its own four timers.
// Message and payload layouts are spelled out here from the TLFS, not taken from the hypervisor.
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/stimer_env.hpp"

namespace {

using namespace stimer_suite;

constexpr unsigned planned = 25 + cross_vp_check_count;
// 20 ms: longer than the worst delivery latency seen on an idle emulator (about 10 ms under QEMU
// TCG), so a correct hypervisor has no reason to skip a period there.
constexpr uint64_t periodic_ms = 20, periodic_units = periodic_ms * units_per_ms;
constexpr uint32_t periodic_n = 60;
// The TLFS ("Periodic Timers") lets the hypervisor skip expiry signals it could not deliver in
// time even for non-lazy timers, once period modulation cannot catch up: a stalled emulator may
// cost a few periods, so up to 10% of the window's periods may lack a message.
constexpr uint32_t periodic_skips_allowed = periodic_n / 10;

bool cpuid_checks(suite::Reporter& r) {
    auto f = rt::cpuid(tlfs::cpuid::features);
    bool msrs = f.eax & tlfs::privilege::synthetic_timer_msrs;
    r.check(msrs, "cpuid.40000003 EAX[3] offers the synthetic timer MSRs");
    r.check(f.edx & tlfs::feature_edx::direct_synthetic_timers, "cpuid.40000003 EDX[19] offers direct-mode timers");
    return msrs;
}

void register_checks(suite::Reporter& r) {
    bool zero = true;
    for (uint32_t m = tlfs::msr::stimer0_config; m <= tlfs::msr::stimer3_count; m++) {
        auto p = rt::probe_rdmsr(m);
        zero = zero && p.vector < 0 && p.value == 0;
    }
    r.check(zero, "all eight STIMER MSRs read 0 at start");

    // Reserved: 15:13 and 63:20 (TLFS synthetic timer configuration register).
    constexpr uint32_t reserved[] = {13, 14, 15, 20, 40, 63};
    bool gp = true;
    for (uint32_t bit : reserved)
        gp = rt::probe_wrmsr(config_msr(3), sint(2) | (1ull << bit)).vector == 13 && gp;
    r.check(gp && read(config_msr(3)) == 0, "config reserved bits (15:13, 63:20) raise #GP and change nothing");

    uint64_t all = periodic | lazy | auto_enable | (uint64_t{0xab} << 4) | direct | sint(0xf);
    bool took = write(config_msr(3), all);
    uint64_t config = read(config_msr(3));
    took = write(count_msr(3), 0x123456789ull) && took;
    uint64_t count = read(count_msr(3));
    r.check(took && config == all && count == 0x123456789ull,
            "config takes periodic, lazy, auto-enable, vector, direct and SINTx; count reads back (no enable)");
    if (config != all || count != 0x123456789ull)
        r.diag("config wrote %lx read %lx; count wrote 0x123456789 read %lx", all, config, count);
    write(config_msr(3), 0);
    write(count_msr(3), 0);

    write(config_msr(1), periodic | sint(2));
    write(count_msr(1), 10'000 * units_per_ms);
    write(config_msr(1), periodic | sint(2) | enable);
    bool was_on = read(config_msr(1)) & enable;
    write(count_msr(1), 0);
    r.check(was_on && !(read(config_msr(1)) & enable), "writing count 0 disables an enabled timer (enable reads 0)");
    write(config_msr(1), 0);

    write(config_msr(1), auto_enable | periodic | sint(2));
    write(count_msr(1), 10'000 * units_per_ms);
    r.check(read(config_msr(1)) == (auto_enable | periodic | sint(2) | enable),
            "with AutoEnable, writing a non-zero count sets enable");
    write(count_msr(1), 0);
    write(config_msr(1), periodic | sint(2));
    write(count_msr(1), 10'000 * units_per_ms);
    r.check(!(read(config_msr(1)) & enable), "without AutoEnable, writing the count leaves enable clear");
    write(count_msr(1), 0);
    write(config_msr(1), 0);

    // "The SINTx bits cannot be set to zero for an enabled timer. If attempted, the timer will be
    // marked disabled (that is, bit 0 cleared) immediately."
    clear_slot(0, 0);
    write(count_msr(2), now() + units_per_ms);
    write(config_msr(2), sint(0) | enable);
    bool off = !(read(config_msr(2)) & enable);
    vectors::spin_ms(10);
    r.check(off && slot(0, 0).type == 0, "a message-mode timer with SINTx 0 is marked disabled at once and never fires");
    write(config_msr(2), 0);
    write(count_msr(2), 0);
}

void one_shot_checks(suite::Reporter& r) {
    reset_log(0);
    uint64_t due = now() + 10 * units_per_ms;
    write(count_msr(0), due);
    write(config_msr(0), sint(2) | enable);
    bool arrived = vectors::wait_count(0, v_sint2, 1, 10 + late_ms);
    const Msg& m = msgs[0].at[0];
    r.check(arrived && m.type == msg_timer_expired && m.size == 24 && m.index == 0 && m.reserved == 0,
            "one-shot: the expiry posts HvMessageTimerExpired (0x80000010, 24 bytes, TimerIndex 0) into SINT2's slot");
    bool never_early = m.expiration == due && m.delivery >= m.expiration && m.handler >= due;
    r.check(arrived && never_early, "one-shot: ExpirationTime is the count; DeliveryTime and the handler not before it");
    r.check(arrived && m.handler <= due + late_ms * units_per_ms, "one-shot: handler within the lateness bound of expiry");
    r.diag("one-shot: delivery - expiration %ld, handler - expiration %ld (100 ns)",
           static_cast<int64_t>(m.delivery - m.expiration), static_cast<int64_t>(m.handler - due));
    vectors::spin_ms(10);
    r.check(msgs[0].n == 1 && vectors::count(0, v_sint2) == 1 && !(read(config_msr(0)) & enable),
            "one-shot: exactly one expiry and one SINT2 interrupt; the timer disables itself");

    reset_log(0);
    due = now() - 1000;
    write(count_msr(0), due);
    write(config_msr(0), sint(2) | enable);
    arrived = vectors::wait_count(0, v_sint2, 1, late_ms);
    r.check(arrived && msgs[0].at[0].expiration == due, "one-shot: a count already in the past fires at once");

    reset_log(0);
    write(msr::sint0 + 2, v_sint2 | sint_masked);
    write(count_msr(0), now() + 2 * units_per_ms);
    write(config_msr(0), sint(2) | enable);
    vectors::spin_ms(2 + late_ms);
    Slot& s = slot(0, 2);
    r.check(s.type == msg_timer_expired && vectors::count(0, v_sint2) == 0,
            "a masked SINT gets the expiry message in its slot and no interrupt");
    clear_slot(0, 2);
    write(msr::sint0 + 2, v_sint2);
}

// Median and maximum of delivery - expiration over the periodic run, for the bench tooling.
void jitter(suite::Reporter& r, uint32_t n) {
    if (n < 50) {
        r.diag("stimer jitter not measured: %u periodic expiries (50 needed)", n);
        return;
    }
    uint64_t d[periodic_n];
    for (uint32_t i = 0; i < n; i++)
        d[i] = msgs[0].at[i].delivery - msgs[0].at[i].expiration;
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && d[j - 1] > d[j]; j--) {
            uint64_t t = d[j];
            d[j] = d[j - 1];
            d[j - 1] = t;
        }
    r.diag("stimer-jitter median_100ns=%lu max_100ns=%lu", d[n / 2], d[n - 1]);
}

// One run of timer 1 in periodic mode, 60 periods of 20 ms, and what the checks ask of it.
struct PeriodicRun {
    uint64_t t0 = 0, t1 = 0;   // reference time before and after the enable
    uint32_t n = 0;            // expiry messages taken (at most periodic_n)
    bool first = false, grid = false, early = false, exact = false;
    uint64_t worst = 0, spanned = 0;
    [[nodiscard]] bool timely() const { return n == periodic_n && !early && worst <= late_ms * units_per_ms; }
};

PeriodicRun periodic_run() {
    PeriodicRun p;
    reset_log(0);
    write(count_msr(1), periodic_units);
    p.t0 = now();
    write(config_msr(1), periodic | sint(2) | enable);
    p.t1 = now();
    vectors::wait_count(0, v_sint2, periodic_n, (periodic_n + periodic_skips_allowed) * periodic_ms + late_ms);
    write(count_msr(1), 0);
    p.n = msgs[0].n < periodic_n ? msgs[0].n : periodic_n;
    const Msg* at = msgs[0].at;
    // The first period begins when the timer is enabled (TLFS synthetic timer count register).
    p.first = p.n > 0 && at[0].index == 1 && at[0].expiration >= p.t0 + periodic_units &&
              at[0].expiration <= p.t1 + periodic_units;
    // Expiration times are the hypervisor's own arithmetic in reference time, so no measurement
    // noise enters: each must sit exactly on the grid of whole periods from the first (no drift).
    p.grid = p.n == periodic_n;
    for (uint32_t k = 0; k < p.n; k++) {
        p.grid = p.grid && at[k].type == msg_timer_expired && at[k].expiration >= at[0].expiration &&
                 (at[k].expiration - at[0].expiration) % periodic_units == 0 &&
                 (k == 0 || at[k].expiration > at[k - 1].expiration);
        p.early = p.early || at[k].delivery < at[k].expiration || at[k].handler < at[k].expiration;
        if (at[k].handler - at[k].expiration > p.worst)
            p.worst = at[k].handler - at[k].expiration;
    }
    p.spanned = p.n ? (at[p.n - 1].expiration - at[0].expiration) / periodic_units + 1 : 0;
    p.exact = p.grid && p.spanned <= p.n + periodic_skips_allowed;
    return p;
}

void periodic_checks(suite::Reporter& r) {
    // Measured at most twice, as the apic suite's periodic timer is: a guest's time under an
    // emulator is the host's, and a host that stops the emulator's thread past the lateness bound
    // (seen once in a fresh-clone run: a handler 102 ms after its expiry) says nothing of the
    // hypervisor. A timer that is wrong fails both; a failed first attempt is printed.
    PeriodicRun p = periodic_run();
    if (!(p.first && p.exact && p.timely())) {
        r.diag("periodic, attempt 1: %u expiries over %lu periods, first on time %d, worst handler latency %lu "
               "(100 ns); measured again",
               p.n, p.spanned, p.first, p.worst);
        write(config_msr(1), 0);
        p = periodic_run();
    }
    const Msg* at = msgs[0].at;
    const uint32_t n = p.n;
    r.check(p.first, "periodic: the first expiry is one period after the enable");
    r.check(p.exact, "periodic: 60 expiries on the grid of 20 ms periods from the first (no drift), at most 10% skipped");
    for (uint32_t k = 1; k < n && !p.exact; k++)
        if (at[k].expiration != at[k - 1].expiration + periodic_units) {
            r.diag("periodic: expiry %u at %lu follows %lu (a step of %ld; delivered %lu, previous delivered %lu)", k,
                   at[k].expiration, at[k - 1].expiration, static_cast<int64_t>(at[k].expiration - at[k - 1].expiration),
                   at[k].delivery, at[k - 1].delivery);
            break;
        }
    if (!p.exact)
        r.diag("periodic: %u expiries over %lu periods; first at %lu, last at %lu", n, p.spanned, n ? at[0].expiration : 0,
               n ? at[n - 1].expiration : 0);
    r.diag("periodic: worst handler latency %lu (100 ns)", p.worst);
    r.check(p.timely(), "periodic: every expiry delivered and handled not before its time, within the lateness bound");
    jitter(r, n);
    uint32_t stopped = msgs[0].n;
    vectors::spin_ms(3 * periodic_ms);
    r.check(msgs[0].n == stopped && !(read(config_msr(1)) & enable), "periodic: count 0 stops it");
    write(config_msr(1), 0);
}

// SINT3 polls: the suite reads the slot itself, so it can leave it busy.
void busy_slot_checks(suite::Reporter& r) {
    Slot& s = slot(0, 3);
    clear_slot(0, 3);
    uint64_t first = now() + 2 * units_per_ms, second = first + 2 * units_per_ms;
    write(count_msr(2), first);
    write(count_msr(3), second);
    write(config_msr(2), sint(3) | enable);
    write(config_msr(3), sint(3) | enable);
    vectors::spin_ms(4 + late_ms);
    bool held = s.type == msg_timer_expired && (s.payload[0] & 0xffffffff) == 2 && s.payload[1] == first;
    r.check(held && (s.flags & 1) && vectors::count(0, v_sint3) == 0,
            "busy slot: the second expiry waits; the slot keeps the first and shows message-pending (polling SINT3: no "
            "interrupt)");
    if (!held || !(s.flags & 1))
        r.diag("busy slot: type %x index %lu flags %u", s.type, s.payload[0] & 0xffffffff, s.flags);
    uint64_t freed = now();
    s.type = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    write(msr::eom, 0);
    for (uint64_t end = now() + late_ms * units_per_ms; s.type == 0 && now() < end;)
        asm volatile("pause");
    r.check(s.type == msg_timer_expired && (s.payload[0] & 0xffffffff) == 3 && s.payload[1] == second &&
                s.payload[2] >= freed,
            "after clearing the slot and EOM the waiting expiry arrives (TimerIndex 3, delivered after the EOM)");
    clear_slot(0, 3);
    write(config_msr(2), 0);
    write(config_msr(3), 0);
}

bool simp_empty(uint32_t vp) {
    for (uint32_t i = 0; i < 16; i++)
        if (slot(vp, i).type)
            return false;
    return true;
}

void direct_checks(suite::Reporter& r) {
    reset_log(0);
    vectors::reset(v_direct);
    uint64_t due = now() + 5 * units_per_ms;
    write(count_msr(2), due);
    write(config_msr(2), direct | (uint64_t{v_direct} << 4) | enable);
    bool arrived = vectors::wait_count(0, v_direct, 1, 5 + late_ms);
    vectors::spin_ms(10);
    r.check(arrived && vectors::count(0, v_direct) == 1 && vectors::last_ref(0, v_direct) >= due,
            "direct mode: the config's vector is raised once, not before the count");
    r.check(simp_empty(0) && msgs[0].n == 0 && !(read(config_msr(2)) & enable),
            "direct mode: no message in the SIMP; the one-shot disables itself");
    write(config_msr(2), 0);

    // Vectors 0-15 are not valid interrupts (SDM vol 3 11.5.2). The TLFS is silent for timers;
    // the hypervisor refuses such a direct-mode vector with #GP, as the TLFS has it refuse a SINT
    // vector below 16, and the timer stays as it was: nothing is delivered.
    vectors::claim_vector15(true);
    write(count_msr(2), now() + 2 * units_per_ms);
    bool accepted = write(config_msr(2), direct | (uint64_t{15} << 4) | enable);
    vectors::spin_ms(2 + late_ms);
    r.check(!accepted && !(read(config_msr(2)) & enable) && vectors::count(0, 15) == 0 && simp_empty(0),
            "direct mode with vector 15: #GP, the timer stays off, and nothing is delivered");
    if (accepted || vectors::count(0, 15) || !simp_empty(0))
        r.diag("direct vector 15: write %s, %u deliveries on vector 15, SIMP %s", accepted ? "accepted" : "#GP",
               vectors::count(0, 15), simp_empty(0) ? "empty" : "not empty");
    vectors::claim_vector15(false);
    write(config_msr(2), 0);

    // The TLFS is silent on a timer whose SynIC is off: the write is accepted; nothing arrives.
    write(msr::scontrol, 0);
    reset_log(0);
    write(count_msr(0), now() + 2 * units_per_ms);
    accepted = write(config_msr(0), sint(2) | enable);
    vectors::spin_ms(2 + late_ms);
    r.check(accepted && simp_empty(0) && vectors::count(0, v_sint2) == 0,
            "SINTx with the SynIC disabled: accepted, no message and no interrupt");
    write(config_msr(0), 0);
    write(count_msr(0), 0);
    write(msr::scontrol, 1);
}

} // namespace

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(planned);
    r.diag("stimer: backend %s, %u processors", h.backend, h.processor_count);
    rt::pages::init(h);
    vectors::init(h);
    vectors::set_hook(v_sint2, consume_sint2);
    rt::wrmsr(0x80f, 0x1ff);   // x2APIC SVR: software-enabled (SDM vol 3 11.9)
    for (uint32_t i = 0; i < h.processor_count && i < vectors::max_vps; i++)
        simp_page[i] = rt::pages::alloc();
    if (!cpuid_checks(r))
        r.diag("the timer MSRs are not offered: the checks below fail on #GP");
    synic_on(0);
    vectors::sti();
    register_checks(r);
    one_shot_checks(r);
    periodic_checks(r);
    busy_slot_checks(r);
    direct_checks(r);
    cross_vp_checks(r, h);
    return r.finish();
}
