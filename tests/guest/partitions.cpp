// Guest suite `partitions`, run as the root partition's image: the root-only hypercalls that
// create, feed, run and destroy child partitions (docs/child-partitions.md). Hypothesis: every
// call answers an unknown partition, a wrong state and every malformed input with its TLFS
// status; the ledger refuses a page that is not the root's (or not anymore) and gives every page
// back; rep calls report partial completion and resume past 32 elements; a tiny child halts,
// does I/O the root completes, and starts by INIT-SIPI; child VPs run from any root processor;
// and 100 create/destroy cycles leave every count where it was.
// Parts: partitions_{errors,vp,run}.cpp; calls and the child's code in partitions_calls.cpp.
#include "tests/guest/partitions_env.hpp"

namespace {

constexpr unsigned planned = pt::unknown_id_checks + pt::error_checks + pt::lifecycle_checks + pt::ap_checks +
                             pt::accounting_checks + pt::last_checks;

uint64_t hypervisor_page(const root_abi::RootHandoff& h) {
    for (uint32_t i = 0; i < h.region_count && i < root_abi::kMaxRegions; i++) {
        const auto& reg = h.regions[i];
        if (reg.type == root_abi::RegionType::hypervisor && reg.length >= 2 * rt::pages::page_size)
            return (reg.base + reg.length / 2) & ~(rt::pages::page_size - 1);
    }
    return 0;
}

bool intel() {
    rt::Cpuid v = rt::cpuid(0);
    return v.ebx == 0x756e6547 && v.edx == 0x49656e69 && v.ecx == 0x6c65746e; // GenuineIntel
}

} // namespace

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    pt::Env& e = pt::env();
    e.h = &h;
    e.vmx = intel();
    e.hv_page = hypervisor_page(h);
    r.begin(planned);
    r.diag("partitions: backend %s, %u processors, hypervisor page %lx", h.backend, h.processor_count,
           e.hv_page);
    rt::pages::init(h);
    if (!rt::hc::init(h)) {
        r.diag("the hypercall interface refused the root: cannot run");
        return 1;
    }
    rt::hc::init_cpu(0);
    if (h.processor_count > 1)
        e.aps = rt::start_aps(h) - 1;
    pt::run_unknown_id_checks(r);
    pt::run_error_checks(r);
    pt::run_lifecycle_checks(r);
    pt::run_ap_checks(r);
    pt::run_accounting_checks(r);
    pt::run_last_checks(r);
    return r.finish();
}

void rt::ap_main(uint32_t index) {
    pt::ap_loop(index);
}
