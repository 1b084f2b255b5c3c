// partitions-bench, the SynIC figure (docs/performance.md): HvSignalEvent from a CHILD partition to
// an interrupt handler of the root, against two null hypercalls the same child makes.
//
// The root (this suite) owns an event port on its VP 0, SINT `sint` (TLFS 11.x, HvCallCreatePort),
// and connects the child to it (HvCallConnectPort). VP 0 of a small 32-bit child stores the TSC
// in a page it shares with the root, then makes the fast SignalEvent hypercall through its
// hypercall page; the root's handler for the SINT's vector stores the TSC at entry. With one
// processor the path is: the child's hypercall exits, the hypervisor sets the flag in the root's
// SIEFP and raises the SINT on root VP 0, DispatchVp returns because the root now has an
// interrupt it can take (hv/virt/child_vp.cpp), and the root takes it at the instruction after
// its DispatchVp call. The root and the child read the same TSC (neither offsets it).
// VP 1 of the same child times two null hypercalls (call code 0, TLFS 3.8: INVALID_HYPERCALL_CODE
// after the full entry checks) per loop through the same hypercall page.
#include "tests/guest/partitions_env.hpp"

#include "hypercalls/abi/tlfs.hpp"

// The child's code (32-bit, paging off: flat32), its data page and the root's handlers. The
// child addresses its pages absolutely (child GPAs below); labels give the root the offsets.
asm(R"(
    .set CODE_GPA,    0x1000
    .set HC_GPA,      0x2000          # the hypercall page (the hypervisor writes VMCALL/VMMCALL; RET)
    .set DATA,        0x3000          # shared with the root: see struct ChildData
    .set SENT_TSC,    DATA + 0x00
    .set SENT_COUNT,  DATA + 0x08
    .set SIG_STATUS,  DATA + 0x0c
    .set CONNECTION,  DATA + 0x10
    .set NULL_LOOPS,  DATA + 0x14
    .set NULL_LEFT,   DATA + 0x18
    .set NULL_STATUS, DATA + 0x1c
    .set NULL_T0,     DATA + 0x20
    .set NULL_T1,     DATA + 0x28

    .pushsection .rodata.bench_child, "a"
    .globl bench_child_code, bench_child_signal, bench_child_null, bench_child_out, bench_child_end
bench_child_code:
    .code32
bench_child_signal:                   # VP 0
    call 9f
1:  rdtsc                             # the start of the measured path: just before the call
    mov %eax, SENT_TSC
    mov %edx, SENT_TSC + 4
    incl SENT_COUNT
    mov $0x1005d, %eax                # control, EDX:EAX: HvSignalEvent (0x5d), fast (bit 16), TLFS 3.7
    xor %edx, %edx
    mov CONNECTION, %ecx              # input, EBX:ECX: connection id, flag number 0
    xor %ebx, %ebx
    xor %esi, %esi
    xor %edi, %edi
    call *%ebp
    mov %eax, SIG_STATUS
    jmp 1b

bench_child_null:                     # VP 1: one batch per dispatch, ended by an OUT the root takes
    call 9f
2:  mov NULL_LOOPS, %eax
    mov %eax, NULL_LEFT
    rdtsc
    mov %eax, NULL_T0
    mov %edx, NULL_T0 + 4
3:  xor %eax, %eax                    # control 0: no such call; no input or output pages
    xor %edx, %edx
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %esi, %esi
    xor %edi, %edi
    call *%ebp
    mov %eax, NULL_STATUS
    xor %eax, %eax
    xor %edx, %edx
    call *%ebp
    decl NULL_LEFT
    jnz 3b
    rdtsc
    mov %eax, NULL_T1
    mov %edx, NULL_T1 + 4
    mov $0x5a0, %dx
bench_child_out:
    out %al, %dx
    jmp 2b

9:  mov $0x40000000, %ecx             # guest OS ID: non-zero before the hypercall page (TLFS 3.13)
    mov $1, %eax
    mov $0x81000000, %edx
    wrmsr
    mov $0x40000001, %ecx             # hypercall page at HC_GPA, enabled
    mov $(HC_GPA | 1), %eax
    xor %edx, %edx
    wrmsr
    mov $HC_GPA, %ebp
    ret
    .code64
bench_child_end:
    .popsection

    .text
    .globl bench_sint_entry, bench_stray_entry, bench_spurious_entry
bench_sint_entry:                     # the SINT's vector: the end of the measured path
    push %rax
    push %rcx
    push %rdx
    rdtsc
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, bench_sint_tsc(%rip)
    incq bench_sint_count(%rip)
    mov bench_sint_flags(%rip), %rax
    lock andq $-2, (%rax)             # flag 0 taken: the next signal raises the SINT again (TLFS 11.x)
    jmp 4f
bench_stray_entry:                    # any other vector: counted, so the run can say so
    push %rax
    push %rcx
    push %rdx
    incq bench_stray_count(%rip)
4:  mov $0x80b, %ecx                  # x2APIC EOI (SDM vol 3 11.12.1.2): the SINT is not auto-EOI
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    iretq
bench_spurious_entry:                 # no EOI for a spurious interrupt (SDM vol 3 11.9)
    iretq
)");

