// Guest suite `root-cpu`, run as the root partition's image: what the root sees of the CPU
// interface on either vendor. Hypothesis: the hypervisor leaves follow the TLFS, virtualization
// features are hidden, the MSR and I/O policy holds, application processors start from real mode
// through the root's own INIT-SIPI-SIPI, the hypervisor's memory is out of reach (#GP), the
// root's own exceptions stay the root's, and its vector registers survive exits.
#include "tests/guest/suite.hpp"

namespace {

using root_abi::RegionType;

constexpr uint32_t kMaxAps = 64;
uint32_t ap_vp_index[kMaxAps];
uint32_t ap_apic_id[kMaxAps];
volatile uint32_t ap_reports;

bool regs_say(const rt::Cpuid& r, const char* twelve) {
    char s[12];
    __builtin_memcpy(s, &r.ebx, 4);
    __builtin_memcpy(s + 4, &r.ecx, 4);
    __builtin_memcpy(s + 8, &r.edx, 4);
    return __builtin_memcmp(s, twelve, 12) == 0;
}

uint64_t read_cr4() {
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" : : "r"(v)); }

// Loads xmm0-15 with patterns, takes `exit` (an instruction that always exits), and checks
// every register still holds its pattern. Vector registers in inline asm only: the image is
// compiled without SSE.
template <class Exit> bool xmm_survive(Exit exit) {
    alignas(16) uint64_t in[32], out[32];
    for (int i = 0; i < 32; i++)
        in[i] = 0x0123456789abcdefull * static_cast<uint64_t>(i + 1) ^ 0x5a5a5a5a00000000ull;
#define LOAD(n) "movdqu " #n "*16(%0), %%xmm" #n "\n"
#define SAVE(n) "movdqu %%xmm" #n ", " #n "*16(%0)\n"
    asm volatile(LOAD(0) LOAD(1) LOAD(2) LOAD(3) LOAD(4) LOAD(5) LOAD(6) LOAD(7) LOAD(8) LOAD(9) LOAD(10)
                     LOAD(11) LOAD(12) LOAD(13) LOAD(14) LOAD(15)
                 :
                 : "r"(in)
                 : "memory");
    exit();
    asm volatile(SAVE(0) SAVE(1) SAVE(2) SAVE(3) SAVE(4) SAVE(5) SAVE(6) SAVE(7) SAVE(8) SAVE(9) SAVE(10)
                     SAVE(11) SAVE(12) SAVE(13) SAVE(14) SAVE(15)
                 :
                 : "r"(out)
                 : "memory");
#undef LOAD
#undef SAVE
    return __builtin_memcmp(in, out, sizeof in) == 0;
}

// The largest region of a type: for `hypervisor`, the pool the hypervisor keeps.
const root_abi::Region* find_region(const root_abi::RootHandoff& h, RegionType t) {
    const root_abi::Region* best = nullptr;
    for (uint32_t i = 0; i < h.region_count; i++)
        if (h.regions[i].type == t && h.regions[i].length >= 8 && (!best || h.regions[i].length > best->length))
            best = &h.regions[i];
    return best;
}

void cpuid_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    auto l1 = rt::cpuid(1);
    r.check(l1.ecx & (1u << 31), "cpuid.1 reports a hypervisor");
    r.check(!(l1.ecx & (1u << 5)), "cpuid.1 hides VMX");
    r.check(!(rt::cpuid(0x80000001).ecx & (1u << 2)), "cpuid.80000001 hides SVM");
    r.check(l1.ecx & (1u << 21), "cpuid.1 offers the x2APIC the root is given");
    auto v = rt::cpuid(0x40000000);
    r.check(regs_say(v, "Microsoft Hv"), "cpuid.40000000 vendor is Microsoft Hv");
    r.check(v.eax >= 0x40000005 && v.eax <= 0x4000ffff, "cpuid.40000000 max leaf in range");
    r.check(rt::cpuid(0x40000001).eax == 0x31237648, "cpuid.40000001 interface is Hv#1");
    r.check(rt::cpuid(0x40000003).ebx & (1u << 12), "cpuid.40000003 root has CpuManagement");
    r.check(rt::cpuid(0x40000005).eax >= h.processor_count, "cpuid.40000005 VP limit covers the processors");
    auto past = rt::cpuid(v.eax + 1);
    r.check((past.eax | past.ebx | past.ecx | past.edx) == 0, "cpuid past the hypervisor maximum reads zero");
}

void msr_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    auto fc = rt::probe_rdmsr(0x3a);
    r.check(fc.vector < 0 && (fc.value & 1) && !(fc.value & 6), "feature control reads locked without VMX");
    r.check(rt::probe_wrmsr(0x3a, 5).vector == 13, "feature control write raises #GP");
    r.check(rt::probe_rdmsr(0x480).vector == 13, "VMX capability MSR raises #GP");
    r.check(rt::probe_wrmsr(0xc0010117, 0x1000).vector == 13, "VM_HSAVE_PA write raises #GP");
    auto efer = rt::probe_rdmsr(0xc0000080);
    r.check(efer.vector < 0 && !(efer.value & (1u << 12)) && (efer.value & (1u << 10)), "EFER reads LMA without SVME");
    r.check(rt::probe_wrmsr(0xc0000080, efer.value | (1u << 12)).vector == 13, "setting EFER.SVME raises #GP");
    r.check(rt::probe_wrmsr(0xc0000080, efer.value).vector < 0, "rewriting EFER as it is succeeds");
    auto vpi = rt::probe_rdmsr(0x40000002);
    r.check(vpi.vector < 0 && vpi.value == 0, "VP index MSR reads 0 on the bootstrap VP");
    r.check(rt::probe_rdmsr(0x400000ff).vector == 13, "a synthetic MSR not offered raises #GP");
    auto base = rt::probe_rdmsr(0x1b);
    r.check(base.vector < 0 && (base.value & 0xd00) == 0xd00, "APIC base: enabled, x2APIC, bootstrap");
    r.check(rt::probe_wrmsr(0x1b, base.value & ~(1ull << 10)).vector == 13, "leaving x2APIC mode raises #GP");
    r.check(rt::probe_rdmsr(0x802).value == h.bsp_apic_id, "x2APIC ID matches the handoff");
    r.check(rt::probe_wrmsr(0x802, 1).vector == 13, "writing the read-only x2APIC ID raises #GP");
    r.check(rt::probe_wrmsr(0x80b, 1).vector == 13, "a non-zero x2APIC EOI raises #GP");
    auto tpr = rt::probe_wrmsr(0x808, 0x20);
    r.check(tpr.vector < 0 && rt::probe_rdmsr(0x808).value == 0x20, "x2APIC TPR writes and reads back");
    rt::wrmsr(0x808, 0);

