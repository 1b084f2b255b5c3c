#include "tests/guest/isolation/hypercall.hpp"

#include "tests/guest/isolation/isolation.hpp"

extern "C" void* memset(void* d, int c, size_t n);

namespace iso::hc {
namespace {

namespace rt = tlfs::root;

alignas(4096) uint8_t hypercall_page[4096];
Pages per_cpu[max_cpus];
uint32_t page_address;   // what `call` jumps to (paging is off: address = GPA)

template <class T> T& at(uint8_t* p) { return *reinterpret_cast<T*>(p); }

} // namespace

Pages& pages(uint32_t cpu) { return per_cpu[cpu < max_cpus ? cpu : 0]; }

uint32_t page_gpa() { return reinterpret_cast<uint32_t>(hypercall_page); }

bool enable() {
    // TLFS 3.13: a non-zero guest OS ID first (bit 63 clear: a proprietary OS, vendor 1 is
    // Microsoft; any non-zero value enables the interface here), then the page with bit 0.
    wrmsr(tlfs::msr::guest_os_id, 0x0001040a00000001ull);
    wrmsr(tlfs::msr::hypercall, page_gpa() | tlfs::hypercall_msr::enable);
    page_address = page_gpa();
    return rdmsr(tlfs::msr::hypercall) == (page_gpa() | tlfs::hypercall_msr::enable);
}

uint64_t raw(uint64_t control, uint32_t in_gpa, uint32_t out_gpa) {
    uint32_t lo = static_cast<uint32_t>(control), hi = static_cast<uint32_t>(control >> 32);
    uint32_t in_hi = 0, out_hi = 0;
    asm volatile("call *%[page]"
                 : "+a"(lo), "+d"(hi), "+b"(in_hi), "+c"(in_gpa), "+D"(out_hi), "+S"(out_gpa)
                 : [page] "m"(page_address)
                 : "memory", "cc");
    return uint64_t{hi} << 32 | lo;
}

uint16_t call_with(uint32_t cpu, uint16_t code, uint16_t reps) {
    Pages& p = pages(cpu);
    uint64_t control = tlfs::control::make(code, false, reps);
    return status(raw(control, reinterpret_cast<uint32_t>(p.in), reinterpret_cast<uint32_t>(p.out)));
}

uint16_t root_call(uint32_t cpu, const RootCall& c, uint64_t partition, uint32_t own_page) {
    Pages& p = pages(cpu);
    memset(p.in, 0, sizeof p.in);
    memset(p.out, 0, sizeof p.out);
    uint8_t* in = p.in;
    uint64_t own_pfn = own_page / page;
    switch (c.code) {
    case call::create_partition:
        at<rt::CreatePartitionInput>(in).compatibility_version = rt::compatibility_21h2;
        break;
    case call::get_partition_property:
        at<rt::GetPartitionPropertyInput>(in) = {partition, static_cast<rt::PropertyCode>(0x00ff0001u), 0};   // the ledger
        break;
    case call::set_partition_property:
        // A child asking for the privileges it lacks: CreatePartitions and CpuManagement.
        at<rt::SetPartitionPropertyInput>(in) = {partition, rt::PropertyCode::privilege_flags, 0,
                                                 tlfs::privilege::create_partitions | tlfs::privilege::cpu_management};
        break;
    case call::deposit_memory:
        at<rt::DepositMemoryInput>(in).partition_id = partition;
        at<uint64_t>(in + 8) = own_pfn;
        break;
    case call::map_gpa_pages:
        // Its own page mapped once more, past its RAM.
        at<rt::MapGpaPagesInput>(in) = {partition, 0x1f000, rt::map_flag::readable | rt::map_flag::writable, 0};
        at<uint64_t>(in + sizeof(rt::MapGpaPagesInput)) = own_pfn;
        break;
    case call::unmap_gpa_pages:
        at<rt::UnmapGpaPagesInput>(in) = {partition, own_pfn, 0, 0};
        break;
    case call::install_intercept:
        at<rt::InstallInterceptInput>(in) = {partition, 3, rt::InterceptType::x64_io_port, 0x3f8};
        break;
    case call::create_vp:
        at<rt::CreateVpInput>(in).partition_id = partition;
        at<rt::CreateVpInput>(in).vp_index = max_cpus - 1;
        break;
    default:   // the rest begin with the partition id; VP 0, vector 0 and zeroes elsewhere
        at<uint64_t>(in) = partition;
        break;
    }
    return call_with(cpu, c.code, c.reps);
}

uint16_t get_partition_id(uint32_t cpu, uint64_t& id) {
    Pages& p = pages(cpu);
    memset(p.out, 0, 8);
    uint16_t s = call_with(cpu, call::get_partition_id, 0);
    id = at<uint64_t>(p.out);
    return s;
}

} // namespace iso::hc
