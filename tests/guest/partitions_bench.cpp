// partitions-bench: what a child costs, in TSC cycles, for tools/bench (docs/performance.md).
// Booted with `bench` on the hypervisor's command line, so `bench: bare-loop` comes from the same
// boot. Medians over repeated runs:
//   child-lifecycle       create, deposit 16 pages, initialize, CreateVp, map one page, StartVp,
//                         DispatchVp to the child's HLT, DeletePartition: one empty child's life
//   child-intercept-root  one OUT the root intercepts: DispatchVp returns with the I/O message,
//                         the root completes it (SetVpRegisters RIP + 1) and dispatches again
//   child-intercept-hv    one CPUID the hypervisor answers without leaving DispatchVp
//   signal-event-child-root  a child's fast HvSignalEvent to the root's interrupt handler for the
//                         port's SINT (partitions_bench_signal.cpp)
//   null-hypercall-x2     two null hypercalls of the same child, its baseline
// A benchmark, not a timed test: the checks say only that every run behaved and measured.
#include "tests/guest/partitions_env.hpp"

namespace {

using namespace pt;
constexpr uint32_t rwx = abi::map_flag::readable | abi::map_flag::writable | abi::map_flag::executable;
constexpr uint32_t rdwr = abi::access_mask::read | abi::access_mask::write;
constexpr uint32_t runs = 15;          // lifecycles, and batches of the intercept figures
constexpr uint32_t per_batch = 200;    // root round trips per batch
constexpr uint32_t cpuids = 2000;      // CPUIDs per dispatch (one OUT to the root ends it)
constexpr uint16_t deposit_pages = 16; // a VP's 3, the nested tables of one page, to spare

void report(suite::Reporter& r, const char* name, bool ok, uint64_t cycles) {
    rt::log("bench: %s cycles=%lu\n", name, cycles);
    if (!ok)
        r.diag("%s: a run did not behave as the first did", name);
    r.check(ok && cycles > 0, name);
}

bool io_at(const Ret& d, const Dispatched& o, uint64_t rip) {
    return d.ok() && o.type() == abi::MessageType::x64_io_port_intercept && o.header().rip == rip;
}

// One empty child's life; `steps` gets the cycles of each call (create, deposit, initialize,
// CreateVp, map, StartVp, DispatchVp, delete), to say where the time goes.
constexpr uint32_t step_count = 8;
constexpr const char* step_names[step_count] = {"create", "deposit", "initialize", "create-vp",
                                                "map",    "start",   "dispatch",   "delete"};
uint64_t lifecycle(const uint64_t* deposit_list, uint64_t code, bool& ok, uint64_t* steps) {
    Dispatched o;
    uint64_t id = 0, t[step_count + 1];
    bool run = true;
    t[0] = rt::rdtsc();
    run &= create(id).ok();
    t[1] = rt::rdtsc();
    run &= deposit(id, deposit_list, deposit_pages).ok();
    t[2] = rt::rdtsc();
    run &= initialize(id).ok();
    t[3] = rt::rdtsc();
    run &= create_vp(id, 0).ok();
    t[4] = rt::rdtsc();
    run &= map(id, child_code_gpa, rwx, &code, 1).ok();
    t[5] = rt::rdtsc();
    run &= start_vp(id, 0, flat32(child_code_gpa + at_lifecycle)).ok();
    t[6] = rt::rdtsc();
    run &= dispatch_until_event(id, 0, o).ok() && o.blocked_halt();
    t[7] = rt::rdtsc();
    run &= remove(id).ok();
    t[8] = rt::rdtsc();
    for (uint32_t i = 0; i < step_count; i++)
        steps[i] = t[i + 1] - t[i];
    ok &= run;
    return t[step_count] - t[0];
}

} // namespace

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(5);
    r.diag("partitions-bench: %u lifecycles, %u batches of %u root round trips, %u CPUIDs a dispatch", runs,
           runs, per_batch, cpuids);
    rt::pages::init(h);
    if (!rt::hc::init(h)) {
        r.diag("the hypercall interface refused the root: cannot run");
        return 1;
    }
    rt::hc::init_cpu(0);
    uint64_t code = page(), run = rt::pages::alloc_run(deposit_pages), list[deposit_pages], samples[runs];
    write_child_code(code);
    for (uint16_t i = 0; i < deposit_pages; i++)
        list[i] = run + i * rt::pages::page_size;

    bool ok = true;
    uint64_t steps[runs][step_count], column[runs];
    static_cast<void>(lifecycle(list, code, ok, steps[0])); // warm: the first run pays for first allocations
    for (uint32_t i = 0; i < runs; i++)
        samples[i] = lifecycle(list, code, ok, steps[i]);
    report(r, "child-lifecycle", ok, median_of(samples, runs));
    for (uint32_t k = 0; k < step_count; k++) {
        for (uint32_t i = 0; i < runs; i++)
            column[i] = steps[i][k];
        r.diag("child-lifecycle step %s: median %lu cycles", step_names[k], median_of(column, runs));
    }

    // One child, two VPs: VP 0 loops on an OUT the root intercepts, VP 1 on CPUIDs.
    uint64_t id = 0;
    *static_cast<uint32_t*>(rt::pages::ptr(code + cpuid_count_at)) = cpuids;
    ok = create(id).ok() && deposit(id, list, deposit_pages).ok() && initialize(id).ok() &&
         intercept(id, rdwr, 0, port_out).ok() && create_vp(id, 0).ok() && create_vp(id, 1).ok() &&
         map(id, child_code_gpa, rwx, &code, 1).ok() &&
         start_vp(id, 0, flat32(child_code_gpa + at_out_loop)).ok() &&
         start_vp(id, 1, flat32(child_code_gpa + at_cpuid_loop)).ok();
    Dispatched o;
    const uint64_t out_rip = child_code_gpa + rip_loop_out;
    ok = ok && io_at(dispatch_until_event(id, 0, o), o, out_rip);
    bool same = ok;
    for (uint32_t b = 0; b < runs; b++) {
        uint64_t t0 = rt::rdtsc();
        for (uint32_t i = 0; i < per_batch && same; i++)
            same = complete(id, 0, out_rip + 1).ok() && io_at(dispatch_until_event(id, 0, o), o, out_rip);
        samples[b] = (rt::rdtsc() - t0) / per_batch;
    }
    uint64_t root_cycles = median_of(samples, runs);
    report(r, "child-intercept-root", same, root_cycles);

    const uint64_t cpuid_out = child_code_gpa + rip_cpuid_out;
    same = ok;
    for (uint32_t b = 0; b < runs; b++) {
        uint64_t t0 = rt::rdtsc();
        same = same && io_at(dispatch_until_event(id, 1, o), o, cpuid_out) &&
               complete(id, 1, cpuid_out + 1).ok();
        samples[b] = (rt::rdtsc() - t0) / cpuids;
    }
    uint64_t hv_cycles = median_of(samples, runs);
    report(r, "child-intercept-hv", same, hv_cycles);
    r.diag("an intercept the root serves costs %lu.%02lu of one the hypervisor serves",
           root_cycles / (hv_cycles ? hv_cycles : 1), root_cycles * 100 / (hv_cycles ? hv_cycles : 1) % 100);
    static_cast<void>(remove(id));

    SignalFigures sf = measure_signal_event(list, deposit_pages);
    if (!sf.ok)
        r.diag("signal-event-child-root: the child, its port or its connection could not be set up");
    report(r, "signal-event-child-root", sf.signal_ok, sf.signal);
    report(r, "null-hypercall-x2", sf.null_ok, sf.null_x2);
    r.diag("a signal round costs the root %lu cycles, DispatchVp included; %lu interrupts on other vectors",
           sf.root_round, sf.strays);
    return r.finish();
}

void rt::ap_main(uint32_t) {}