extern "C" {
extern const uint8_t bench_child_code[], bench_child_signal[], bench_child_null[], bench_child_out[],
    bench_child_end[];
void bench_sint_entry();
void bench_stray_entry();
void bench_spurious_entry();
uint64_t bench_sint_tsc, bench_sint_count, bench_stray_count;
uint64_t* bench_sint_flags;
}

namespace pt {
namespace {

constexpr uint64_t hc_gpa = 0x2000, data_gpa = 0x3000; // as in the asm above
struct ChildData {                                     // at DATA
    uint64_t sent_tsc;
    uint32_t sent_count, sig_status, connection, null_loops, null_left, null_status;
    uint64_t null_t0, null_t1;
};
static_assert(__builtin_offsetof(ChildData, null_t0) == 0x20);

constexpr uint32_t batches = 15, signals = 200, null_loops = 200;
constexpr uint32_t sint = 3;         // the root's SINT for the port
constexpr uint8_t vector = 0x40;     // its vector; the root must avoid 0xef and 0xf0
constexpr uint32_t port_id = 0x51, connection_id = 0x52;

// The runtime's exception gates (0-31) stay; every other vector gets a gate, ours or the stray one.
void install_gates() {
    for (unsigned v = 32; v < 255; v++)
        rt::set_interrupt_gate(static_cast<uint8_t>(v), v == vector ? bench_sint_entry : bench_stray_entry);
    rt::set_interrupt_gate(255, bench_spurious_entry);   // the SVR's spurious vector at reset (SDM vol 3 11.9)
}
void remove_gates() {
    for (unsigned v = 32; v < 256; v++)
        rt::set_interrupt_gate(static_cast<uint8_t>(v), nullptr);
}

Ret create_event_port(uint64_t child) {
    auto& in = fresh<abi::CreatePortInput>();
    in.port_partition_id = root_id;
    in.port_id = port_id;
    in.connection_partition_id = child; // only this child may connect
    in.port_info.type = abi::PortType::event;
    in.port_info.info.event.target_sint = sint;
    in.port_info.info.event.target_vp = 0;
    in.port_info.info.event.base_flag_number = 0;
    in.port_info.info.event.flag_count = 1;
    return raw(tlfs::call::create_port);
}

Ret connect_child(uint64_t child) {
    auto& in = fresh<abi::ConnectPortInput>();
    in.connection_partition_id = child;
    in.connection_id = connection_id;
    in.port_partition_id = root_id;
    in.port_id = port_id;
    in.connection_info.type = abi::PortType::event;
    return raw(tlfs::call::connect_port);
}

Ret delete_port() {
    fresh<abi::DeletePortInput>() = {root_id, port_id, 0};
    return raw(abi::call_code::delete_port);
}

uint64_t load(const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_ACQUIRE); }

// One signal per DispatchVp: the child's store, the hypercall, DispatchVp's return and the
// handler; `root_cycles` gets what one round costs the root, dispatch included (for the diag).
bool measure_signals(uint64_t id, volatile ChildData& d, uint64_t* per_batch, uint64_t& root_cycles) {
    uint64_t rounds[batches];
    bool ok = true;
    Dispatched o;
    for (uint32_t b = 0; b < batches && ok; b++) {
        uint64_t sum = 0, t0 = rt::rdtsc();
        for (uint32_t i = 0, tries = 0; i < signals && ok; tries++) {
            ok = tries < 4 * signals; // a child that never signals must not hold the suite
            uint64_t seen = load(bench_sint_count);
            uint32_t sent = d.sent_count;
            ok = ok && dispatch(id, 0, o).ok();
            // Another reason to return (the slice, an interrupt for the root) before the signal:
            // dispatch again; a round counts only with exactly one signal and one handler run.
            if (ok && load(bench_sint_count) == seen)
                continue;
            ok = ok && load(bench_sint_count) == seen + 1 && d.sent_count == sent + 1 && d.sig_status == 0 &&
                 o.head.state == abi::DispatchState::ready && o.head.event == abi::DispatchEvent::suspend;
            sum += load(bench_sint_tsc) - d.sent_tsc;
            i++;
        }
        rounds[b] = (rt::rdtsc() - t0) / signals;
        per_batch[b] = sum / signals;
    }
    root_cycles = median_of(rounds, batches);
    return ok;
}

// Batches of `null_loops` pairs of null hypercalls, timed by the child, one batch per dispatch.
bool measure_nulls(uint64_t id, volatile ChildData& d, uint64_t code_gpa, uint64_t* per_batch) {
    const uint64_t out_rip = code_gpa + static_cast<uint64_t>(bench_child_out - bench_child_code);
    Dispatched o;
    bool ok = true;
    for (uint32_t b = 0; b <= batches && ok; b++) { // batch 0 warms up
        ok = dispatch_until_event(id, 1, o).ok() && o.type() == abi::MessageType::x64_io_port_intercept &&
             o.header().rip == out_rip && d.null_status == static_cast<uint32_t>(Status::invalid_hypercall_code);
        if (b)
            per_batch[b - 1] = (d.null_t1 - d.null_t0) / null_loops;
        ok = ok && complete(id, 1, out_rip + 1).ok();
    }
    return ok;
}

} // namespace

