// The root-only calls as the partitions suites make them (tests/guest/partitions_env.hpp): raw,
// one call each, so a test sees RAX as the hypervisor wrote it. The typed wrappers of the root
// kernel (partitions/root/calls.cpp) retry and hide rep counts; these must not.
#include "tests/guest/partitions_env.hpp"

namespace pt {
namespace {

namespace call = tlfs::call;
namespace hc = rt::hc;

Env the_env;

// The tiny child, 32-bit code at child GPA 0x1000 with paging off (offsets from the page).
constexpr uint8_t code_lifecycle[] = {
    0xf4,                         // 000 hlt                       -> blocked, halt message
    0xb8, 0x78, 0x56, 0x34, 0x12, // 001 mov eax, 0x12345678
    0x66, 0xba, 0xa0, 0x05,       // 006 mov dx, 0x5a0
    0xef,                         // 00a out dx, eax               -> I/O write, 4 bytes
    0x42,                         // 00b inc edx
    0xec,                         // 00c in al, dx                 -> I/O read 0x5a1, 1 byte
    0xfe, 0xc0,                   // 00d inc al
    0x4a,                         // 00f dec edx
    0xee,                         // 010 out dx, al                -> I/O write, the root's value + 1
    0xa1, 0x00, 0x00, 0x20, 0x00, // 011 mov eax, [0x200000]       -> unmapped GPA
    0xf4,                         // 016 hlt
    0xeb, 0xfe,                   // 017 jmp $
};
constexpr uint8_t code_spin[] = {
    0xc7, 0x05, 0x00, 0x18, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // 040 mov dword [0x1800], 1
    0x83, 0x3d, 0x04, 0x18, 0x00, 0x00, 0x00,                   // 04a cmp dword [0x1804], 0
    0x74, 0xf7,                                                 // 051 je 04a
    0xf4,                                                       // 053 hlt
    0xeb, 0xfe,                                                 // 054 jmp $
};
constexpr uint8_t code_ap[] = {
    0x66, 0xba, 0xb0, 0x05, // 080 mov dx, 0x5b0
    0xee,                   // 084 out dx, al
    0xf4,                   // 085 hlt
    0xeb, 0xfe,             // 086 jmp $
};
constexpr uint8_t code_out_loop[] = {
    0x66, 0xba, 0xa0, 0x05, // 0c0 mov dx, 0x5a0
    0xee,                   // 0c4 out dx, al                  -> the root
    0xeb, 0xfd,             // 0c5 jmp 0c4
};
constexpr uint8_t code_cpuid_loop[] = {
    0xbe, 0xd0, 0x07, 0x00, 0x00, // 100 mov esi, 2000 (patched: cpuid_count_at)
    0x31, 0xc0,                   // 105 xor eax, eax
    0x0f, 0xa2,                   // 107 cpuid                     -> the hypervisor, no return to the root
    0x4e,                         // 109 dec esi
    0x75, 0xf9,                   // 10a jnz 105
    0x66, 0xba, 0xa0, 0x05,       // 10c mov dx, 0x5a0
    0xee,                         // 110 out dx, al                -> the root, once per batch
    0xeb, 0xed,                   // 111 jmp 100
};
static_assert(sizeof code_lifecycle == 0x19 && sizeof code_spin == 0x16 && sizeof code_cpuid_loop == 0x13);

struct ApSlot {
    ApFn fn;
    void* arg;
    uint32_t seq, done;
};
ApSlot ap_slots[root_abi::kMaxProcessors];

} // namespace

Env& env() {
    return the_env;
}

uint8_t* fresh_input(uint32_t bytes) {
    __builtin_memset(hc::input_bytes(), 0, bytes);
    return hc::input_bytes();
}

Ret raw(uint16_t code, uint16_t reps, uint16_t start) {
    hc::CpuPages& c = hc::cpu();
    return {hc::raw(tlfs::control::make(code, false, reps, start), c.in_gpa, c.out_gpa)};
}

Ret create(uint64_t& id, uint64_t isolation) {
    auto& in = fresh<abi::CreatePartitionInput>();
    in.compatibility_version = abi::compatibility_21h2;
    in.isolation_properties = isolation;
    __builtin_memset(hc::output_bytes(), 0, 8);
    Ret r = raw(call::create_partition);
    id = r.ok() ? hc::output<abi::CreatePartitionOutput>().partition_id : 0;
    return r;
}

namespace {
Ret id_call(uint16_t code, uint64_t id) {
    fresh<abi::PartitionIdInput>().partition_id = id;
    return raw(code);
}
} // namespace

Ret initialize(uint64_t id) {
    return id_call(call::initialize_partition, id);
}
Ret finalize(uint64_t id) {
    return id_call(call::finalize_partition, id);
}
Ret remove(uint64_t id) {
    return id_call(call::delete_partition, id);
}

Ret deposit(uint64_t id, const uint64_t* gpas, uint16_t n) {
    uint8_t* in = fresh_input();
    reinterpret_cast<abi::DepositMemoryInput*>(in)->partition_id = id;
    auto* list = reinterpret_cast<uint64_t*>(in + sizeof(abi::DepositMemoryInput));
    for (uint16_t i = 0; i < n; i++)
        list[i] = gpas[i] / abi::page_size;
    return raw(call::deposit_memory, n);
}

Ret withdraw(uint64_t id, uint16_t n, uint64_t* gpas_out) {
    fresh<abi::WithdrawMemoryInput>().partition_id = id;
    __builtin_memset(hc::output_bytes(), 0, 4096);
    Ret r = raw(call::withdraw_memory, n);
    const auto* list = reinterpret_cast<const uint64_t*>(hc::output_bytes());
    for (uint16_t i = 0; i < r.reps() && i < n; i++)
        gpas_out[i] = list[i] * abi::page_size;
    return r;
}

Ret map(uint64_t id, uint64_t child_gpa, uint32_t flags, const uint64_t* gpas, uint16_t n, uint32_t padding) {
    uint8_t* in = fresh_input();
    auto& h = *reinterpret_cast<abi::MapGpaPagesInput*>(in);
    h = {id, child_gpa / abi::page_size, flags, padding};
    auto* list = reinterpret_cast<uint64_t*>(in + sizeof h);
    for (uint16_t i = 0; i < n; i++)
        list[i] = gpas[i] / abi::page_size;
    return raw(call::map_gpa_pages, n);
}

Ret unmap(uint64_t id, uint64_t child_gpa, uint16_t n, uint32_t flags) {
    fresh<abi::UnmapGpaPagesInput>() = {id, child_gpa / abi::page_size, flags, 0};
    return raw(call::unmap_gpa_pages, n);
}

Ret intercept(uint64_t id, uint32_t access, uint32_t type, uint64_t param) {
    fresh<abi::InstallInterceptInput>() = {id, access, static_cast<abi::InterceptType>(type), param};
    return raw(call::install_intercept);
}

Ret create_vp(uint64_t id, uint32_t vp, uint64_t flags) {
    auto& in = fresh<abi::CreateVpInput>();
    in.partition_id = id;
    in.vp_index = vp;
    in.flags = flags;
    return raw(call::create_vp);
}

Ret delete_vp(uint64_t id, uint32_t vp) {
    fresh<abi::DeleteVpInput>() = {id, vp, 0};
    return raw(call::delete_vp);
}

Ret start_vp(uint64_t id, uint32_t vp, const abi::InitialVpContext& ctx, uint8_t vtl) {
    auto& in = fresh<abi::StartVpInput>();
    in.partition_id = id;
    in.vp_index = vp;
    in.target_vtl = vtl;
    in.context = ctx;
    return raw(call::start_vp);
}

Ret assert_irq(uint64_t id, uint32_t type, uint64_t dest, uint32_t vector, uint32_t flags) {
    auto& in = fresh<abi::AssertVirtualInterruptInput>();
    in.partition_id = id;
    in.control = {static_cast<abi::InterruptType>(type), flags};
    in.destination = dest;
    in.vector = vector;
    return raw(call::assert_virtual_interrupt);
}

Ret get_prop(uint64_t id, uint32_t code, uint64_t& value, uint32_t padding) {
    fresh<abi::GetPartitionPropertyInput>() = {id, static_cast<abi::PropertyCode>(code), padding};
    __builtin_memset(hc::output_bytes(), 0xee, 8);
    Ret r = raw(call::get_partition_property);
    value = r.ok() ? hc::output<abi::GetPartitionPropertyOutput>().value : ~0ull;
    return r;
}

Ret set_prop(uint64_t id, uint32_t code, uint64_t value) {
    fresh<abi::SetPartitionPropertyInput>() = {id, static_cast<abi::PropertyCode>(code), 0, value};
    return raw(call::set_partition_property);
}

Ret get_regs(uint64_t id, uint32_t vp, const uint32_t* names, uint64_t* values, uint16_t n, uint8_t vtl) {
    uint8_t* in = fresh_input();
    *reinterpret_cast<tlfs::VpRegistersInput*>(in) = {id, vp, vtl, {}};
    auto* list = reinterpret_cast<uint32_t*>(in + sizeof(tlfs::VpRegistersInput));
    for (uint16_t i = 0; i < n; i++)
        list[i] = names[i];
    Ret r = raw(call::get_vp_registers, n);
    const auto* v = reinterpret_cast<const tlfs::RegisterValue*>(hc::output_bytes());
    for (uint16_t i = 0; i < r.reps() && i < n; i++)
        values[i] = v[i].low;
    return r;
}

Ret set_regs(uint64_t id, uint32_t vp, const uint32_t* names, const uint64_t* values, uint16_t n,
             uint8_t vtl) {
    uint8_t* in = fresh_input();
    *reinterpret_cast<tlfs::VpRegistersInput*>(in) = {id, vp, vtl, {}};
    auto* list = reinterpret_cast<tlfs::RegisterAssoc*>(in + sizeof(tlfs::VpRegistersInput));
    for (uint16_t i = 0; i < n; i++)
        list[i] = {names[i], 0, 0, {values[i], 0}};
    return raw(call::set_vp_registers, n);
}

Ret dispatch(uint64_t id, uint32_t vp, Dispatched& out, uint32_t flags) {
    auto& in = fresh<abi::DispatchVpInput>();
    in.partition_id = id;
    in.vp_index = vp;
    in.flags = flags;
    in.time_slice = 100000; // 10 ms in 100 ns units
    __builtin_memset(hc::output_bytes(), 0, sizeof(Dispatched));
    Ret r = raw(call::dispatch_vp);
    __builtin_memcpy(&out, hc::output_bytes(), sizeof out);
    return r;
}

Ret dispatch_until_event(uint64_t id, uint32_t vp, Dispatched& out) {
    Ret r{};
    for (int i = 0; i < 100000; i++) {
        r = dispatch(id, vp, out);
        if (!r.ok() || out.head.state != abi::DispatchState::ready ||
            out.head.event != abi::DispatchEvent::suspend)
            return r;
    }
    return r;
}

Ret complete(uint64_t id, uint32_t vp, uint64_t next_rip) {
    const uint32_t names[] = {tlfs::reg::rip};
    return set_regs(id, vp, names, &next_rip, 1);
}

Ret complete_in(uint64_t id, uint32_t vp, uint64_t next_rip, uint64_t rax) {
    const uint32_t names[] = {tlfs::reg::rip, tlfs::reg::rax};
    const uint64_t values[] = {next_rip, rax};
    return set_regs(id, vp, names, values, 2);
}

Ledger ledger(uint64_t id) {
    Ledger l{0, 0, 0, 0, true};
    l.valid &= get_prop(id, prop_ledger_root, l.root).ok();
    l.valid &= get_prop(id, prop_ledger_mapped, l.mapped).ok();
    l.valid &= get_prop(id, prop_ledger_deposited, l.deposited).ok();
    l.valid &= get_prop(id, prop_ledger_partitions, l.partitions).ok();
    return l;
}

void write_child_code(uint64_t root_page) {
    auto* p = static_cast<uint8_t*>(rt::pages::ptr(root_page));
    __builtin_memset(p, 0xf4, 4096); // hlt everywhere else: a stray jump stops
    __builtin_memcpy(p + at_lifecycle, code_lifecycle, sizeof code_lifecycle);
    __builtin_memcpy(p + at_spin, code_spin, sizeof code_spin);
    __builtin_memcpy(p + at_ap, code_ap, sizeof code_ap);
    __builtin_memcpy(p + at_out_loop, code_out_loop, sizeof code_out_loop);
    __builtin_memcpy(p + at_cpuid_loop, code_cpuid_loop, sizeof code_cpuid_loop);
    __builtin_memset(p + flag_running, 0, 8);
}

abi::InitialVpContext flat32(uint64_t rip) {
    // What a Multiboot loader leaves (partitions/root/loader.cpp): flat 4 GiB segments, PE on,
    // paging off. Attributes in the TLFS (VMX access-rights) layout.
    abi::InitialVpContext x{};
    x.rip = rip;
    x.rsp = child_code_gpa + 0xff0;
    x.rflags = 2;
    x.cs = {0, 0xffffffff, 0x08, 0xc09b};
    x.ds = x.es = x.fs = x.gs = x.ss = {0, 0xffffffff, 0x10, 0xc093};
    x.tr = {0, 0x67, 0, 0x8b};
    x.ldtr = {0, 0xffff, 0, 0x82};
    x.idtr.limit = 0x3ff;
    x.gdtr.limit = 0xffff;
    x.cr0 = 0x11; // PE, ET
    x.msr_cr_pat = 0x0007040600070406ull;
    return x;
}

uint64_t page() {
    return rt::pages::alloc();
}

bool accessible(uint64_t gpa) {
    uint64_t v = 0x5aa5000000000000ull | gpa;
    return gpa && rt::probe_write64(gpa + 8, v).vector < 0 && rt::probe_read64(gpa + 8).value == v;
}

uint64_t ms_to_tsc(uint64_t ms) {
    return ms * rt::tsc_khz();
}

void run_on(uint32_t index, ApFn fn, void* arg) {
    ApSlot& s = ap_slots[index];
    s.fn = fn;
    s.arg = arg;
    __atomic_fetch_add(&s.seq, 1, __ATOMIC_RELEASE);
}

bool wait_done(uint32_t index, uint64_t ms) {
    ApSlot& s = ap_slots[index];
    for (uint64_t end = rt::rdtsc() + ms_to_tsc(ms); rt::rdtsc() < end;)
        if (__atomic_load_n(&s.done, __ATOMIC_ACQUIRE) == __atomic_load_n(&s.seq, __ATOMIC_ACQUIRE))
            return true;
    return false;
}

void ap_loop(uint32_t index) {
    hc::init_cpu(index);
    ApSlot& s = ap_slots[index];
    for (uint32_t seen = 0;;) {
        uint32_t seq = __atomic_load_n(&s.seq, __ATOMIC_ACQUIRE);
        if (seq == seen) {
            asm volatile("pause");
            continue;
        }
        s.fn(index, s.arg);
        seen = seq;
        __atomic_store_n(&s.done, seq, __ATOMIC_RELEASE);
    }
}

bool expect(suite::Reporter& r, const Ret& got, Status want, const char* name) {
    bool ok = got.status() == want;
    if (!ok)
        r.diag("%s: status 0x%x, expected 0x%x (rax %lx)", name, static_cast<unsigned>(got.status()),
               static_cast<unsigned>(want), got.rax);
    return r.check(ok, name);
}

bool expect_reps(suite::Reporter& r, const Ret& got, Status want, uint16_t reps, const char* name) {
    bool ok = got.status() == want && got.reps() == reps;
    if (!ok)
        r.diag("%s: status 0x%x reps %u, expected 0x%x reps %u", name, static_cast<unsigned>(got.status()),
               got.reps(), static_cast<unsigned>(want), reps);
    return r.check(ok, name);
}

uint64_t median_of(uint64_t* v, uint32_t n) {
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

} // namespace pt