    // The synthetic APIC MSRs (TLFS 10.x): the same registers as the x2APIC's.
    r.check(rt::cpuid(0x40000003).eax & (1u << 4), "cpuid.40000003 offers the synthetic APIC MSRs");
    r.check(rt::probe_wrmsr(0x40000072, 0x30).vector < 0 && rt::probe_rdmsr(0x808).value == 0x30,
            "the synthetic TPR is the x2APIC TPR");
    rt::wrmsr(0x40000072, 0);
    r.check(rt::probe_rdmsr(0x40000070).vector == 13, "the synthetic EOI is write-only");
    r.check(rt::probe_rdmsr(0x40000071).vector < 0, "the synthetic ICR reads");
}

void vp_assist_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    const root_abi::Region* mine = nullptr;
    for (uint32_t i = 0; i < h.region_count; i++)
        if (h.regions[i].type == root_abi::RegionType::usable && h.regions[i].length >= 0x2000 &&
            h.regions[i].base >= 0x100000)
            mine = &h.regions[i];
    uint64_t page = mine ? (mine->base + mine->length - 0x2000) & ~0xfffull : 0;
    r.check(page && rt::probe_wrmsr(0x40000073, page | 1).vector < 0 && rt::rdmsr(0x40000073) == (page | 1),
            "the VP assist page enables at a page of the root's RAM");
    r.check(rt::probe_wrmsr(0x40000073, page | 2 | 1).vector == 13, "VP assist page reserved bits raise #GP");
    r.check(rt::probe_wrmsr(0x40000073, 0xfec00000ull | 1).vector == 13 && rt::rdmsr(0x40000073) == (page | 1),
            "a VP assist page in device memory raises #GP");
    r.check(rt::probe_wrmsr(0x40000073, 0).vector < 0 && rt::rdmsr(0x40000073) == 0, "the VP assist page disables");
}

void io_checks(suite::Reporter& r) {
    r.check((rt::inb(0x3fd) & 0x60) == 0x60, "COM1 line status: transmitter empty");
    rt::outb(0x3ff, 0xa5);
    r.check(rt::inb(0x3ff) == 0xa5, "COM1 scratch register holds a value");
    // CMOS status register D: bit 7 set means valid RAM and time (MC146818); read from the
    // real device, since the root owns it.
    rt::outb(0x70, 0x0d);
    r.check(rt::inb(0x71) & 0x80, "CMOS passes through to the root");
}

