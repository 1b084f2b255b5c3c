// The checks one child can make from inside without ending itself (docs/child-partitions.md,
// "Isolation tests"): what CPUID and the MSRs tell it of its privileges and of VT-x/AMD-V, that
// every root-only hypercall is refused from every VP, that a hypercall cannot read or write
// memory outside its RAM, that it cannot name another partition or another VP of its own, and
// that its RAM is its own to write.
#include "tests/guest/isolation/isolation.hpp"

#include "tests/guest/isolation/hypercall.hpp"

extern "C" void* memset(void* d, int c, size_t n);

namespace iso {
namespace {

namespace priv = tlfs::privilege;
using tlfs::Status;
constexpr uint16_t access_denied = static_cast<uint16_t>(Status::access_denied);
constexpr uint16_t success = static_cast<uint16_t>(Status::success);
constexpr uint32_t vector_ud = 6, vector_gp = 13;
constexpr uint32_t msr_feature_control = 0x3a, msr_vmx_basic = 0x480, msr_efer = 0xc0000080,
                   msr_vm_cr = 0xc0010114, msr_vm_hsave_pa = 0xc0010117;
constexpr uint64_t efer_svme = 1ull << 12;

// What each VP found (filled by the VP itself; the bootstrap VP reports them all).
struct VpResult {
    volatile bool ran;
    bool cpuid_ok;        // no CreatePartitions / CpuManagement / VMX / SVM
    bool root_calls_ok;   // every root-only call answered ACCESS_DENIED
    uint64_t partition_id;
    uint16_t first_bad_code, first_bad_status;
} results[max_cpus];

uint32_t own_page;   // a scratch page of the child's own RAM the root-only calls name

struct MsrAccess {
    uint32_t msr;
    uint64_t value;
};
void read_msr(void* a) {
    auto* m = static_cast<MsrAccess*>(a);
    m->value = rdmsr(m->msr);
}
void write_msr(void* a) {
    auto* m = static_cast<MsrAccess*>(a);
    wrmsr(m->msr, m->value);
}
void vmxon(void*) {
    alignas(8) static uint64_t region = 0;
    asm volatile("vmxon %0" : : "m"(region) : "memory");
}
void vmrun(void*) { asm volatile("vmrun" : : "a"(0) : "memory"); }

int fault_of_read(uint32_t msr, uint64_t& value) {
    MsrAccess m{msr, 0};
    int v = try_run(read_msr, &m);
    value = m.value;
    return v;
}
int fault_of_write(uint32_t msr, uint64_t value) {
    MsrAccess m{msr, value};
    return try_run(write_msr, &m);
}

bool cpuid_hides_privileges_and_virtualization() {
    Cpuid f = cpuid(tlfs::cpuid::features);
    uint64_t mask = uint64_t{f.ebx} << 32 | f.eax;
    return !(mask & priv::create_partitions) && !(mask & priv::cpu_management) && !(cpuid(1).ecx & (1u << 5)) &&
           !(cpuid(0x80000001).ecx & (1u << 2));
}

void vp_checks(uint32_t cpu) {
    VpResult& r = results[cpu];
    r.cpuid_ok = cpuid_hides_privileges_and_virtualization();
    r.root_calls_ok = true;
    uint16_t s = hc::get_partition_id(cpu, r.partition_id);
    if (s != success)
        r.partition_id = ~0ull;
    for (const hc::RootCall& c : hc::root_calls) {
        uint16_t st = hc::root_call(cpu, c, r.partition_id, own_page);
        if (st != access_denied && r.root_calls_ok) {
            r.root_calls_ok = false;
            r.first_bad_code = c.code;
            r.first_bad_status = st;
        }
    }
    __atomic_store_n(&r.ran, true, __ATOMIC_RELEASE);
}

void ap_main(uint32_t number) { vp_checks(number); }

// GetVpRegisters (0x50) of RIP: header {partition, vp}, one name; output one 16-byte value.
uint16_t get_rip(uint64_t partition, uint32_t vp, uint32_t in_gpa, uint32_t out_gpa) {
    hc::Pages& p = hc::pages(0);
    memset(p.in, 0, 64);
    auto* hdr = reinterpret_cast<tlfs::VpRegistersInput*>(p.in);
    hdr->partition_id = partition;
    hdr->vp_index = vp;
    *reinterpret_cast<uint32_t*>(p.in + 16) = static_cast<uint32_t>(tlfs::root::RegisterName::rip);
    return hc::status(hc::raw(tlfs::control::make(tlfs::call::get_vp_registers, false, 1), in_gpa, out_gpa));
}

bool output_untouched() {
    hc::Pages& p = hc::pages(0);
    for (uint32_t i = 0; i < 16; i++)
        if (p.out[i] != 0xa5)
            return false;
    return true;
}

// Every page from the end of the image to the end of RAM: a stamp written, then read back.
bool ram_writable(uint32_t ram_end) {
    uint32_t start = reinterpret_cast<uint32_t>(iso_image_end);
    for (uint32_t a = start; a < ram_end; a += page)
        stamp(a, 0x150000ffu, a / page);
    for (uint32_t a = start; a < ram_end; a += page)
        if (!stamped(a, 0x150000ffu, a / page))
            return false;
    return true;
}

} // namespace

uint32_t run_suite(const Boot& boot) {
    constexpr uint32_t planned = 30 + hc::root_call_count;
    ktap_begin(planned);
    ktap_check(boot.magic_ok && boot.ram_end > 0x100000, "the loader's magic is 0x2BADB002 and it gave a memory size");
    diag("RAM ends at", boot.ram_end);
    own_page = reinterpret_cast<uint32_t>(iso_image_end);

    // CPUID (TLFS 2.4): a hypervisor, but none of the root's privileges, and no VT-x or AMD-V.
    Cpuid vendor = cpuid(tlfs::cpuid::vendor);
    ktap_check((cpuid(1).ecx & (1u << 31)) && vendor.ebx == 0x7263694d && vendor.ecx == 0x666f736f &&
                   vendor.edx == 0x76482074,
               "CPUID names the hypervisor \"Microsoft Hv\"");
    Cpuid features = cpuid(tlfs::cpuid::features);
    diag("CPUID 0x40000003 EAX", features.eax);
    diag("CPUID 0x40000003 EBX", features.ebx);
    ktap_check(!(features.ebx & (1u << 0)), "CPUID 0x40000003 EBX lacks CreatePartitions (bit 0)");
    ktap_check(!(features.ebx & (1u << 12)), "CPUID 0x40000003 EBX lacks CpuManagement (bit 12)");
    ktap_check(features.eax & (1u << 5), "CPUID 0x40000003 EAX offers the hypercall MSRs (bit 5)");
    ktap_check(!(cpuid(1).ecx & (1u << 5)), "CPUID 1 ECX hides VMX (bit 5)");
    ktap_check(!(cpuid(0x80000001).ecx & (1u << 2)), "CPUID 0x80000001 ECX hides SVM (bit 2)");
    Cpuid svm_leaf = cpuid(0x8000000a);
    ktap_check((svm_leaf.eax | svm_leaf.ebx | svm_leaf.ecx | svm_leaf.edx) == 0, "CPUID 0x8000000A (SVM features) reads zero");

    // The MSRs and instructions of VT-x and AMD-V (SDM vol 3 23.7, APM 15.4): none usable.
    uint64_t v = 0;
    int f = fault_of_read(msr_feature_control, v);
    ktap_check(f == static_cast<int>(vector_gp) || (f == no_fault && !(v & 6)),
               "IA32_FEATURE_CONTROL enables no VMX (or raises #GP)");
    ktap_check(fault_of_read(msr_vmx_basic, v) == static_cast<int>(vector_gp), "reading IA32_VMX_BASIC raises #GP");
    f = fault_of_read(msr_vm_cr, v);
    ktap_check(f == static_cast<int>(vector_gp) || (f == no_fault && (v & (1u << 4))), "VM_CR reads SVMDIS (or raises #GP)");
    ktap_check(fault_of_write(msr_vm_hsave_pa, 0x200000) == static_cast<int>(vector_gp), "writing VM_HSAVE_PA raises #GP");
    uint64_t efer = 0;
    f = fault_of_read(msr_efer, efer);
    diag("EFER", static_cast<uint32_t>(efer));
    ktap_check(f == no_fault && !(efer & efer_svme), "EFER reads without SVME");
    ktap_check(fault_of_write(msr_efer, efer | efer_svme) == static_cast<int>(vector_gp), "setting EFER.SVME raises #GP");
    // Setting CR4.VMXE is probe=cr4-vmxe (probes.cpp): on QEMU's AMD-V it ends the child.
    f = try_run(vmxon, nullptr);
    ktap_check(f == static_cast<int>(vector_ud) || f == static_cast<int>(vector_gp), "VMXON raises #UD or #GP");
    f = try_run(vmrun, nullptr);
    ktap_check(f == static_cast<int>(vector_ud) || f == static_cast<int>(vector_gp), "VMRUN raises #UD or #GP");

    // The hypercall page (TLFS 3.13; docs/hypercalls.md): never outside the child's own RAM.
    wrmsr(tlfs::msr::guest_os_id, 0x0001040a00000001ull);
    bool refused = fault_of_write(tlfs::msr::hypercall, boot.ram_end | 1) == static_cast<int>(vector_gp) &&
                   fault_of_write(tlfs::msr::hypercall, hv_pool_gpa | 1) == static_cast<int>(vector_gp);
    ktap_check(refused && !(rdmsr(tlfs::msr::hypercall) & 1),
               "the hypercall page MSR refuses pages past its RAM (#GP, stays disabled)");
    bool enabled = hc::enable();
    ktap_check(enabled, "the hypercall interface enables on a page of its RAM");
    if (!enabled) {
        mb1::print("# without the hypercall interface the remaining checks cannot run\n");
        return 1;
    }
    uint64_t id = 0;
    uint16_t s = hc::get_partition_id(0, id);
    diag("partition id", static_cast<uint32_t>(id));
    ktap_check(s == success && id > 1, "GetPartitionId answers with its own id");

    // Every root-only call, from the bootstrap VP, with an input naming itself.
    for (const hc::RootCall& c : hc::root_calls) {
        uint16_t st = hc::root_call(0, c, id, own_page);
        if (st != access_denied)
            diag(c.name, st);
        ktap_check(st == access_denied, c.name);
    }
    bool all_denied = true;
    for (uint64_t other = 0; other <= 16; other++) {
        uint16_t st = hc::root_call(0, hc::root_calls[3], other, own_page);   // DeletePartition
        all_denied = all_denied && st == access_denied;
    }
    ktap_check(all_denied, "DeletePartition of every partition id 0-16 answers ACCESS_DENIED");

    // Hypercalls that may name memory or another partition or VP.
    hc::Pages& pg = hc::pages(0);
    uint32_t in = reinterpret_cast<uint32_t>(pg.in), out = reinterpret_cast<uint32_t>(pg.out);
    ktap_check(get_rip(tlfs::partition_id_self, 0, in, out) == success, "GetVpRegisters of its own VP succeeds");
    bool others = true;
    const uint64_t neighbours[] = {1, id - 1, id + 1};
    for (uint64_t other : neighbours) {
        memset(pg.out, 0xa5, 16);
        uint16_t st = get_rip(other, 0, in, out);
        if (st == success || !output_untouched()) {
            diag("GetVpRegisters of partition", static_cast<uint32_t>(other));
            diag("answered", st);
            others = false;
        }
    }
    ktap_check(others, "GetVpRegisters of the root or a neighbour (ids 1, own-1, own+1) fails and writes nothing");
    // Lists outside the child's RAM (step 6 of the checks in docs/hypercalls.md): the first page
    // past its RAM, the hypervisor's pool (host-physical top of RAM), the xAPIC page.
    const uint32_t outside[] = {boot.ram_end, hv_pool_gpa, 0xfee00000u};
    bool in_refused = true, out_refused = true;
    for (uint32_t gpa : outside) {
        in_refused = in_refused && get_rip(tlfs::partition_id_self, 0, gpa, out) == access_denied;
        // The header is read from the input page; the output names memory that is not the child's.
        get_rip(tlfs::partition_id_self, 0, in, out);
        out_refused = out_refused && hc::status(hc::raw(tlfs::control::make(tlfs::call::get_vp_registers, false, 1),
                                                       in, gpa)) == access_denied;
    }
    ktap_check(in_refused, "a hypercall input list outside its RAM answers ACCESS_DENIED");
    ktap_check(out_refused, "a hypercall output list outside its RAM answers ACCESS_DENIED");

    ktap_check(ram_writable(boot.ram_end), "every page of its RAM past the image keeps what it wrote");

    // The same from every VP.
    uint32_t n = cpu_count();
    vp_checks(0);
    uint32_t got = n > 1 ? start_aps(ap_main) : 1;
    for (uint32_t t = 0; t < 500 && got > 1; t++) {
        bool all = true;
        for (uint32_t i = 1; i < got; i++)
            all = all && __atomic_load_n(&results[i].ran, __ATOMIC_ACQUIRE);
        if (all)
            break;
        wait_ticks(1);
    }
    diag("VPs", n);
    ktap_check(got == n, "every VP starts and reports");
    if (n > 1) {
        memset(pg.out, 0xa5, 16);
        uint16_t st = get_rip(tlfs::partition_id_self, 1, in, out);
        if (st != access_denied)
            diag("GetVpRegisters of VP 1 answered", st);
        ktap_check(st == access_denied && output_untouched(), "GetVpRegisters of another of its VPs answers ACCESS_DENIED");
    } else {
        ktap_skip("GetVpRegisters of another of its VPs answers ACCESS_DENIED", "one VP");
    }
    bool cpuid_all = true, calls_all = true, id_all = true;
    for (uint32_t i = 0; i < got; i++) {
        const VpResult& r = results[i];
        cpuid_all = cpuid_all && r.ran && r.cpuid_ok;
        calls_all = calls_all && r.ran && r.root_calls_ok;
        id_all = id_all && r.ran && r.partition_id == id;
        if (r.ran && !r.root_calls_ok) {
            diag("VP", i);
            diag("root-only call", r.first_bad_code);
            diag("answered", r.first_bad_status);
        }
    }
    ktap_check(cpuid_all, "every VP: CPUID hides CreatePartitions, CpuManagement, VMX and SVM");
    ktap_check(calls_all, "every VP: every root-only call answers ACCESS_DENIED");
    ktap_check(id_all, "every VP: GetPartitionId answers the same id");
    return ktap_finish();
}

} // namespace iso
