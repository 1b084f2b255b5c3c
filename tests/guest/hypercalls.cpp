// Guest suite `hypercalls`, run as the root partition's image: the TLFS hypercall interface.
// Hypothesis: the guest OS ID and hypercall page MSRs behave as TLFS 3.13 describes (no page
// before the ID, moving and disabling work); every status path of the ABI answers with the
// TLFS status (control word, memory lists, rep counts, privileges); rep calls are preempted
// and resumed; the calls every partition has do what they say; and a call from ring 3 or real
// mode raises #UD. Parts: hypercalls_{page,abi,calls,vp,mode}.cpp.
#include "tests/guest/hypercalls_env.hpp"

namespace hc {
namespace {

using root_abi::RegionType;

Env the_env;

// The highest pages of the largest usable region below 4 GiB (identity-mapped by the handoff's
// tables), and one usable page below 1 MiB that the runtime's AP trampoline does not take.
bool find_memory(Env& e) {
    const root_abi::Region* best = nullptr;
    for (uint32_t i = 0; i < e.h->region_count; i++) {
        const auto& r = e.h->regions[i];
        if (r.type == RegionType::usable && r.base + r.length <= (4ull << 30) && (!best || r.length > best->length))
            best = &r;
        if (r.type == RegionType::hypervisor && !e.hv_gpa && r.length >= 8192 && r.base + r.length <= (4ull << 30))
            e.hv_gpa = (r.base + r.length / 2) & ~0xfffull;
    }
    for (uint32_t i = 0; i < e.h->region_count; i++) {
        const auto& r = e.h->regions[i];
        if (r.type != RegionType::usable)
            continue;
        uint64_t top = (r.base + r.length) & ~0xfffull;
        if (top > 0x100000)
            top = 0x100000;
        if (top >= 0x3000 && top - 0x1000 >= r.base && top - 0x1000 >= 0x2000)
            e.low_page = top - 0x1000;   // the runtime's trampoline takes the lowest usable page
    }
    e.page_count = pg_count;
    if (!best || best->length < (pg_count + 16) * 4096ull)
        return false;
    e.pages = ((best->base + best->length) & ~0xfffull) - 4096ull * (pg_count + 1);
    for (uint32_t i = 0; i < pg_count; i++)
        zero_page(e.page(i));
    return e.low_page != 0;
}

bool is_amd() {
    auto v = rt::cpuid(0);
    return v.ebx == 0x68747541 && v.edx == 0x69746e65 && v.ecx == 0x444d4163;   // "AuthenticAMD"
}

constexpr unsigned planned = 19 + 29 + 22 + 14 + 4;   // page, abi, calls, vp, mode

} // namespace

Env& env() { return the_env; }

bool status_is(suite::Reporter& r, const Ret& got, Status want, const char* name) {
    bool ok = got.status() == want;
    if (!ok)
        r.diag("%s: status 0x%x, expected 0x%x (rax %lx)", name, static_cast<unsigned>(got.status()),
               static_cast<unsigned>(want), got.rax);
    return r.check(ok, name);
}

} // namespace hc

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    hc::Env& e = hc::env();
    e.h = &h;
    e.amd = hc::is_amd();
    uint32_t width = rt::cpuid(0x80000008).eax & 0xff;
    e.width_end = 1ull << (width ? width : 36);
    r.begin(hc::planned);
    r.diag("hypercalls: backend %s, %s instruction, address width %u bits", h.backend, e.amd ? "VMMCALL" : "VMCALL",
           width);
    if (!hc::find_memory(e)) {
        r.diag("no scratch memory below 4 GiB / 1 MiB: cannot run");
        return 1;
    }
    hc::run_page_checks(r);   // leaves the hypercall page enabled
    hc::run_abi_checks(r);
    hc::run_call_checks(r);
    hc::run_vp_checks(r);
    hc::run_mode_checks(r);
    return r.finish();
}

void rt::ap_main(uint32_t) {}
