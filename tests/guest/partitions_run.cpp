// A child that runs: the whole lifecycle with the tiny child (HLT, OUT, IN, an unmapped read,
// INIT-SIPI into real mode, Finalize, Delete); child VPs dispatched from application processors
// (a VP busy on one processor refuses deletion and a second claim; each of N VPs dispatched from
// its own processor, then moved); and the accounting test: 100 create/destroy cycles leave every
// ledger count where it was and every page the root's.
#include "tests/guest/partitions_env.hpp"

namespace pt {
namespace {

namespace mf = abi::map_flag;
namespace am = abi::access_mask;
namespace es = abi::exec_state;
constexpr uint32_t rwx = mf::readable | mf::writable | mf::executable;
constexpr uint32_t rdwr = am::read | am::write;
using abi::DispatchEvent, abi::DispatchState, abi::MessageType;

// A child with `vps` VPs (not started), `port` intercepted, its code page mapped at child_code_gpa;
// 16 pages deposited beyond the VPs' three each.
bool build(uint64_t& id, uint32_t vps, uint64_t code, uint16_t port) {
    uint16_t n = static_cast<uint16_t>(16 + 3 * vps);
    uint64_t run = rt::pages::alloc_run(n), list[16 + 3 * 4];
    if (!run || n > sizeof list / sizeof list[0])
        return false;
    for (uint16_t i = 0; i < n; i++)
        list[i] = run + i * rt::pages::page_size;
    bool ok = create(id).ok() && deposit(id, list, n).ok() && initialize(id).ok() &&
              intercept(id, rdwr, 0, port).ok() && map(id, child_code_gpa, rwx, &code, 1).ok();
    for (uint32_t i = 0; ok && i < vps; i++)
        ok = create_vp(id, i).ok();
    return ok;
}

bool io_message(const Ret& d, const Dispatched& o, uint16_t port, uint8_t size, abi::AccessType access) {
    const auto& io = o.as<abi::IoPortInterceptMessage>();
    return d.ok() && o.head.state == DispatchState::ready && o.head.event == DispatchEvent::intercept &&
           o.type() == MessageType::x64_io_port_intercept && io.port == port &&
           (io.access_info & abi::io_access::size_mask) == size && io.header.access_type == access;
}

struct ApDispatch {
    uint64_t id;
    uint32_t vp;
    Ret ret;
    Dispatched out;
};
void ap_dispatch(uint32_t, void* arg) {
    auto& a = *static_cast<ApDispatch*>(arg);
    a.ret = dispatch_until_event(a.id, a.vp, a.out);
}

} // namespace

void run_lifecycle_checks(suite::Reporter& r) {
    Ledger start = ledger();
    uint64_t id = 0, code = page();
    write_child_code(code);
    bool built = build(id, 2, code, port_out) && intercept(id, rdwr, 0, port_in).ok();
    r.check(built, "a child: create, deposit, initialize, intercept two ports, map its code, two VPs");
    expect(r, start_vp(id, 0, flat32(child_code_gpa + at_lifecycle)), Status::success,
           "StartVp in 32-bit protected mode");
    Dispatched o;
    const abi::InterceptHeader& h = o.header();
    Ret d = dispatch_until_event(id, 0, o);
    r.diag("halt message: rip %lx cs %x state %x", h.rip, h.cs.selector, h.execution_state);
    r.check(d.ok() && o.blocked_halt() && h.vp_index == 0,
            "DispatchVp: the child's HLT returns blocked, halt message");
    r.check((h.execution_state & es::cr0_pe) && !(h.execution_state & es::efer_lma) &&
                h.cs.selector == 0x08 && o.message.header.origin == id,
            "the halt message: protected mode, CS 0x08, origin the child");

    d = dispatch_until_event(id, 0, o);
    const auto& io = o.as<abi::IoPortInterceptMessage>();
    r.check(io_message(d, o, port_out, 4, abi::AccessType::write) && io.rax == 0x12345678,
            "OUT to an intercepted port: I/O message, port 0x5a0, 4 bytes written, 0x12345678");
    r.check(h.rip == child_code_gpa + rip_out_eax && abi::instruction_length(h) == 1,
            "the I/O message: RIP at the OUT, instruction length 1");
    Ret c = complete(id, 0, h.rip + 1);
    d = dispatch_until_event(id, 0, o);
    r.check(c.ok() && io_message(d, o, port_in, 1, abi::AccessType::read) && h.rip == child_code_gpa + rip_in,
            "after SetVpRegisters RIP: IN from an intercepted port, port 0x5a1, 1 byte read");
    c = complete_in(id, 0, h.rip + 1, 0x41);
    d = dispatch_until_event(id, 0, o);
    r.check(c.ok() && io_message(d, o, port_out, 1, abi::AccessType::write) && (io.rax & 0xff) == 0x42,
            "the value the root gave the IN reached the child (0x41 + 1 written back)");
    c = complete(id, 0, h.rip + 1);
    d = dispatch_until_event(id, 0, o);
    const auto& mem = o.as<abi::MemoryInterceptMessage>();
    r.check(c.ok() && d.ok() && o.type() == MessageType::unmapped_gpa && mem.gpa == unmapped_gpa &&
                mem.header.access_type == abi::AccessType::read && h.rip == child_code_gpa + rip_load,
            "a read of an unmapped GPA: unmapped-GPA message with the address, at the load");
    const uint8_t load[5] = {0xa1, 0x00, 0x00, 0x20, 0x00};
    r.check(mem.instruction_byte_count >= 5 && __builtin_memcmp(mem.instruction_bytes, load, 5) == 0,
            "the memory message carries the instruction's bytes");
    c = complete(id, 0, h.rip + len_load);
    d = dispatch_until_event(id, 0, o);
    r.check(c.ok() && d.ok() && o.blocked_halt(), "the child runs on to its last HLT");

    using T = abi::InterruptType;
    Ret i1 = assert_irq(id, static_cast<uint32_t>(T::init), 1, 0);
    Ret s1 = assert_irq(id, static_cast<uint32_t>(T::sipi), 1, child_code_gpa >> 12);
    d = dispatch_until_event(id, 1, o);
    r.diag("VP 1 after INIT-SIPI: rip %lx cs %x state %x", h.rip, h.cs.selector, h.execution_state);
    r.check(i1.ok() && s1.ok() && d.ok() && o.blocked_halt() && h.vp_index == 1 &&
                !(h.execution_state & es::cr0_pe) && h.cs.selector == (child_code_gpa >> 4),
            "INIT and SIPI by AssertVirtualInterrupt start VP 1 in real mode at the vector's page");
    expect(r, finalize(id), Status::success, "FinalizePartition");
    expect(r, dispatch(id, 0, o), Status::invalid_partition_state, "DispatchVp after FinalizePartition");
    expect(r, remove(id), Status::success, "DeletePartition of the child");
    r.check(ledger() == start && accessible(code), "after DeletePartition the ledger counts are as before");
}

void run_ap_checks(suite::Reporter& r) {
    Env& e = env();
    if (e.aps == 0) {
        for (unsigned i = 0; i < ap_checks; i++)
            r.skip("child VPs dispatched from application processors", "one processor");
        return;
    }
    Ledger start = ledger();
    r.check(e.aps + 1 == e.h->processor_count, "every application processor runs the suite's loop");

    // A VP spinning on one processor while this one calls.
    uint64_t s = 0, code = page();
    write_child_code(code);
    bool built = build(s, 1, code, port_out) && start_vp(s, 0, flat32(child_code_gpa + at_spin)).ok();
    auto* flags = static_cast<volatile uint32_t*>(rt::pages::ptr(code + flag_running));
    ApDispatch job{s, 0, {}, {}};
    run_on(1, ap_dispatch, &job);
    bool running = false;
    for (uint64_t end = rt::rdtsc() + ms_to_tsc(20000); built && !running && rt::rdtsc() < end;)
        running = flags[0] == 1;
    Ret del = remove(s);
    r.check(running && del.status() == Status::invalid_partition_state,
            "DeletePartition while a VP is dispatched on another processor: INVALID_PARTITION_STATE");
    const uint32_t names[1] = {tlfs::reg::rip};
    uint64_t v[1];
    Dispatched o;
    expect(r, delete_vp(s, 0), Status::invalid_vp_state,
           "DeleteVp of a VP being dispatched: INVALID_VP_STATE");
    expect(r, dispatch(s, 0, o), Status::invalid_vp_state,
           "DispatchVp of a VP dispatched elsewhere: INVALID_VP_STATE");
    expect(r, get_regs(s, 0, names, v, 1), Status::invalid_vp_state,
           "GetVpRegisters of a VP being dispatched: INVALID_VP_STATE");
    flags[1] = 1;
    bool done = wait_done(1, 20000);
    r.check(done && job.ret.ok() && job.out.blocked_halt(),
            "released, the VP halts: the other DispatchVp returns blocked");
    expect(r, remove(s), Status::success, "DeletePartition once no VP is dispatched");

    // One VP per processor, up to four, each dispatched from its own.
    uint32_t n = e.h->processor_count < 4 ? e.h->processor_count : 4;
    uint64_t m = 0, code2 = page();
    write_child_code(code2);
    built = build(m, n, code2, port_ap);
    for (uint32_t i = 0; built && i < n; i++)
        built = start_vp(m, i, flat32(child_code_gpa + at_ap)).ok();
    ApDispatch jobs[4] = {};
    for (uint32_t i = 1; built && i < n; i++) {
        jobs[i] = {m, i, {}, {}};
        run_on(i, ap_dispatch, &jobs[i]);
    }
    jobs[0] = {m, 0, {}, {}};
    if (built)
        ap_dispatch(0, &jobs[0]);
    bool each = built;
    for (uint32_t i = 0; i < n && each; i++) {
        each = (i == 0 || wait_done(i, 20000)) &&
               io_message(jobs[i].ret, jobs[i].out, port_ap, 1, abi::AccessType::write) &&
               jobs[i].out.header().vp_index == i && jobs[i].out.header().rip == child_code_gpa + rip_ap_out;
        if (!each)
            r.diag("VP %u: status 0x%x type %x", i, static_cast<unsigned>(jobs[i].ret.status()),
                   static_cast<unsigned>(jobs[i].out.type()));
    }
    r.check(
        each,
        "a child with one VP per processor: each, dispatched from its own, reports its own I/O intercept");
    bool moved = each;
    for (uint32_t i = 0; i < n && moved; i++) {
        Ret c = complete(m, i, child_code_gpa + rip_ap_out + 1);
        Ret d = dispatch_until_event(m, i, o);
        moved = c.ok() && d.ok() && o.blocked_halt() && o.header().vp_index == i;
    }
    r.check(moved, "each VP, completed and dispatched from the bootstrap processor, runs on to its halt");
    expect(r, remove(m), Status::success, "DeletePartition of the child with a VP per processor");
    r.check(ledger() == start, "after the processors' children the ledger counts are as before");
}

void run_accounting_checks(suite::Reporter& r) {
    constexpr uint32_t cycles = 100;
    constexpr uint16_t per = 16;
    Ledger start = ledger();
    bool all = true, back = true;
    for (uint32_t i = 0; i < cycles; i++) {
        uint64_t run = rt::pages::alloc_run(per), ram = page(), list[per], id = 0;
        for (uint16_t k = 0; k < per; k++)
            list[k] = run + k * rt::pages::page_size;
        bool ok = run && ram && create(id).ok() && deposit(id, list, per).ok() && initialize(id).ok() &&
                  create_vp(id, 0).ok() && map(id, 0, rwx, &ram, 1).ok();
        ok = remove(id).ok() && ok;
        if (!ok && all)
            r.diag("cycle %u failed (partition %lu)", i, id);
        all &= ok;
        bool mine = accessible(ram);
        for (uint16_t k = 0; k < per; k++)
            mine &= accessible(list[k]);
        back &= mine;
        if (mine) { // a page the hypervisor still holds must never be handed out again
            rt::pages::free_run(run, per);
            rt::pages::free(ram);
        }
    }
    Ledger end = ledger();
    r.check(all, "100 cycles of create, deposit 16, initialize, CreateVp, map a page, delete");
    r.check(end.valid && end.root == start.root, "after 100 cycles the root holds as many pages as before");
    r.check(end.valid && end.mapped == start.mapped, "after 100 cycles no page is mapped into a child");
    r.check(end.valid && end.deposited == start.deposited, "after 100 cycles no page is deposited");
    r.check(end.valid && end.partitions == start.partitions, "after 100 cycles no child partition is left");
    r.check(back, "the root reads and writes every page it deposited or mapped in the 100 cycles");
}

} // namespace pt
