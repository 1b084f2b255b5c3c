// The calls every partition has that stay on the caller: GetPartitionId, NotifyLongSpinWait,
// PostMessage and SignalEvent (no connection exists yet), Get/SetVpRegisters on itself, and the
// fast (register) convention with every register checked.
#include "tests/guest/hypercalls_env.hpp"

namespace hc {
namespace {

namespace cw = tlfs::control;
namespace code = tlfs::call;

struct Regs {
    uint64_t r[16];
};

// A fast call with every GPR loaded with a pattern, reading them all back afterwards.
Ret fast_all_registers(uint64_t control, uint64_t rdx, uint64_t r8, Regs& after) {
    Regs before;
    for (int i = 0; i < 16; i++)
        before.r[i] = 0x1111111111111111ull * static_cast<uint64_t>(i + 1);
    before.r[0] = env().call_page;
    before.r[1] = control;
    before.r[2] = rdx;
    before.r[8] = r8;
    Regs* src = &before;
    Regs* dst = &after;
    asm volatile(
        "push %%rbp\n push %%rbx\n push %%r12\n push %%r13\n push %%r14\n push %%r15\n push %%rsi\n"
        "mov 3*8(%%rdi), %%rbx\n mov 5*8(%%rdi), %%rbp\n mov 6*8(%%rdi), %%rsi\n"
        "mov 1*8(%%rdi), %%rcx\n mov 2*8(%%rdi), %%rdx\n mov 8*8(%%rdi), %%r8\n mov 9*8(%%rdi), %%r9\n"
        "mov 10*8(%%rdi), %%r10\n mov 11*8(%%rdi), %%r11\n mov 12*8(%%rdi), %%r12\n mov 13*8(%%rdi), %%r13\n"
        "mov 14*8(%%rdi), %%r14\n mov 15*8(%%rdi), %%r15\n mov 0*8(%%rdi), %%rax\n"
        "mov 7*8(%%rdi), %%rdi\n"
        "call *%%rax\n"
        "xchg %%rdi, (%%rsp)\n"   // RDI = &after; the guest's RDI goes on the stack
        "mov %%rax, 0*8(%%rdi)\n mov %%rcx, 1*8(%%rdi)\n mov %%rdx, 2*8(%%rdi)\n mov %%rbx, 3*8(%%rdi)\n"
        "mov %%rbp, 5*8(%%rdi)\n mov %%rsi, 6*8(%%rdi)\n pop %%rax\n mov %%rax, 7*8(%%rdi)\n"
        "mov %%r8, 8*8(%%rdi)\n mov %%r9, 9*8(%%rdi)\n mov %%r10, 10*8(%%rdi)\n mov %%r11, 11*8(%%rdi)\n"
        "mov %%r12, 12*8(%%rdi)\n mov %%r13, 13*8(%%rdi)\n mov %%r14, 14*8(%%rdi)\n mov %%r15, 15*8(%%rdi)\n"
        "pop %%r15\n pop %%r14\n pop %%r13\n pop %%r12\n pop %%rbx\n pop %%rbp\n"
        : "+D"(src), "+S"(dst)
        :
        : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc");
    return {after.r[0], after.r[1]};
}

void simple_calls(suite::Reporter& r) {
    Env& e = env();
    uint64_t in = e.page(pg_in), out = e.page(pg_out);
    zero_page(out);
    Ret id = call(cw::make(code::get_partition_id), 0, out);
    r.check(id.status() == Status::success && *static_cast<uint64_t*>(at(out)) == 1,
            "GetPartitionId gives the root's ID (1)");
    status_is(r, call(cw::make(code::notify_long_spin_wait, true), 100, 0), Status::success,
              "NotifyLongSpinWait (fast) succeeds");
    auto* m = static_cast<tlfs::PostMessageInput*>(at(in));
    *m = {};
    m->connection_id = 4;
    m->message_type = 1;
    m->payload_size = 8;
    status_is(r, call(cw::make(code::post_message), in, 0), Status::invalid_connection_id,
              "PostMessage to a connection that does not exist");
    m->payload_size = tlfs::message_payload_max + 1;
    status_is(r, call(cw::make(code::post_message), in, 0), Status::invalid_parameter,
              "PostMessage with a payload over 240 bytes");
    m->payload_size = 8;
    m->message_type = 0x80000001;
    status_is(r, call(cw::make(code::post_message), in, 0), Status::invalid_parameter,
              "PostMessage with a hypervisor message type");
    status_is(r, call(cw::make(code::signal_event, true), 4 | (uint64_t{3} << 32), 0), Status::invalid_connection_id,
              "SignalEvent (fast) to a connection that does not exist");
    status_is(r, call(cw::make(code::signal_event, true), 4 | (uint64_t{2048} << 32), 0), Status::invalid_parameter,
              "SignalEvent with flag number 2048");
    *static_cast<tlfs::SignalEventInput*>(at(in)) = {4, 3, 0};
    status_is(r, call(cw::make(code::signal_event), in, 0), Status::invalid_connection_id,
              "SignalEvent (memory) to a connection that does not exist");

    Regs after;
    Ret f = fast_all_registers(cw::make(code::signal_event, true) , 4 | (uint64_t{5} << 32), 0x5555, after);
    bool kept = true;
    for (int i = 3; i < 16; i++)
        if (i != 4 && after.r[i] != (i == 8 ? 0x5555 : 0x1111111111111111ull * static_cast<uint64_t>(i + 1)))
            kept = false;
    r.check(f.status() == Status::invalid_connection_id && kept && after.r[2] == (4 | (uint64_t{5} << 32)),
            "a fast call leaves every register but RAX as it was");
}

Ret registers(uint16_t code_, uint16_t n, uint64_t partition, uint32_t vp, uint8_t vtl = 0) {
    auto* h = static_cast<tlfs::VpRegistersInput*>(at(env().page(pg_in)));
    *h = {partition, vp, vtl, {}};
    return call(cw::make(code_, false, n), env().page(pg_in), code_ == code::get_vp_registers ? env().page(pg_out) : 0);
}


void vp_registers(suite::Reporter& r) {
    Env& e = env();
    auto* names = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(at(e.page(pg_in))) + 16);
    const auto* vals = static_cast<const tlfs::RegisterValue*>(at(e.page(pg_out)));
    names[0] = tlfs::reg::rip;
    names[1] = tlfs::reg::cr3;
    names[2] = tlfs::reg::cr0;
    names[3] = tlfs::reg::cr4;
    names[4] = tlfs::reg::efer;
    names[5] = tlfs::reg::es + 1;   // CS
    names[6] = tlfs::reg::gdtr;
    Ret g = registers(code::get_vp_registers, 7, tlfs::partition_id_self, tlfs::vp_index_self);
    uint64_t cr0, cr3, cr4;
    uint16_t cs;
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } gdtr;
    asm volatile("mov %%cr0, %0; mov %%cr3, %1; mov %%cr4, %2; mov %%cs, %3; sgdt %4"
                 : "=r"(cr0), "=r"(cr3), "=r"(cr4), "=r"(cs), "=m"(gdtr));
    r.check(g.status() == Status::success && g.reps() == 7, "GetVpRegisters of seven registers succeeds");
    r.check(vals[0].low == e.call_page, "RIP is the call instruction in the hypercall page");
    r.check(vals[1].low == cr3 && vals[2].low == cr0 && vals[3].low == cr4,
            "CR0, CR3 and CR4 read as the VP reads them");
    r.check(vals[4].low == rt::rdmsr(0xc0000080), "EFER reads as RDMSR reads it");
    r.check(((vals[5].high >> 32) & 0xffff) == cs && (vals[5].high >> 48 & (1u << 13)),
            "CS has the VP's selector and the L attribute");
    r.check(vals[6].high == gdtr.base && (vals[6].low >> 48) == gdtr.limit, "GDTR reads as SGDT reads it");
    Ret mine = registers(code::get_vp_registers, 1, 1, 0);
    r.check(mine.status() == Status::success, "the caller's own partition ID and VP index work as SELF does");
    status_is(r, registers(code::get_vp_registers, 1, 2, tlfs::vp_index_self), Status::invalid_partition_id,
              "another partition ID is refused");
    status_is(r, registers(code::get_vp_registers, 1, tlfs::partition_id_self, 999), Status::invalid_vp_index,
              "a VP index the partition lacks");
    status_is(r, registers(code::get_vp_registers, 1, tlfs::partition_id_self, 0, 1), Status::invalid_parameter,
              "an input VTL other than 0");
    names[0] = tlfs::reg::rip;
    names[1] = tlfs::reg::cr3;
    names[2] = 0x12345;
    Ret bad = registers(code::get_vp_registers, 3, tlfs::partition_id_self, tlfs::vp_index_self);
    r.check(bad.status() == Status::invalid_parameter && bad.reps() == 2,
            "an unknown register fails that element; reps completed says where");