SignalFigures measure_signal_event(const uint64_t* deposit_list, uint16_t deposit_pages) {
    SignalFigures f{};
    // The root's SynIC on this VP: SIEFP on, the SINT unmasked on `vector` (TLFS 11.8).
    uint64_t siefp = page();
    bench_sint_flags = static_cast<uint64_t*>(rt::pages::ptr(siefp + sint * 256));
    install_gates();
    rt::wrmsr(tlfs::msr::scontrol, 1);
    rt::wrmsr(tlfs::msr::siefp, siefp | 1);
    rt::wrmsr(tlfs::msr::sint0 + sint, vector);

    // The child: code at 0x1000, the hypercall page at 0x2000, the shared data at 0x3000.
    uint64_t pages[3] = {page(), page(), page()};
    auto* code = static_cast<uint8_t*>(rt::pages::ptr(pages[0]));
    __builtin_memset(code, 0xf4, 4096); // hlt anywhere else: a stray jump stops
    __builtin_memcpy(code, bench_child_code, static_cast<size_t>(bench_child_end - bench_child_code));
    auto& d = *static_cast<volatile ChildData*>(rt::pages::ptr(pages[2]));
    d.connection = connection_id;
    d.null_loops = null_loops;

    constexpr uint32_t rwx = abi::map_flag::readable | abi::map_flag::writable | abi::map_flag::executable;
    auto entry = [](const uint8_t* at, uint64_t stack) {
        abi::InitialVpContext c = flat32(child_code_gpa + static_cast<uint64_t>(at - bench_child_code));
        c.rsp = stack; // one stack each: a VP may stop with its return address on it
        return c;
    };
    uint64_t id = 0;
    f.ok = create(id).ok() && deposit(id, deposit_list, deposit_pages).ok() && initialize(id).ok() &&
           intercept(id, abi::access_mask::read | abi::access_mask::write, 0, port_out).ok() &&
           create_vp(id, 0).ok() && create_vp(id, 1).ok() && map(id, child_code_gpa, rwx, pages, 3).ok() &&
           create_event_port(id).ok() && connect_child(id).ok() &&
           start_vp(id, 0, entry(bench_child_signal, child_code_gpa + 0xff0)).ok() &&
           start_vp(id, 1, entry(bench_child_null, child_code_gpa + 0xbf0)).ok();
    static_assert(hc_gpa == child_code_gpa + 0x1000 && data_gpa == child_code_gpa + 0x2000);

    uint64_t samples[batches];
    asm volatile("sti" ::: "memory"); // the handler runs as DispatchVp returns
    uint64_t round = 0;
    f.signal_ok = f.ok && measure_signals(id, d, samples, round);
    f.signal = median_of(samples, batches);
    f.root_round = round;
    asm volatile("cli" ::: "memory");
    f.null_ok = f.ok && measure_nulls(id, d, child_code_gpa, samples);
    f.null_x2 = median_of(samples, batches);
    f.strays = load(bench_stray_count);

    static_cast<void>(remove(id));
    static_cast<void>(delete_port());
    rt::wrmsr(tlfs::msr::sint0 + sint, (1ull << 16) | vector); // masked (vector 0 would #GP)
    rt::wrmsr(tlfs::msr::siefp, 0);
    rt::wrmsr(tlfs::msr::scontrol, 0);
    remove_gates();
    return f;
}

} // namespace pt
