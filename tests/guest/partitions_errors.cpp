// The error paths of the root-only calls, each with its exact TLFS status: unknown partition IDs,
// the partition state machine, deposits of pages that are not the root's or not anymore, maps
// the ledger must refuse, partial rep completion, withdrawals, intercepts and properties.
// Children: A (deposits, maps), B (VPs, partitions_vp.cpp; the second child of a map), C
// (withdrawals), D (properties). Every page handed over is checked to come back at the end.
#include "tests/guest/partitions_env.hpp"

namespace pt {
namespace {

namespace mf = abi::map_flag;
namespace am = abi::access_mask;
namespace pv = tlfs::privilege;
constexpr uint64_t bogus = 0x7777;
constexpr uint32_t rw = mf::readable | mf::writable;
constexpr uint32_t prop_privileges = 0x00010000, prop_vendor = 0x00060000, prop_width = 0x00060006;

uint64_t given[160];
uint32_t given_count;
uint64_t a_deposited; // a page deposited in A, for the maps that must refuse it

void deposits(suite::Reporter& r, uint64_t a, uint64_t b) {
    Env& e = env();
    Ledger before = ledger();
    constexpr uint64_t beyond = 1ull << 46; // 64 TiB: past any RAM the emulators give
    if (e.hv_page)
        expect_reps(r, deposit(a, &e.hv_page, 1), Status::invalid_parameter, 0,
                    "DepositMemory of a hypervisor page");
    else
        r.skip("DepositMemory of a hypervisor page", "the handoff lists no hypervisor region");
    expect_reps(r, deposit(a, &beyond, 1), Status::invalid_parameter, 0,
                "DepositMemory of a page beyond RAM");
    uint64_t pair[2] = {track(page()), e.hv_page ? e.hv_page : beyond};
    expect_reps(r, deposit(a, pair, 2), Status::invalid_parameter, 1,
                "a deposit refused at its second page reports one rep done");
    a_deposited = pair[0];
    r.check(rt::probe_read64(pair[0]).vector == 13, "a deposited page leaves the root's map (#GP)");
    expect_reps(r, deposit(a, pair, 1), Status::invalid_parameter, 0, "DepositMemory of the same page twice");
    expect_reps(r, deposit(b, pair, 1), Status::invalid_parameter, 0,
                "DepositMemory of another child's page");
    uint64_t run = rt::pages::alloc_run(100), hundred[100];
    for (uint32_t i = 0; i < 100; i++)
        hundred[i] = track(run + i * rt::pages::page_size);
    expect_reps(r, deposit(a, hundred, 100), Status::success, 100,
                "DepositMemory of 100 pages in one call (32 per exit, resumed)");
    Ledger after = ledger();
    r.check(after.deposited == before.deposited + 101 && after.root == before.root - 101,
            "the ledger moved exactly the 101 pages deposited");
}

void maps(suite::Reporter& r, uint64_t a, uint64_t b) {
    Env& e = env();
    uint64_t p1 = track(page()), deposited = a_deposited;
    expect(r, map(a, 0x10000, 0, &p1, 1), Status::invalid_parameter, "MapGpaPages with no access rights");
    expect(r, map(a, 0x10000, mf::writable, &p1, 1), Status::invalid_parameter,
           "MapGpaPages writable, not readable");
    expect(r, map(a, 0x10000, rw | mf::no_access, &p1, 1), Status::invalid_parameter,
           "MapGpaPages with a special encoding (bits 17:16)");
    expect(r, map(a, 0x10000, rw | mf::large_page, &p1, 1), Status::invalid_parameter,
           "MapGpaPages with the large-page flag");
    expect(r, map(a, 0x10000, rw | 0x40, &p1, 1), Status::invalid_parameter,
           "MapGpaPages with reserved flag bit 6");
    expect(r, map(a, 0x10000, rw, &p1, 1, 1), Status::invalid_parameter, "MapGpaPages with non-zero padding");
    expect(r, map(a, 0x10000, rw, &deposited, 1), Status::invalid_parameter,
           "MapGpaPages of a deposited page");
    if (e.hv_page)
        expect(r, map(a, 0x10000, rw, &e.hv_page, 1), Status::invalid_parameter,
               "MapGpaPages of a hypervisor page");
    else
        r.skip("MapGpaPages of a hypervisor page", "the handoff lists no hypervisor region");
    Ledger lb = ledger();
    Ret m1 = map(a, 0x10000, rw | mf::executable, &p1, 1);
    Ledger la = ledger();
    r.check(m1.ok() && m1.reps() == 1 && la.mapped == lb.mapped + 1 && la.root == lb.root - 1 &&
                accessible(p1),
            "MapGpaPages of a root page: counted as mapped, still the root's to touch");
    expect(r, map(b, 0x10000, rw, &p1, 1), Status::invalid_parameter,
           "a page mapped into one child is refused to another");
    uint64_t three[3] = {track(page()), track(page()), track(page())};
    expect(r, map(a, 0x10000, rw, &three[0], 1), Status::invalid_parameter,
           "MapGpaPages over a GPA already mapped");
    expect_reps(r, map(a, 0x20000, rw, three, 3), Status::success, 3,
                "MapGpaPages of three pages in one call");
    expect_reps(r, unmap(a, 0x40000, 2), Status::invalid_parameter, 0, "UnmapGpaPages of GPAs never mapped");
    Ledger lu = ledger();
    expect_reps(r, unmap(a, 0x20000, 5), Status::invalid_parameter, 3,
                "UnmapGpaPages over 3 mapped then 2 unmapped GPAs reports 3 reps done");
    r.check(ledger().mapped == lu.mapped - 3, "the ledger counts the 3 unmapped pages as the root's again");
    expect(r, unmap(a, 0x10000, 1, abi::unmap_flag::large_page), Status::invalid_parameter,
           "UnmapGpaPages with flags");
    expect_reps(r, map(b, 0x20000, rw, three, 3), Status::success, 3,
                "pages unmapped from one child map into another");
    uint64_t p5 = track(page());
    expect(r, map(a, 1ull << 48, rw, &p5, 1), Status::invalid_parameter, "MapGpaPages beyond 2^48");
}

void withdrawals(suite::Reporter& r, uint64_t c) {
    uint64_t five[5], got[8] = {};
    for (auto& p : five)
        p = track(page());
    Ret d = deposit(c, five, 5);
    Ledger lw = ledger();
    Ret w = withdraw(c, 3, got);
    bool back = d.ok() && w.ok() && w.reps() == 3;
    for (uint32_t i = 0; i < 3 && back; i++) {
        bool ours = false;
        for (uint64_t p : five)
            ours |= p == got[i];
        back = ours && accessible(got[i]);
    }
    r.check(back, "WithdrawMemory of 3 of 5 deposited pages: they are the root's to touch again");
    r.check(ledger().deposited == lw.deposited - 3, "the ledger counts the 3 withdrawn pages as the root's");
    expect_reps(r, withdraw(c, 8, got), Status::success, 2,
                "WithdrawMemory of 8 when 2 are left returns the 2 (success, reps 2)");
}

void intercepts(suite::Reporter& r, uint64_t b) {
    constexpr uint32_t rdwr = am::read | am::write;
    expect(r, intercept(b, 0, 0, port_out), Status::invalid_parameter,
           "InstallIntercept with no access type");
    expect(r, intercept(b, 8, 0, port_out), Status::invalid_parameter, "InstallIntercept with access bit 3");
    expect(r, intercept(b, rdwr, 0x04, 0), Status::invalid_parameter, "InstallIntercept of reserved type 4");
    expect(r, intercept(b, rdwr, 0x0b, 0), Status::invalid_parameter,
           "InstallIntercept of a type not offered (APIC write)");
    expect(r, intercept(b, rdwr, 0x00, 0x10000), Status::invalid_parameter,
           "InstallIntercept of I/O port 0x10000");
    expect(r, intercept(b, rdwr, 0x11, abi::intercept_param::io_port_range(0x60, 0x50)),
           Status::invalid_parameter, "InstallIntercept of a port range ending before it starts");
    expect(r, intercept(b, rdwr, 0x03, 32), Status::invalid_parameter,
           "InstallIntercept of exception vector 32");
    expect(r, intercept(b, rdwr, 0x00, port_out), Status::success, "InstallIntercept of an I/O port");
    expect(r, intercept(b, rdwr, 0x11, abi::intercept_param::io_port_range(0x5a0, 0x5a7)), Status::success,
           "InstallIntercept of an I/O port range");
    bool all = true;
    for (uint32_t i = 0; i < 32; i++)
        all &= intercept(b, am::execute, 0x02, 0x40000100 + i).ok();
    Ret full = intercept(b, am::execute, 0x02, 0x40000200);
    r.check(all && full.status() == Status::insufficient_buffers,
            "32 CPUID leaf intercepts are taken, the 33rd is INSUFFICIENT_BUFFERS");
}

void properties(suite::Reporter& r, uint64_t d) {
    Env& e = env();
    constexpr uint64_t want =
        pv::vp_index_msr | pv::hypercall_msrs | pv::access_partition_id | pv::post_messages;
    uint64_t v = 0;
    expect(r, set_prop(d, prop_privileges, want), Status::success,
           "SetPartitionProperty of privileges before Initialize");
    Ret g = get_prop(d, prop_privileges, v);
    if (g.ok() && v != want)
        r.diag("privilege flags read %lx after setting %lx", v, want);
    r.check(g.ok() && v == want, "GetPartitionProperty reads the privileges just set (before Initialize)");
    expect(r, set_prop(d, prop_privileges, want | pv::create_partitions), Status::property_value_out_of_range,
           "privileges with CreatePartitions: PROPERTY_VALUE_OUT_OF_RANGE");
    expect(r, set_prop(d, prop_privileges, want | pv::cpu_management), Status::property_value_out_of_range,
           "privileges with CpuManagement: PROPERTY_VALUE_OUT_OF_RANGE");
    expect(r, set_prop(d, prop_privileges, want | pv::debugging), Status::property_value_out_of_range,
           "privileges with Debugging: PROPERTY_VALUE_OUT_OF_RANGE");
    uint64_t one = track(page());
    Ret init = deposit(d, &one, 1);
    init = init.ok() ? initialize(d) : init;
    expect(r, set_prop(d, prop_privileges, want), Status::invalid_partition_state,
           "SetPartitionProperty of privileges after Initialize");
    g = get_prop(d, prop_privileges, v);
    r.check(init.ok() && g.ok() && v == want, "after Initialize the privileges are the ones set");
    g = get_prop(d, prop_vendor, v);
    if (g.ok())
        r.diag("processor vendor property reads %lu on %s", v, e.vmx ? "vmx" : "svm");
    r.check(g.ok() && v == (e.vmx ? 1u : 0u), "processor vendor reads HV_PROCESSOR_VENDOR (AMD 0, Intel 1)");
    expect(r, set_prop(d, prop_vendor, 0), Status::invalid_parameter, "the processor vendor is read-only");
    g = get_prop(d, prop_width, v);
    r.check(g.ok() && v == (rt::cpuid(0x80000008).eax & 0xff),
            "physical address width reads as CPUID 0x80000008");
    expect(r, set_prop(d, prop_width, 36), Status::invalid_parameter,
           "the physical address width is read-only");
    expect(r, get_prop(d, 0x00050000, v), Status::unknown_property,
           "GetPartitionProperty of a property not offered");
    expect(r, set_prop(d, 0x00050000, 1), Status::unknown_property,
           "SetPartitionProperty of a property not offered");
    expect(r, get_prop(d, 0x7fff1234, v), Status::unknown_property,
           "GetPartitionProperty of an undefined code");
    expect(r, get_prop(d, prop_ledger_root, v), Status::unknown_property,
           "the ledger counts are not a child's property");
    r.check(ledger(tlfs::partition_id_self) == ledger(root_id),
            "the ledger reads alike through SELF and the root's ID");
    expect(r, get_prop(d, prop_privileges, v, 1), Status::invalid_parameter,
           "GetPartitionProperty with non-zero padding");
}

} // namespace

uint64_t track(uint64_t p) {
    if (given_count < sizeof given / sizeof given[0])
        given[given_count++] = p;
    return p;
}

void run_unknown_id_checks(suite::Reporter& r) {
    uint64_t p = page(), v, vals[1] = {0};
    const uint32_t names[1] = {tlfs::reg::rip};
    Dispatched out;
    constexpr Status bad = Status::invalid_partition_id;
    expect(r, initialize(bogus), bad, "InitializePartition of an unknown partition");
    expect(r, finalize(bogus), bad, "FinalizePartition of an unknown partition");
    expect(r, remove(bogus), bad, "DeletePartition of an unknown partition");
    expect(r, get_prop(bogus, prop_privileges, v), bad, "GetPartitionProperty of an unknown partition");
    expect(r, set_prop(bogus, prop_privileges, 0), bad, "SetPartitionProperty of an unknown partition");
    Ret d = deposit(bogus, &p, 1);
    r.check(d.status() == bad && d.reps() == 0 && accessible(p),
            "DepositMemory to an unknown partition takes nothing");
    expect(r, withdraw(bogus, 1, vals), bad, "WithdrawMemory from an unknown partition");
    expect(r, map(bogus, 0x1000, rw, &p, 1), bad, "MapGpaPages into an unknown partition");
    expect(r, unmap(bogus, 0x1000, 1), bad, "UnmapGpaPages of an unknown partition");
    expect(r, intercept(bogus, am::read | am::write, 0, port_out), bad,
           "InstallIntercept on an unknown partition");
    expect(r, create_vp(bogus, 0), bad, "CreateVp in an unknown partition");
    expect(r, delete_vp(bogus, 0), bad, "DeleteVp in an unknown partition");
    expect(r, start_vp(bogus, 0, flat32(child_code_gpa)), bad, "StartVp in an unknown partition");
    expect(r, get_regs(bogus, 0, names, vals, 1), bad, "GetVpRegisters of an unknown partition's VP");
    expect(r, set_regs(bogus, 0, names, vals, 1), bad, "SetVpRegisters of an unknown partition's VP");
    expect(r, assert_irq(bogus, 0, 0, 0x30), bad, "AssertVirtualInterrupt to an unknown partition");
    expect(r, dispatch(bogus, 0, out), bad, "DispatchVp of an unknown partition's VP");
    expect(r, remove(abi::partition_id_invalid), bad, "DeletePartition of HV_PARTITION_ID_INVALID (0)");
    rt::pages::free(p);
}

void run_error_checks(suite::Reporter& r) {
    Ledger start = ledger();
    uint64_t a = 0, b = 0, c = 0, d = 0, x = 0;
    Ret ca = create(a);
    r.check(ca.ok() && a != 0 && a != root_id && a != tlfs::partition_id_self,
            "CreatePartition gives a new ID");
    Ret cb = create(b);
    r.check(cb.ok() && b != a && b != 0 && b != root_id, "a second CreatePartition gives another ID");
    r.check(ledger().partitions == start.partitions + 2, "the ledger counts both new partitions");
    expect(r, create(x, abi::isolation::type_vbs), Status::invalid_parameter,
           "CreatePartition asking for isolation");

    uint64_t code = page();
    expect(r, create_vp(a, 0), Status::invalid_partition_state, "CreateVp before InitializePartition");
    expect(r, map(a, child_code_gpa, rw, &code, 1), Status::invalid_partition_state,
           "MapGpaPages before InitializePartition");
    expect(r, initialize(a), Status::insufficient_memory, "InitializePartition with nothing deposited");
    uint64_t one_a = track(page()), one_b = track(page());
    Ret ia = deposit(a, &one_a, 1), ib = deposit(b, &one_b, 1);
    ia = ia.ok() ? initialize(a) : ia;
    ib = ib.ok() ? initialize(b) : ib;
    r.check(ia.ok() && ib.ok(), "InitializePartition after a one-page deposit");
    expect(r, initialize(a), Status::invalid_partition_state, "InitializePartition twice");

    deposits(r, a, b);
    run_vp_error_checks(r, b);
    uint64_t more[8];
    for (auto& p : more)
        p = track(page());
    r.check(deposit(b, more, 8).ok(), "DepositMemory of 8 pages for the second child's tables");
    maps(r, a, b);
    intercepts(r, b);
    r.check(create(c).ok() && create(d).ok(), "CreatePartition of two more children");
    withdrawals(r, c);
    properties(r, d);

    bool gone = remove(a).ok() && remove(b).ok() && remove(c).ok() && remove(d).ok();
    r.check(gone, "DeletePartition of all four children");
    expect(r, remove(a), Status::invalid_partition_id, "DeletePartition of a deleted partition");
    Ledger end = ledger();
    if (!(end == start))
        r.diag("ledger root %lu/%lu mapped %lu/%lu deposited %lu/%lu partitions %lu/%lu (before/after)",
               start.root, end.root, start.mapped, end.mapped, start.deposited, end.deposited,
               start.partitions, end.partitions);
    r.check(end == start, "the ledger counts are back where they started");
    bool all = true;
    for (uint32_t i = 0; i < given_count; i++)
        all &= accessible(given[i]);
    r.check(all, "every page deposited or mapped is the root's to read and write again");
    rt::pages::free(code);
}

void run_last_checks(suite::Reporter& r) {
    // Last: the one check that reaches a nested map before it exists.
    uint64_t id = 0;
    Ret c = create(id);
    Ret u = c.ok() ? unmap(id, 0, 1) : c;
    expect(r, u, Status::invalid_partition_state, "UnmapGpaPages before InitializePartition");
    static_cast<void>(remove(id));
}

} // namespace pt
