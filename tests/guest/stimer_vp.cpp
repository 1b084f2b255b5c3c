// The `stimer` suite's per-VP half: SINT2's handler, SynIC setup on any VP, and the check that
// every VP has its own four timers and gets only its own expiries (TLFS: the synthetic timers
// are per virtual processor).
#include "tests/guest/stimer_env.hpp"

namespace stimer_suite {
namespace {

volatile bool ap_go, ap_quit;
volatile uint32_t ap_ready, ap_done;
volatile bool ap_own_regs[vectors::max_vps], ap_own_expiry[vectors::max_vps];
volatile uint64_t ap_due[vectors::max_vps];

void ap_work(uint32_t vp) {
    ap_own_regs[vp] = read(config_msr(0)) == 0 && read(count_msr(0)) == 0;
    reset_log(vp);
    uint64_t due = now() + (vp + 1) * 3 * units_per_ms;
    ap_due[vp] = due;
    write(count_msr(0), due);
    write(config_msr(0), sint(2) | enable);
    vectors::wait_count(vp, v_sint2, 1, 12 + late_ms);
    vectors::spin_ms(10);
    const Msg& m = msgs[vp].at[0];
    ap_own_expiry[vp] = msgs[vp].n == 1 && vectors::count(vp, v_sint2) == 1 && m.type == msg_timer_expired &&
                        m.index == 0 && m.expiration == due;
    write(config_msr(0), 0);
}

} // namespace

void synic_on(uint32_t vp) {
    write(msr::scontrol, 1);
    write(msr::simp, simp_page[vp] | 1);
    write(msr::sint0 + 2, v_sint2);
    write(msr::sint0 + 3, v_sint3 | sint_polling);
}

void consume_sint2(vectors::Event& e) {
    Slot& s = slot(e.vp, 2);
    Log& l = msgs[e.vp];
    uint32_t n = l.n;
    if (n < sizeof l.at / sizeof l.at[0])
        l.at[n] = {s.type,
                   s.size,
                   static_cast<uint32_t>(s.payload[0]),
                   static_cast<uint32_t>(s.payload[0] >> 32),
                   s.payload[1],
                   s.payload[2],
                   vectors::last_ref(e.vp, e.vector)};
    l.n = n + 1;
    bool pending = s.flags & 1;
    s.type = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (pending)
        rt::wrmsr(msr::eom, 0);
}

void cross_vp_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    const char* names[] = {"each VP's STIMER registers are its own (VP 0's are not seen on the others)",
                           "each VP gets exactly its own expiry, in its own SIMP, at the time it programmed; VP 0 none"};
    uint32_t online = h.processor_count > 1 ? rt::start_aps(h) : 1;
    for (uint64_t end = now() + 2000 * units_per_ms; ap_ready + 1 < online && now() < end;)
        asm volatile("pause");
    uint32_t aps = ap_ready;
    if (aps == 0) {
        for (const char* n : names)
            r.skip(n, h.processor_count > 1 ? "application processors did not start" : "one processor");
        return;
    }
    constexpr uint64_t marker = periodic | lazy | sint(2);
    write(config_msr(0), marker);
    write(count_msr(0), 77);
    reset_log(0);
    __atomic_store_n(&ap_go, true, __ATOMIC_RELEASE);
    rt::apic_send_icr(0, v_wake | (3u << 18));   // all excluding self: wake them from HLT
    for (uint64_t end = now() + 3000 * units_per_ms; ap_done < aps && now() < end;)
        asm volatile("pause");
    bool regs = read(config_msr(0)) == marker && read(count_msr(0)) == 77, expiries = msgs[0].n == 0;
    for (uint32_t vp = 1; vp <= aps; vp++) {
        regs = regs && ap_own_regs[vp];
        expiries = expiries && ap_own_expiry[vp];
        if (!ap_own_expiry[vp])
            r.diag("VP %u: %u messages, %u interrupts, first: type %x index %u expiration %lu (programmed %lu)", vp,
                   msgs[vp].n, vectors::count(vp, v_sint2), msgs[vp].at[0].type, msgs[vp].at[0].index,
                   msgs[vp].at[0].expiration, ap_due[vp]);
    }
    if (ap_done < aps)
        r.diag("%u of %u application processors finished", ap_done, aps);
    r.check(ap_done == aps && regs, names[0]);
    r.check(ap_done == aps && expiries, names[1]);
    write(config_msr(0), 0);
    write(count_msr(0), 0);
    __atomic_store_n(&ap_quit, true, __ATOMIC_RELEASE);
    rt::apic_send_icr(0, v_wake | (3u << 18));
}

} // namespace stimer_suite

void rt::ap_main(uint32_t) {
    using namespace stimer_suite;
    rt::wrmsr(0x80f, 0x1ff);
    uint32_t vp = vectors::this_vp();
    synic_on(vp);
    __atomic_fetch_add(&ap_ready, 1, __ATOMIC_ACQ_REL);
    bool done = false;
    while (!__atomic_load_n(&ap_quit, __ATOMIC_ACQUIRE)) {
        if (!done && __atomic_load_n(&ap_go, __ATOMIC_ACQUIRE)) {
            vectors::sti();
            ap_work(vp);
            done = true;
            __atomic_fetch_add(&ap_done, 1, __ATOMIC_ACQ_REL);
        }
        asm volatile("sti; hlt; cli" ::: "memory");
    }
}
