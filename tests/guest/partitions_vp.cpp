// Virtual processors of a child, their error paths (TLFS statuses): CreateVp against the
// deposit (three pages a VP), indexes, StartVp once, DispatchVp of a VP never started,
// AssertVirtualInterrupt's checks, and Get/SetVpRegisters on a child VP. Run on child B of
// partitions_errors.cpp, initialized with exactly one deposited page (its nested map's root).
#include "tests/guest/partitions_env.hpp"

namespace pt {
namespace {

void create_delete(suite::Reporter& r, uint64_t b) {
    expect(r, create_vp(b, 0), Status::insufficient_memory,
           "CreateVp with the deposit empty: INSUFFICIENT_MEMORY");
    uint64_t two[2] = {track(page()), track(page())};
    Ret d = deposit(b, two, 2);
    Ret c = create_vp(b, 0);
    r.check(d.ok() && c.status() == Status::insufficient_memory,
            "CreateVp with 2 of the 3 pages it needs: INSUFFICIENT_MEMORY");
    uint64_t third = track(page());
    d = deposit(b, &third, 1);
    expect(r, d.ok() ? create_vp(b, 0) : d, Status::success,
           "CreateVp succeeds once the third page is deposited");
    expect(r, create_vp(b, 0), Status::invalid_vp_state, "CreateVp of a VP that exists");
    expect(r, create_vp(b, 64), Status::invalid_vp_index, "CreateVp of VP index 64");
    expect(r, create_vp(b, 1, 1), Status::invalid_parameter, "CreateVp with reserved flags set");
    expect(r, delete_vp(b, 5), Status::invalid_vp_index, "DeleteVp of a VP never created");
    expect(r, delete_vp(b, 64), Status::invalid_vp_index, "DeleteVp of VP index 64");
    Ret del = delete_vp(b, 0);
    expect(r, del.ok() ? create_vp(b, 0) : del, Status::success,
           "DeleteVp returns its 3 pages to the deposit: CreateVp again needs no more");
}

void start_dispatch(suite::Reporter& r, uint64_t b) {
    Dispatched out;
    Ret dv = dispatch(b, 0, out);
    r.check(dv.ok() && out.head.state == abi::DispatchState::blocked,
            "DispatchVp of a VP never started returns blocked");
    expect(r, dispatch(b, 0, out, abi::dispatch_flag::enable_caller_interrupts), Status::invalid_parameter,
           "DispatchVp with a flag not offered");
    expect(r, dispatch(b, 3, out), Status::invalid_vp_index, "DispatchVp of a VP that does not exist");
    expect(r, start_vp(b, 9, flat32(child_code_gpa)), Status::invalid_vp_index,
           "StartVp of a VP that does not exist");
    expect(r, start_vp(b, 0, flat32(child_code_gpa), 1), Status::invalid_parameter,
           "StartVp with target VTL 1");
    expect(r, start_vp(b, 0, flat32(child_code_gpa)), Status::success, "StartVp of a created VP");
    expect(r, start_vp(b, 0, flat32(child_code_gpa)), Status::invalid_vp_state,
           "StartVp twice: INVALID_VP_STATE");
}

void interrupts(suite::Reporter& r, uint64_t b) {
    using T = abi::InterruptType;
    auto t = [](T type) { return static_cast<uint32_t>(type); };
    expect(r, assert_irq(b, t(T::fixed), 0, 0x100), Status::invalid_parameter,
           "AssertVirtualInterrupt of vector 0x100");
    expect(r, assert_irq(b, t(T::fixed), 0, 15), Status::invalid_parameter,
           "AssertVirtualInterrupt of fixed vector 15");
    expect(r, assert_irq(b, t(T::smi), 0, 0x30), Status::invalid_parameter,
           "AssertVirtualInterrupt of type SMI");
    expect(r, assert_irq(b, 0x20, 0, 0x30), Status::invalid_parameter,
           "AssertVirtualInterrupt of unknown type 0x20");
    expect(r, assert_irq(b, t(T::fixed), 7, 0x30), Status::invalid_vp_index,
           "AssertVirtualInterrupt to a VP that does not exist");
    expect(r, assert_irq(b, t(T::fixed), 0, 0x30, abi::interrupt_flag::logical_destination),
           Status::invalid_parameter, "AssertVirtualInterrupt to a logical destination");
    expect(r, assert_irq(b, t(T::init), 0, 0), Status::invalid_vp_state,
           "INIT to a started VP: INVALID_VP_STATE");
    expect(r, assert_irq(b, t(T::fixed), 0, 0x30), Status::success,
           "AssertVirtualInterrupt of fixed vector 0x30");
}

void registers(suite::Reporter& r, uint64_t b) {
    const uint32_t names[3] = {tlfs::reg::rip, tlfs::reg::rax + 4, tlfs::reg::rax}; // RIP, RSP, RAX
    const uint64_t values[3] = {0x1234, 0x1ff0, 0xfeedfacecafeull};
    uint64_t got[3] = {};
    Ret s = set_regs(b, 0, names, values, 3);
    r.check(s.ok() && s.reps() == 3, "SetVpRegisters of RIP, RSP and RAX on a child VP");
    Ret g = get_regs(b, 0, names, got, 3);
    if (g.ok() && (got[0] != values[0] || got[1] != values[1] || got[2] != values[2]))
        r.diag("read back rip %lx rsp %lx rax %lx", got[0], got[1], got[2]);
    r.check(g.ok() && g.reps() == 3 && got[0] == values[0] && got[1] == values[1] && got[2] == values[2],
            "GetVpRegisters reads RIP, RSP and RAX back from the child VP");
    expect(r, get_regs(b, 7, names, got, 1), Status::invalid_vp_index,
           "GetVpRegisters of a child VP that does not exist");
    expect(r, set_regs(b, 0, names, values, 1, 1), Status::invalid_parameter,
           "SetVpRegisters on a child with input VTL 1");
    const uint32_t unknown[2] = {tlfs::reg::rip, 0x12345};
    expect_reps(r, get_regs(b, 0, unknown, got, 2), Status::invalid_parameter, 1,
                "an unknown register name fails its element of a child's GetVpRegisters");
}

} // namespace

void run_vp_error_checks(suite::Reporter& r, uint64_t b) {
    create_delete(r, b);
    start_dispatch(r, b);
    interrupts(r, b);
    registers(r, b);
}

} // namespace pt
