// Guest suite `child-elf64`, run as a CHILD partition (`tools/run --suite child-elf64`): an ELF64
// kernel on our partition runtime, loaded by the root's ELF64 path (partitions/root/
// elf64_child.cpp). Hypothesis: the root builds its page tables and handoff right, and the child
// sees a child's view of the machine: the TLFS leaves without the root's privileges, no VT-x or
// AMD-V, the hypervisor's x2APIC, RAM it can use, an RSDP where the handoff says, and port I/O that reaches the
// root's device models.
#include "tests/guest/suite.hpp"

namespace {

bool acpi_rsdp_at(uint64_t a) {
    const char* p = reinterpret_cast<const char*>(a);
    return __builtin_memcmp(p, "RSD PTR ", 8) == 0;
}

uint64_t usable_bytes(const root_abi::RootHandoff& h) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < h.region_count && i < root_abi::kMaxRegions; i++)
        if (h.regions[i].type == root_abi::RegionType::usable)
            n += h.regions[i].length;
    return n;
}

} // namespace

void rt::ap_main(uint32_t) {}

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(12);
    r.check(h.processor_count >= 1 && h.apic_ids[0] == 0, "the handoff lists the child's processors");
    r.check(usable_bytes(h) >= (1u << 20), "the handoff gives at least 1 MiB of usable RAM");
    r.check(h.tsc_khz > 0, "the handoff carries the TSC frequency");
    r.check(h.rsdp && acpi_rsdp_at(h.rsdp), "the RSDP is where the handoff says");
    auto l1 = rt::cpuid(1);
    r.check(l1.ecx & (1u << 31), "cpuid.1 reports a hypervisor");
    r.check(!(l1.ecx & (1u << 5)) && !(rt::cpuid(0x80000001).ecx & (1u << 2)), "VT-x and AMD-V are hidden");
    r.check((l1.ecx & (1u << 21)) && (l1.ecx & (1u << 24)), "a child is offered the hypervisor's x2APIC and TSC-deadline timer");
    auto f = rt::cpuid(0x40000003);
    r.check(!(f.ebx & (1u << 12)) && !(f.ebx & 1u), "a child has neither CpuManagement nor CreatePartitions");
    r.check(rt::cpuid(0x40000000).eax >= 0x40000005, "the hypervisor leaves are there");
    // The last usable page: written and read back through the child's own page tables.
    const root_abi::Region* top = nullptr;
    for (uint32_t i = 0; i < h.region_count; i++)
        if (h.regions[i].type == root_abi::RegionType::usable && (!top || h.regions[i].base > top->base))
            top = &h.regions[i];
    bool rw = false;
    if (top) {
        uint64_t at = top->base + top->length - 8;
        rw = rt::probe_write64(at, 0x5a5a1234).vector < 0 && rt::probe_read64(at).value == 0x5a5a1234;
    }
    r.check(rw, "the child's RAM reads and writes");
    r.check(rt::probe_rdmsr(0x40000002).vector < 0, "the VP index MSR is readable");
    r.check((rt::inb(0x3fd) & 0x60) == 0x60, "COM1 reaches the root's UART model");
    return r.finish();
}
