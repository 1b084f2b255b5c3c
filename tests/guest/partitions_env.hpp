// What the `partitions` and `partitions-bench` suites share (tests/guest/partitions*.cpp): the
// root-only calls made raw through the runtime's hypercall client (partitions/rt/hypercall.hpp),
// so every status and every rep count in RAX comes back exactly as the hypervisor wrote it; the
// tiny child's code; start contexts; the ledger counts; work handed to application processors.
#pragma once
#include "hypercalls/abi/partition.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/suite.hpp"

#include <stdint.h>

namespace pt {

using tlfs::Status;
namespace abi = tlfs::root;

// RAX of one call (TLFS 3.8): the status and the reps completed (43:32).
struct Ret {
    uint64_t rax;
    [[nodiscard]] Status status() const { return static_cast<Status>(tlfs::result::status(rax)); }
    [[nodiscard]] uint16_t reps() const { return tlfs::result::reps(rax); }
    [[nodiscard]] bool ok() const { return status() == Status::success; }
};

// This processor's input page, zeroed for the first `bytes`.
uint8_t* fresh_input(uint32_t bytes = 4096);
template <class T> T& fresh() {
    return *reinterpret_cast<T*>(fresh_input(sizeof(T)));
}
// One call on this processor's pages, never re-issued by the caller: a rep call still completes
// every element in one call, because the hypervisor re-enters the call instruction itself.
Ret raw(uint16_t code, uint16_t reps = 0, uint16_t start = 0);

Ret create(uint64_t& id, uint64_t isolation = 0);
Ret initialize(uint64_t id);
Ret finalize(uint64_t id);
Ret remove(uint64_t id); // DeletePartition
// Page lists are root GPAs (page-aligned); the calls send page numbers.
Ret deposit(uint64_t id, const uint64_t* gpas, uint16_t n);
Ret withdraw(uint64_t id, uint16_t n, uint64_t* gpas_out);
Ret map(uint64_t id, uint64_t child_gpa, uint32_t flags, const uint64_t* gpas, uint16_t n,
        uint32_t padding = 0);
Ret unmap(uint64_t id, uint64_t child_gpa, uint16_t n, uint32_t flags = 0);
Ret intercept(uint64_t id, uint32_t access, uint32_t type, uint64_t param);
Ret create_vp(uint64_t id, uint32_t vp, uint64_t flags = 0);
Ret delete_vp(uint64_t id, uint32_t vp);
Ret start_vp(uint64_t id, uint32_t vp, const abi::InitialVpContext& ctx, uint8_t vtl = 0);
Ret assert_irq(uint64_t id, uint32_t type, uint64_t dest, uint32_t vector, uint32_t flags = 0);
Ret get_prop(uint64_t id, uint32_t code, uint64_t& value, uint32_t padding = 0);
Ret set_prop(uint64_t id, uint32_t code, uint64_t value);
Ret get_regs(uint64_t id, uint32_t vp, const uint32_t* names, uint64_t* values, uint16_t n, uint8_t vtl = 0);
Ret set_regs(uint64_t id, uint32_t vp, const uint32_t* names, const uint64_t* values, uint16_t n,
             uint8_t vtl = 0);

// DispatchVp output: the state and event, then (our extension) the 256-byte message.
struct Dispatched {
    abi::DispatchVpOutput head;
    abi::Message message;
    [[nodiscard]] abi::MessageType type() const { return message.header.type; }
    [[nodiscard]] const abi::InterceptHeader& header() const {
        return *reinterpret_cast<const abi::InterceptHeader*>(message.payload);
    }
    template <class T> [[nodiscard]] const T& as() const {
        return *reinterpret_cast<const T*>(message.payload);
    }
    [[nodiscard]] bool blocked_halt() const {
        return head.state == abi::DispatchState::blocked && type() == abi::MessageType::x64_halt;
    }
};
Ret dispatch(uint64_t id, uint32_t vp, Dispatched& out, uint32_t flags = 0);
// DispatchVp again while it returns "ready, suspend" (the root's own interrupt or the slice
// ended the run): what the caller wants is the next intercept or halt.
Ret dispatch_until_event(uint64_t id, uint32_t vp, Dispatched& out);
// The root completes an intercepted instruction: RIP moves past it (and RAX is set for IN).
Ret complete(uint64_t id, uint32_t vp, uint64_t next_rip);
Ret complete_in(uint64_t id, uint32_t vp, uint64_t next_rip, uint64_t rax);

// The page ledger's counts (our GetPartitionProperty extension, docs/child-partitions.md).
inline constexpr uint32_t prop_ledger_root = 0x00ff0001, prop_ledger_mapped = 0x00ff0002,
                          prop_ledger_deposited = 0x00ff0003, prop_ledger_partitions = 0x00ff0004;
inline constexpr uint64_t root_id = 1;
struct Ledger {
    uint64_t root, mapped, deposited, partitions;
    bool valid;
    [[nodiscard]] bool operator==(const Ledger& o) const {
        return valid && o.valid && root == o.root && mapped == o.mapped && deposited == o.deposited &&
               partitions == o.partitions;
    }
};
Ledger ledger(uint64_t id = root_id);

// The tiny child: one page of 32-bit code (paging off), mapped at child GPA `child_code_gpa`.
// Entry points are offsets in it; partitions_calls.cpp documents every instruction.
inline constexpr uint64_t child_code_gpa = 0x1000;
inline constexpr uint16_t port_out = 0x5a0, port_in = 0x5a1, port_ap = 0x5b0;
inline constexpr uint64_t unmapped_gpa = 0x200000;
enum : uint64_t {
    at_lifecycle = 0x000,  // hlt; out dx(0x5a0),eax=0x12345678; in al,dx(0x5a1); inc al; out 0x5a0,al;
                           // mov eax,[0x200000]; hlt
    at_spin = 0x040,       // [0x800] = 1; wait until [0x804] != 0; hlt
    at_ap = 0x080,         // out 0x5b0,al; hlt
    at_out_loop = 0x0c0,   // 1: out 0x5a0,al; jmp 1b
    at_cpuid_loop = 0x100, // esi = [0x101]; 1: cpuid(0) ; dec esi; jnz 1b; out 0x5a0,al; jmp start
    flag_running = 0x800,  // data words in the same page
    flag_release = 0x804,
};
// Where the intercepted instructions sit (offsets), for the checks of the messages' RIPs.
inline constexpr uint64_t rip_out_eax = 0x00a, rip_in = 0x00c, rip_out_al = 0x010, rip_load = 0x011,
                          len_load = 5;
inline constexpr uint64_t rip_ap_out = at_ap + 4, rip_loop_out = at_out_loop + 4,
                          rip_cpuid_out = at_cpuid_loop + 0x10;
inline constexpr uint64_t cpuid_count_at = at_cpuid_loop + 1;
// Copies the child's code into a root page (the root keeps its mapping of every mapped page).
void write_child_code(uint64_t root_page);

abi::InitialVpContext flat32(uint64_t rip);

// Scratch pages from the runtime's allocator (rt::pages), zeroed.
uint64_t page();
bool accessible(uint64_t gpa); // the root can write and read back the page

// Work for application processors: `fn(index, arg)` on processor `index` (1..online-1).
using ApFn = void (*)(uint32_t index, void* arg);
void run_on(uint32_t index, ApFn fn, void* arg);
bool wait_done(uint32_t index, uint64_t ms);
void ap_loop(uint32_t index); // what rt::ap_main runs

uint64_t ms_to_tsc(uint64_t ms);

// A status check with a diagnostic line when it fails.
bool expect(suite::Reporter& r, const Ret& got, Status want, const char* name);
bool expect_reps(suite::Reporter& r, const Ret& got, Status want, uint16_t reps, const char* name);

struct Env {
    const root_abi::RootHandoff* h;
    uint64_t hv_page; // a page of a `hypervisor` region, or 0
    bool vmx;         // backend, for the vendor property
    uint32_t aps;     // application processors running ap_loop
};
Env& env();

uint64_t median_of(uint64_t* v, uint32_t n);

// partitions-bench's SynIC figures (partitions_bench_signal.cpp): one child, a root event port.
struct SignalFigures {
    bool ok;                // the child and the port were set up
    bool signal_ok, null_ok; // every round behaved
    uint64_t signal;        // child's TSC before HvSignalEvent to the root's handler, median
    uint64_t null_x2;       // two null hypercalls of the same child, median
    uint64_t root_round;    // one signal round as the root sees it, DispatchVp included
    uint64_t strays;        // interrupts on other vectors meanwhile
};
SignalFigures measure_signal_event(const uint64_t* deposit_list, uint16_t deposit_pages);

// The parts of the `partitions` suite, in the order they run, with the checks each makes.
inline constexpr unsigned unknown_id_checks = 18, error_checks = 100, lifecycle_checks = 16, ap_checks = 11,
                          accounting_checks = 6, last_checks = 1;
void run_unknown_id_checks(suite::Reporter& r);               // partitions_errors.cpp
void run_error_checks(suite::Reporter& r);                    // partitions_errors.cpp
void run_vp_error_checks(suite::Reporter& r, uint64_t child); // partitions_vp.cpp, within the above
uint64_t track(uint64_t page); // a page handed to a child in the error checks: it must come back
void run_lifecycle_checks(suite::Reporter& r);  // partitions_run.cpp
void run_ap_checks(suite::Reporter& r);         // partitions_run.cpp
void run_accounting_checks(suite::Reporter& r); // partitions_run.cpp
void run_last_checks(suite::Reporter& r);       // partitions_errors.cpp

} // namespace pt
