// The shared ABI (TLFS 3.7-3.9): reserved control bits, unknown and reserved codes, the rep and
// variable-header shape, the memory lists (alignment, page crossing, mapping, overlap, the
// address width), rep limits, preemption and resumption.
#include "tests/guest/hypercalls_env.hpp"

namespace hc {
namespace {

namespace cw = tlfs::control;
namespace code = tlfs::call;

void control_word(suite::Reporter& r) {
    uint64_t out = env().page(pg_out);
    uint64_t get_id = cw::make(code::get_partition_id);
    const uint64_t reserved[] = {1ull << 27, 1ull << 31, 1ull << 44, 1ull << 47, 1ull << 60, 1ull << 63};
    bool all = true;
    for (uint64_t bit : reserved)
        all = call(get_id | bit, 0, out).status() == Status::invalid_hypercall_input && all;
    r.check(all, "every reserved control bit gives INVALID_HYPERCALL_INPUT");
    status_is(r, call(cw::make(0x0000)), Status::invalid_hypercall_code, "call code 0 is unknown");
    status_is(r, call(cw::make(0xffff)), Status::invalid_hypercall_code, "call code 0xffff is unknown");
    status_is(r, call(cw::make(0x0007)), Status::invalid_hypercall_code, "call code 7 is unknown");
    // The root-only calls exist for the root; a partition ID nobody has is refused by each.
    zero_page(env().page(pg_in));
    *static_cast<uint64_t*>(at(env().page(pg_in))) = 0xdead0001;
    status_is(r, call(cw::make(code::initialize_partition), env().page(pg_in), 0), Status::invalid_partition_id,
              "InitializePartition of an unknown partition is INVALID_PARTITION_ID");
    status_is(r, call(cw::make(code::dispatch_vp), env().page(pg_in), out), Status::invalid_partition_id,
              "DispatchVp of an unknown partition is INVALID_PARTITION_ID");
    status_is(r, call(cw::make(code::get_partition_id, false, 1), 0, out), Status::invalid_hypercall_input,
              "a rep count on a simple call is invalid input");
    status_is(r, call(get_id | (1ull << cw::rep_start_shift), 0, out), Status::invalid_hypercall_input,
              "a start index on a simple call is invalid input");
    status_is(r, call(cw::make(code::get_partition_id, false, 0, 0, 1), 0, out), Status::invalid_hypercall_input,
              "a variable header on a call without one is invalid input");
    status_is(r, call(cw::make(code::get_partition_id, true), 0, out), Status::invalid_hypercall_input,
              "the fast flag on a call with output is invalid input");
}

// HvCallGetVpRegisters of RSP, `n` times, from `start`.
// The input is only written when it lies in the suite's own pages.
Ret get_rsp(uint16_t n, uint16_t start, uint64_t in, uint64_t out) {
    if (in < env().page(0) || in >= env().page(pg_count))
        return call(tlfs::control::make(tlfs::call::get_vp_registers, false, n, start), in, out);
    auto* h = static_cast<tlfs::VpRegistersInput*>(at(in));
    *h = {tlfs::partition_id_self, tlfs::vp_index_self, 0, {}};
    auto* names = reinterpret_cast<uint32_t*>(h + 1);
    for (uint32_t i = 0; i < n && 16 + 4 * (i + 1) <= 4096 - (in & 0xfff); i++)
        names[i] = tlfs::reg::rax + 4;
    return call(cw::make(code::get_vp_registers, false, n, start), in, out);
}

void memory_lists(suite::Reporter& r) {
    Env& e = env();
    uint64_t in = e.page(pg_in), out = e.page(pg_out);
    status_is(r, get_rsp(1, 0, in + 4, out), Status::invalid_alignment, "a misaligned input GPA");
    status_is(r, get_rsp(1, 0, in, out + 4), Status::invalid_alignment, "a misaligned output GPA");
    status_is(r, get_rsp(1, 0, in + 4096 - 16, out), Status::invalid_alignment, "an input list crossing a page");
    status_is(r, get_rsp(2, 0, in, out + 4096 - 16), Status::invalid_alignment, "an output list crossing a page");
    if (e.hv_gpa) {
        status_is(r, get_rsp(1, 0, e.hv_gpa, out), Status::access_denied, "input in hypervisor memory: ACCESS_DENIED");
        status_is(r, get_rsp(1, 0, in, e.hv_gpa), Status::access_denied, "output in hypervisor memory: ACCESS_DENIED");
    } else {
        r.skip("input in hypervisor memory: ACCESS_DENIED", "no hypervisor region below 4 GiB");
        r.skip("output in hypervisor memory: ACCESS_DENIED", "no hypervisor region below 4 GiB");
    }
    // The root's map leaves out the local APIC page, and ends at the GiB boundary past the
    // highest region of its memory map (hv/virt/root.cpp); the width's end is outside the GPA
    // space altogether.
    status_is(r, call(cw::make(code::get_partition_id), 0, 0xfee00000), Status::access_denied,
              "output in the APIC page the root's map leaves out: ACCESS_DENIED");
    uint64_t top = 4ull << 30;
    for (uint32_t i = 0; i < e.h->region_count; i++)
        if (e.h->regions[i].base + e.h->regions[i].length > top)
            top = e.h->regions[i].base + e.h->regions[i].length;
    top = (top + (1ull << 30) - 1) & ~((1ull << 30) - 1);
    if (top < e.width_end)
        status_is(r, call(cw::make(code::get_partition_id), 0, top), Status::access_denied,
                  "output beyond the mapped space: ACCESS_DENIED");
    else
        r.skip("output beyond the mapped space: ACCESS_DENIED",
               "the firmware's map reaches the end of the address width (QEMU's reserved range below 1 TiB)");
    status_is(r, call(cw::make(code::get_partition_id), 0, e.width_end), Status::invalid_alignment,
              "output beyond the address width: INVALID_ALIGNMENT");
    status_is(r, get_rsp(4, 0, in, in + 8), Status::invalid_alignment, "overlapping input and output lists");
    status_is(r, call(cw::make(code::get_partition_id), 0x13, out), Status::success,
              "a list the call does not take is ignored, however misaligned");
}

void rep_limits(suite::Reporter& r) {
    Env& e = env();
    uint64_t in = e.page(pg_in);
    zero_page(in);
    *static_cast<tlfs::FlushSpaceInput*>(at(in)) = {0, tlfs::flush::all_processors, 0};
    constexpr uint16_t fit = (4096 - sizeof(tlfs::FlushSpaceInput)) / 8;   // 509 ranges fill the page
    Ret full = call(cw::make(code::flush_virtual_address_list, false, fit), in, 0);
    r.check(full.status() == Status::success && full.reps() == fit, "a rep count at the page's limit completes");
    r.check(((full.rcx & cw::rep_start_mask) >> cw::rep_start_shift) > 0,
            "... after being preempted and resumed (RCX carries an advanced start index)");
    status_is(r, call(cw::make(code::flush_virtual_address_list, false, fit + 1), in, 0), Status::invalid_alignment,
              "one rep over the page's limit crosses the page");
    status_is(r, call(cw::make(code::flush_virtual_address_list, false, cw::max_reps), in, 0), Status::invalid_alignment,
              "the largest rep count (4095) crosses the page");
    status_is(r, call(cw::make(code::flush_virtual_address_list, false, 0), in, 0), Status::invalid_hypercall_input,
              "a rep call with rep count 0 is invalid input");
    status_is(r, call(cw::make(code::flush_virtual_address_list, false, 4, 4), in, 0), Status::invalid_hypercall_input,
              "a start index equal to the rep count is invalid input");
    status_is(r, call(cw::make(code::flush_virtual_address_list, false, 4, 9), in, 0), Status::invalid_hypercall_input,
              "a start index beyond the rep count is invalid input");
    // Resuming from index 2 of 4: elements 0 and 1 are left alone, reps completed counts all 4.
    uint64_t out = e.page(pg_out);
    __builtin_memset(at(out), 0xee, 4096);
    Ret part = get_rsp(4, 2, in, out);
    const auto* v = static_cast<const uint64_t*>(at(out));
    r.check(part.status() == Status::success && part.reps() == 4 && v[0] == 0xeeeeeeeeeeeeeeee && v[4] != v[0] &&
                v[6] != v[0],
            "a start index resumes there; reps completed counts from 0");
}

} // namespace

void run_abi_checks(suite::Reporter& r) {
    control_word(r);
    memory_lists(r);
    rep_limits(r);
}

} // namespace hc
