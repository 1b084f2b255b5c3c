// The guest OS ID and hypercall page MSRs (TLFS 3.13): no interface before the ID, the page
// written with the vendor's call sequence, moved, disabled, and refused outside the partition.
#include "tests/guest/hypercalls_env.hpp"

namespace hc {
namespace {

constexpr uint32_t msr_os_id = tlfs::msr::guest_os_id, msr_call = tlfs::msr::hypercall;
constexpr uint64_t enable = tlfs::hypercall_msr::enable;
constexpr uint64_t get_id = tlfs::control::make(tlfs::call::get_partition_id);

bool holds_sequence(uint64_t gpa) {
    const auto* b = static_cast<const uint8_t*>(at(gpa));
    return b[0] == 0x0f && b[1] == 0x01 && b[2] == (env().amd ? 0xd9 : 0xc1) && b[3] == 0xc3;
}

bool holds_marker(uint64_t gpa) { return *static_cast<const uint32_t*>(at(gpa)) == 0xcccccccc; }

bool call_works(suite::Reporter& rep) {
    zero_page(env().page(pg_out));
    Ret r = call(get_id, 0, env().page(pg_out));
    uint64_t id = *static_cast<uint64_t*>(at(env().page(pg_out)));
    if (r.status() != Status::success || id == 0)
        rep.diag("GetPartitionId through the page at %lx: rax %lx, id %lx", env().call_page, r.rax, id);
    return r.status() == Status::success && id != 0;
}

} // namespace

void run_page_checks(suite::Reporter& r) {
    Env& e = env();
    uint64_t a = e.page(pg_call_a), b = e.page(pg_call_b);
    __builtin_memset(at(a), 0xcc, 4096);   // INT3 everywhere: a stray jump would show
    __builtin_memset(at(b), 0xcc, 4096);
    auto f = rt::cpuid(tlfs::cpuid::features);
    r.check(f.eax & tlfs::privilege::hypercall_msrs, "cpuid.40000003 offers the hypercall MSRs");
    r.check(!(f.edx & tlfs::feature_edx::xmm_hypercall_input), "XMM fast input is not advertised");

    auto id = rt::probe_rdmsr(msr_os_id);
    r.check(id.vector < 0 && id.value == 0, "guest OS ID reads zero at start");
    int vector = 0;
    raw(get_id, 0, e.page(pg_out), vector);
    r.check(vector == 6, "a hypercall before the guest OS ID is set raises #UD");
    auto w = rt::probe_wrmsr(msr_call, a | enable);
    auto back = rt::probe_rdmsr(msr_call);
    r.check(w.vector < 0 && back.vector < 0 && back.value == a, "enabling the page without a guest OS ID leaves it disabled");
    r.check(holds_marker(a), "... and the page is left untouched");

    r.check(rt::probe_wrmsr(msr_os_id, guest_os_id_value).vector < 0 && rt::rdmsr(msr_os_id) == guest_os_id_value,
            "guest OS ID writes and reads back");
    w = rt::probe_wrmsr(msr_call, a | enable | 0xffe);   // reserved bits 11:1 set too
    r.check(w.vector < 0 && rt::rdmsr(msr_call) == (a | enable), "hypercall page enables; reserved bits read zero");
    r.check(holds_sequence(a) && holds_marker(a + 4), "the page holds the vendor's call sequence and RET");
    e.call_page = a;
    r.check(call_works(r), "a call through the page returns success");
    int v2 = 0;
    uint64_t rax = raw(get_id, 0, e.page(pg_out), v2);
    r.check(v2 < 0 && tlfs::result::status(rax) == 0, "the raw instruction works once the ID is set");

    r.check(rt::probe_wrmsr(msr_call, b | enable).vector < 0 && rt::rdmsr(msr_call) == (b | enable) &&
                holds_sequence(b) && holds_marker(a),
            "moving the page writes the new one and gives the old its bytes back");
    e.call_page = b;
    r.check(call_works(r), "a call through the moved page returns success");
    r.check(rt::probe_wrmsr(msr_call, b).vector < 0 && rt::rdmsr(msr_call) == b && holds_marker(b),
            "disabling the page clears the enable bit and restores the page");
    if (e.hv_gpa)
        r.check(rt::probe_wrmsr(msr_call, e.hv_gpa | enable).vector == 13 && rt::rdmsr(msr_call) == b,
                "a page in hypervisor memory is refused with #GP");
    else
        r.skip("a page in hypervisor memory is refused with #GP", "no hypervisor region below 4 GiB");
    // 0xfec00000: the I/O APIC's registers, mapped to the root as device memory. The hypervisor
    // must not write a call sequence into a device (docs/hypercalls.md).
    r.check(rt::probe_wrmsr(msr_call, 0xfec00000ull | enable).vector == 13 && rt::rdmsr(msr_call) == b,
            "a page in device memory is refused with #GP");
    r.check(rt::probe_wrmsr(msr_call, a | enable).vector < 0 && holds_sequence(a), "the page enables again");
    e.call_page = a;
    rt::wrmsr(msr_os_id, 0);
    raw(get_id, 0, e.page(pg_out), vector);
    r.check(rt::rdmsr(msr_call) == a && holds_marker(a) && vector == 6,
            "clearing the guest OS ID disables the page and the interface (#UD)");
    rt::wrmsr(msr_os_id, guest_os_id_value);
    rt::wrmsr(msr_call, a | enable);
    r.check(call_works(r), "setting the ID and the page again restores the interface");
}

} // namespace hc
