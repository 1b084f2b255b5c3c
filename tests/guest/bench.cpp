// bench: the round trips of the exits a root takes most, in TSC cycles, for tools/bench
// (docs/performance.md). Each figure is the median over batches of back-to-back exits; the
// hypervisor prints the bare guest round trip (`bench: bare-loop`) in the same boot, and
// tools/bench divides by it. A benchmark, not a timed test: the checks only say that each
// measurement ran, every exit came back as the instruction defines, and the figure is positive.
#include "hypercalls/abi/tlfs.hpp"
#include "tests/guest/suite.hpp"

namespace {

constexpr uint32_t batches = 15, per_batch = 2000;
constexpr uint16_t com1_lsr = 0x3fd;   // the hypervisor's emulated UART: always intercepted
constexpr uint32_t x2apic_tpr = 0x808; // the root's virtual x2APIC: always intercepted

uint64_t median_of(uint64_t* v, uint32_t n) {
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A null hypercall: control word 0 (call code 0, no input or output pages). The TLFS gives no
// code 0, so the answer is HV_STATUS_INVALID_HYPERCALL_CODE after the full entry checks.
template <bool intel> uint64_t null_hypercall() {
    uint64_t status, control = 0, input = 0;
    if constexpr (intel)
        asm volatile("xor %%r8d, %%r8d; vmcall"
                     : "=a"(status), "+c"(control), "+d"(input)
                     :
                     : "r8", "memory");
    else
        asm volatile("xor %%r8d, %%r8d; vmmcall"
                     : "=a"(status), "+c"(control), "+d"(input)
                     :
                     : "r8", "memory");
    return status;
}

// The same call once, reporting an exception instead of taking it through the runtime's fixup
// table (partitions/rt/isr.S): an interface that is not enabled answers with #UD (TLFS 3.13).
template <bool intel> bool probe_null_hypercall(uint64_t& status_or_vector) {
    uint64_t control = 0, input = 0, faulted = 0;
    if constexpr (intel)
        asm volatile("xor %%r8d, %%r8d\n1: vmcall\njmp 3f\n2: mov $1, %[f]\n3:\n"
                     ".pushsection .rt.fixup, \"a\"\n.quad 1b, 2b\n.popsection"
                     : "=a"(status_or_vector), "+c"(control), "+d"(input), [f] "+r"(faulted)
                     :
                     : "r8", "memory");
    else
        asm volatile("xor %%r8d, %%r8d\n1: vmmcall\njmp 3f\n2: mov $1, %[f]\n3:\n"
                     ".pushsection .rt.fixup, \"a\"\n.quad 1b, 2b\n.popsection"
                     : "=a"(status_or_vector), "+c"(control), "+d"(input), [f] "+r"(faulted)
                     :
                     : "r8", "memory");
    return faulted == 0;
}

// Runs `op` batches x per_batch times; false when any op returned something other than `want`.
template <class Op> bool measure(Op op, uint64_t want, uint64_t& median) {
    uint64_t samples[batches];
    bool same = true;
    for (uint32_t b = 0; b < batches; b++) {
        uint64_t t0 = rt::rdtsc();
        for (uint32_t i = 0; i < per_batch; i++)
            same &= op() == want;
        samples[b] = (rt::rdtsc() - t0) / per_batch;
    }
    median = median_of(samples, batches);
    return same;
}

void report(suite::Reporter& r, const char* name, bool same, uint64_t cycles) {
    rt::log("bench: %s cycles=%lu\n", name, cycles);
    if (!same)
        r.diag("%s: an exit did not answer as the first one did", name);
    r.check(same && cycles > 0, name);
}

} // namespace

int rt::partition_main(const root_abi::RootHandoff&) {
    suite::Reporter r(suite::sink());
    r.begin(4);
    r.diag("bench: %u batches of %u round trips each, medians in TSC cycles", batches, per_batch);
    // A hypercall interface may refuse calls until the guest names its OS (TLFS 3.13); where it
    // does not, the write may #GP, which the probe absorbs.
    static_cast<void>(rt::probe_wrmsr(tlfs::msr::guest_os_id, 0x8100000000000000ull));
    Cpuid v = rt::cpuid(0);
    bool intel = v.ebx == 0x756e6547 && v.edx == 0x49656e69 && v.ecx == 0x6c65746e;   // GenuineIntel

    uint64_t cycles = 0, want = 0;
    if (intel ? probe_null_hypercall<true>(want) : probe_null_hypercall<false>(want)) {
        r.diag("null hypercall answers status %lx", want & 0xffff);
        bool same = intel ? measure(null_hypercall<true>, want, cycles)
                          : measure(null_hypercall<false>, want, cycles);
        report(r, "null-hypercall", same, cycles);
    } else {
        r.diag("null hypercall raised exception %lu: the interface is not enabled for the root", want);
        r.check(false, "null-hypercall");
    }

    auto cpuid_op = [] { return uint64_t{rt::cpuid(0x40000000).eax}; };
    bool same = measure(cpuid_op, cpuid_op(), cycles);
    report(r, "cpuid-exit", same, cycles);

    // LSR bits move with the transmitter; only completion counts here.
    same = measure([] { return static_cast<void>(rt::inb(com1_lsr)), uint64_t{0}; }, 0, cycles);
    report(r, "io-exit", same, cycles);

    auto msr_op = [] { return rt::rdmsr(x2apic_tpr); };
    same = measure(msr_op, msr_op(), cycles);
    report(r, "msr-exit", same, cycles);
    return r.finish();
}

void rt::ap_main(uint32_t) {}
