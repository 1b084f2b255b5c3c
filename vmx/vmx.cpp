#include "vmx/vmx.hpp"

#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/percpu.hpp"
#include "vmx/vmcs.hpp"

namespace vmx {

namespace {

Capabilities capabilities;
Detection detection;
bool detected = false;
Processor processors[hv::max_processors];

constexpr uint64_t cr4_vmxe = 1u << 13, cr4_osxsave = 1u << 18;
constexpr uint64_t feature_lock = 1, feature_vmx_outside_smx = 4;

// What this backend cannot run without (vcpu.cpp asks for the same bits and more).
constexpr uint32_t need_pin = pin_external_interrupt_exiting | pin_nmi_exiting | pin_virtual_nmis;
constexpr uint32_t need_primary = primary_hlt_exiting | primary_use_io_bitmaps | primary_use_msr_bitmaps |
                                  primary_secondary_controls;
constexpr uint32_t need_secondary = secondary_enable_ept | secondary_unrestricted_guest;
constexpr uint32_t need_exit = exit_host_address_space_size | exit_ack_interrupt_on_exit |
                               exit_save_efer | exit_load_efer;
constexpr uint32_t need_entry = entry_ia32e_mode_guest | entry_load_efer;

Detection refuse(const char* why) { return {false, why}; }

// XSAVE components whose layout fits the 4 KiB area each Vcpu keeps (CPUID 0xD.i: EAX size,
// EBX offset, SDM vol 1 13.4); larger ones (AMX tiles) are left out of the guest's XCR0.
void probe_xsave(Capabilities& c) {
    if (!(hv::x86::cpuid(1).ecx & (1u << 26)))
        return;
    auto d = hv::x86::cpuid(0xd, 0);
    uint64_t supported = (static_cast<uint64_t>(d.edx) << 32) | d.eax;
    uint64_t fits = supported & 3;   // x87 and SSE live in the 512-byte legacy area
    uint32_t end = 576;              // legacy area + XSAVE header
    for (uint32_t i = 2; i < 63; ++i) {
        if (!(supported & (1ull << i)))
            continue;
        auto comp = hv::x86::cpuid(0xd, i);
        if (comp.ecx & 1)            // supervisor component (XSS): not in XCR0
            continue;
        if (comp.ebx + comp.eax > 4096)
            continue;
        fits |= 1ull << i;
        end = comp.ebx + comp.eax > end ? comp.ebx + comp.eax : end;
    }
    // Drop dependants whose partners did not fit (AMX pair, AVX-512 triple).
    while (!xcr0_valid(fits, fits) && fits > 3)
        fits &= ~(1ull << (63 - __builtin_clzll(fits)));
    c.xsave = true;
    c.xcr0_supported = fits;
    c.xsave_bytes = end;
}

Detection run_detection(Capabilities& c) {
    using hv::x86::rdmsr;
    if (!(hv::x86::cpuid(1).ecx & (1u << 5)))
        return refuse("vmx: CPUID.1:ECX.VMX[5] is clear: this processor has no VT-x");
    uint64_t fc = rdmsr(hv::x86::msr::feature_control);
    if (!(fc & feature_lock)) {
        hv::x86::wrmsr(hv::x86::msr::feature_control, fc | feature_lock | feature_vmx_outside_smx);
        fc = rdmsr(hv::x86::msr::feature_control);
    }
    if (!(fc & feature_vmx_outside_smx))
        return refuse("vmx: IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled "
                      "(enable VT-x in the firmware setup)");
    uint64_t basic = rdmsr(msr::vmx_basic);
    c.revision = basic_revision(basic);
    c.true_controls = (basic & basic_true_controls) != 0;
    // A.3: the TRUE_* MSRs may allow clearing default-1 controls (CR3 exiting and the like).
    c.pin = rdmsr(c.true_controls ? msr::true_pinbased_ctls : msr::pinbased_ctls);
    c.primary = rdmsr(c.true_controls ? msr::true_procbased_ctls : msr::procbased_ctls);
    c.exit = rdmsr(c.true_controls ? msr::true_exit_ctls : msr::exit_ctls);
    c.entry = rdmsr(c.true_controls ? msr::true_entry_ctls : msr::entry_ctls);
    c.misc = rdmsr(msr::misc);
    c.cr0_fixed0 = rdmsr(msr::cr0_fixed0);
    c.cr0_fixed1 = rdmsr(msr::cr0_fixed1);
    c.cr4_fixed0 = rdmsr(msr::cr4_fixed0);
    c.cr4_fixed1 = rdmsr(msr::cr4_fixed1);
    if (!(allowed1(c.primary) & primary_secondary_controls))
        return refuse("vmx: no secondary processor-based controls (no EPT)");
    c.secondary = rdmsr(msr::procbased_ctls2);
    c.ept_vpid = rdmsr(msr::ept_vpid_cap);
    probe_xsave(c);
    if (adjust_controls(need_pin, c.pin).unsupported)
        return refuse("vmx: pin-based controls lack external-interrupt/NMI exiting or virtual NMIs");
    if (adjust_controls(need_primary, c.primary).unsupported)
        return refuse("vmx: primary controls lack HLT exiting or I/O / MSR bitmaps");
    if (adjust_controls(need_secondary, c.secondary).unsupported)
        return refuse("vmx: secondary controls lack EPT or unrestricted guest");
    if (adjust_controls(need_exit, c.exit).unsupported)
        return refuse("vmx: exit controls lack 64-bit host, acknowledge-interrupt or EFER switching");
    if (adjust_controls(need_entry, c.entry).unsupported)
        return refuse("vmx: entry controls lack IA-32e guest or EFER loading");
    if (!(c.ept_vpid & ept_walk_4) || !(c.ept_vpid & ept_wb))
        return refuse("vmx: EPT lacks 4-level walks or write-back paging structures");
    if (!(c.ept_vpid & ept_invept) || !(c.ept_vpid & ept_invept_all))
        return refuse("vmx: no INVEPT all-context");
    return {true, nullptr};
}

} // namespace

Detection detect() {
    if (!detected) {
        detection = run_detection(capabilities);
        detected = true;
    }
    return detection;
}

const Capabilities& caps() { return capabilities; }

bool enable_processor(PhysAddr vmxon_region, void* vmxon_virt) {
    using namespace hv::x86;
    Detection d = detect();
    if (!d.usable) {
        hv::console::log("%s\n", d.reason);
        return false;
    }
    if (rdmsr(hv::x86::msr::gs_base) == 0) {
        hv::console::log("vmx: per-processor state (GS base) not set up before enable_processor\n");
        return false;
    }
    hv::PerCpu& cpu = hv::this_cpu();
    Processor& p = processors[cpu.index];
    if (p.on)
        return true;
    const Capabilities& c = capabilities;
    // 23.8: CR0 and CR4 must hold the fixed bits throughout VMX operation.
    write_cr0(apply_fixed(read_cr0(), c.cr0_fixed0, c.cr0_fixed1));
    uint64_t cr4 = read_cr4() | cr4_vmxe | (c.xsave ? cr4_osxsave : 0);
    write_cr4(apply_fixed(cr4, c.cr4_fixed0, c.cr4_fixed1));
    *static_cast<uint32_t*>(vmxon_virt) = c.revision;   // 24.11.5: revision in the first dword
    uint64_t pa = vmxon_region.raw();
    bool fail;
    asm volatile("vmxon %[pa]" : "=@ccbe"(fail) : [pa] "m"(pa) : "memory");
    if (fail) {
        hv::console::log("vmx: VMXON failed (region %lx)\n", pa);
        return false;
    }
    p.on = true;
    p.vmxon_region = vmxon_region;
    p.current_vmcs = nullptr;
    p.context_owner = nullptr;
    p.xcr0 = 1;
    if (c.xsave)
        asm volatile("xsetbv" : : "c"(0), "a"(1), "d"(0) : "memory");
    cpu.virt_state = &p;
    invept(2, 0);   // stale translations from an earlier VMX session on this processor
    return true;
}

void disable_processor() {
    Processor* p = current_processor();
    if (!p || !p->on)
        return;
    asm volatile("vmxoff" ::: "cc", "memory");
    hv::x86::write_cr4(hv::x86::read_cr4() & ~cr4_vmxe);
    p->on = false;
    p->current_vmcs = nullptr;
    p->context_owner = nullptr;
}

Processor* current_processor() {
    if (hv::x86::rdmsr(hv::x86::msr::gs_base) == 0)
        return nullptr;
    return static_cast<Processor*>(hv::this_cpu().virt_state);
}

// The 128-bit descriptor of INVEPT / INVVPID (vol 3 ch. 30).
void invept(uint64_t type, uint64_t eptp) {
    struct { uint64_t eptp, reserved; } desc{eptp, 0};
    asm volatile("invept %[d], %[t]" : : [d] "m"(desc), [t] "r"(type) : "cc", "memory");
}

void invvpid(uint64_t type, uint16_t vpid) {
    struct { uint64_t vpid, address; } desc{vpid, 0};
    asm volatile("invvpid %[d], %[t]" : : [d] "m"(desc), [t] "r"(type) : "cc", "memory");
}

} // namespace vmx