void ap_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    if (h.processor_count < 2) {
        r.skip("application processors start from real mode", "one processor");
        r.skip("each VP reports its own VP index and APIC id", "one processor");
        return;
    }
    uint32_t n = rt::start_aps(h);
    r.check(n == h.processor_count, "application processors start from real mode");
    for (uint64_t deadline = rt::rdtsc() + 1000 * rt::tsc_khz(); ap_reports + 1 < n && rt::rdtsc() < deadline;)
        asm volatile("pause");
    bool all = ap_reports + 1 == n;
    for (uint32_t i = 1; i < n && i < kMaxAps; i++) {
        bool found = false;
        for (uint32_t k = 0; k < h.processor_count; k++)
            if (h.apic_ids[k] == ap_apic_id[i] && ap_vp_index[i] == k)
                found = true;
        all = all && found;
    }
    r.check(all, "each VP reports its own VP index and APIC id");
}

void isolation_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    const root_abi::Region* hv = find_region(h, RegionType::hypervisor);
    if (!hv || hv->base + hv->length > (4ull << 30)) {
        r.skip("reading hypervisor memory raises #GP", "no hypervisor region below 4 GiB");
        r.skip("writing hypervisor memory raises #GP", "no hypervisor region below 4 GiB");
    } else {
        uint64_t at = hv->base + (hv->length / 2 & ~7ull);
        r.check(rt::probe_read64(at).vector == 13, "reading hypervisor memory raises #GP");
        r.check(rt::probe_write64(at, 0x1122334455667788).vector == 13, "writing hypervisor memory raises #GP");
    }
    r.check(rt::probe_read64(0xfee00020).vector == 13, "the xAPIC page is not the root's");
    const root_abi::Region* mine = find_region(h, RegionType::usable);
    bool rw = false;
    if (mine) {
        uint64_t at = mine->base + mine->length - 8;
        rw = rt::probe_write64(at, 0xfeedface).vector < 0 && rt::probe_read64(at).value == 0xfeedface;
    }
    r.check(rw, "the root's own memory reads and writes");
}

void exception_checks(suite::Reporter& r) {
    r.check(rt::probe_ud2().vector == 6, "ud2 raises #UD in the root");
    r.check(rt::probe_int3().vector == 3, "int3 raises #BP in the root");
    r.check(rt::probe_div0().vector == 0, "division by zero raises #DE in the root");
    r.check(rt::probe_read64(0x100000000ull).vector == 14, "an unmapped linear address raises #PF");
    r.check(rt::probe_read64(0x8000000000000000ull).vector == 13, "a non-canonical address raises #GP");
}

void state_checks(suite::Reporter& r) {
    // SSE on (CR4.OSFXSR, OSXMMEXCPT; CR0.EM clear, MP set), as an operating system does.
    uint64_t cr0;
    asm volatile("mov %%cr0, %0" : "=r"(cr0));
    asm volatile("mov %0, %%cr0" : : "r"((cr0 & ~4ull) | 2));
    write_cr4(read_cr4() | (3u << 9));
    r.check(xmm_survive([] { rt::cpuid(0x40000000); }), "xmm0-15 survive a CPUID exit");
    r.check(xmm_survive([] { rt::inb(0x3fd); }), "xmm0-15 survive an I/O exit");
    r.check(xmm_survive([] { rt::probe_rdmsr(0x808); }), "xmm0-15 survive an MSR exit");
    if (!(rt::cpuid(1).ecx & (1u << 26))) {
        r.skip("XSETBV of x87|SSE is accepted", "no XSAVE");
        r.skip("XSETBV without x87 raises #GP", "no XSAVE");
        return;
    }
    write_cr4(read_cr4() | (1u << 18));
    r.check(rt::probe_xsetbv(0, 3).vector < 0, "XSETBV of x87|SSE is accepted");
    r.check(rt::probe_xsetbv(0, 2).vector == 13, "XSETBV without x87 raises #GP");
}

} // namespace

void rt::ap_main(uint32_t index) {
    if (index < kMaxAps) {
        ap_vp_index[index] = static_cast<uint32_t>(rt::rdmsr(0x40000002));
        ap_apic_id[index] = rt::apic_id();
        __atomic_fetch_add(&ap_reports, 1, __ATOMIC_ACQ_REL);
    }
}

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(52);
    r.diag("root-cpu: %u processors, backend %s", h.processor_count, h.backend);
    cpuid_checks(r, h);
    msr_checks(r, h);
    vp_assist_checks(r, h);
    io_checks(r);
    ap_checks(r, h);
    isolation_checks(r, h);
    exception_checks(r);
    state_checks(r);
    return r.finish();
}
