#include "partitions/rt/hypercall.hpp"

#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"

namespace rt::hc {
namespace {

constexpr uint32_t gs_base_msr = 0xc0000101;
// TLFS 3.13, "Reporting the guest OS identity": bit 63 set = an open-source OS; then the OS
// type (bits 62:56) and a version. Any non-zero value enables the interface.
constexpr uint64_t guest_os_id = 0x8100000000010000ull;

CpuPages cpus[root_abi::kMaxProcessors];
uint64_t call_page;

} // namespace

bool init(const root_abi::RootHandoff& h) {
    call_page = pages::alloc();
    if (!call_page)
        return false;
    for (uint32_t i = 0; i < h.processor_count && i < root_abi::kMaxProcessors; i++) {
        uint64_t two = pages::alloc_run(2);
        if (!two)
            return false;
        cpus[i] = {&cpus[i], two, two + pages::page_size, i};
    }
    rt::wrmsr(tlfs::msr::guest_os_id, guest_os_id);
    rt::wrmsr(tlfs::msr::hypercall, call_page | tlfs::hypercall_msr::enable);
    // The hypervisor reports the page enabled only when it wrote its sequence there.
    return (rt::rdmsr(tlfs::msr::hypercall) & tlfs::hypercall_msr::enable) != 0;
}

void init_cpu(uint32_t index) { rt::wrmsr(gs_base_msr, reinterpret_cast<uint64_t>(&cpus[index])); }

CpuPages& cpu() {
    CpuPages* p;
    asm volatile("mov %%gs:0, %0" : "=r"(p));
    return *p;
}

uint64_t raw(uint64_t control, uint64_t in_gpa, uint64_t out_gpa) {
    uint64_t rax;
    register uint64_t r8 asm("r8") = out_gpa;
    asm volatile("call *%[page]"
                 : "=a"(rax), "+c"(control), "+d"(in_gpa), "+r"(r8)
                 : [page] "r"(call_page)
                 : "memory", "cc", "r9", "r10", "r11");
    return rax;
}

Status call(uint16_t code_, uint16_t var_qwords) {
    CpuPages& c = cpu();
    uint64_t rax = raw(tlfs::control::make(code_, false, 0, 0, var_qwords), c.in_gpa, c.out_gpa);
    return static_cast<Status>(tlfs::result::status(rax));
}

Status fast(uint16_t code_, uint64_t in0, uint64_t in1) {
    uint64_t rax = raw(tlfs::control::make(code_, true), in0, in1);
    return static_cast<Status>(tlfs::result::status(rax));
}

Status rep(uint16_t code_, uint16_t count, uint16_t* done, uint16_t var_qwords) {
    CpuPages& c = cpu();
    uint16_t start = 0;
    Status s = Status::success;
    // TLFS 3.9: a rep call may return having completed only some elements (RAX 43:32 counts
    // all completed so far); the caller re-issues it with the start index at that count.
    while (start < count) {
        uint64_t rax = raw(tlfs::control::make(code_, false, count, start, var_qwords), c.in_gpa, c.out_gpa);
        s = static_cast<Status>(tlfs::result::status(rax));
        uint16_t reps = tlfs::result::reps(rax);
        if (s != Status::success || reps <= start) {
            start = reps > start ? reps : start;
            if (s == Status::success)
                s = Status::invalid_hypercall_input;   // no progress and no error: give up
            break;
        }
        start = reps;
    }
    if (done)
        *done = start;
    return s;
}

} // namespace rt::hc