    // SetVpRegisters: R9 through the page, then CR0 (read-only here).
    auto* assoc = reinterpret_cast<tlfs::RegisterAssoc*>(static_cast<uint8_t*>(at(e.page(pg_in))) + 16);
    assoc[0] = {tlfs::reg::rax + 9, 0, 0, {0x0123456789abcdefull, 0}};
    auto* h = static_cast<tlfs::VpRegistersInput*>(at(e.page(pg_in)));
    *h = {tlfs::partition_id_self, tlfs::vp_index_self, 0, {}};
    uint64_t rax, control = cw::make(code::set_vp_registers, false, 1), in = e.page(pg_in), page = e.call_page;
    register uint64_t r8 asm("r8") = 0;
    register uint64_t r9 asm("r9") = 0;
    asm volatile("call *%[page]"
                 : "=a"(rax), "+c"(control), "+d"(in), "+r"(r8), "+r"(r9)
                 : [page] "r"(page)
                 : "memory", "cc");
    r.check(tlfs::result::status(rax) == 0 && r9 == 0x0123456789abcdefull, "SetVpRegisters writes R9 of the caller");
    assoc[0] = {tlfs::reg::cr0, 0, 0, {cr0, 0}};
    status_is(r, registers(code::set_vp_registers, 1, tlfs::partition_id_self, tlfs::vp_index_self),
              Status::invalid_parameter, "SetVpRegisters refuses CR0 (read-only here)");
}

} // namespace

void run_call_checks(suite::Reporter& r) {
    simple_calls(r);
    vp_registers(r);
}

} // namespace hc
