// The VMCS as the processor sees it: field encodings (Intel SDM vol 3 appendix B), the control
// bits this backend sets (24.6-24.8), exit reasons (appendix C) and one-instruction VMREAD /
// VMWRITE wrappers. The encoding of a field carries its width in bits 14:13 and its kind in
// bits 11:10 (24.11.2), which is why the groups below start at round numbers.
#pragma once
#include <stdint.h>

namespace vmx {

enum class VmcsField : uint32_t {
    // 16-bit control, guest, host (B.1)
    vpid = 0x0000,
    guest_es_selector = 0x0800,   // es, cs, ss, ds, fs, gs, ldtr, tr at +2 each (hv::virt::Seg order)
    guest_cs_selector = 0x0802,
    guest_ss_selector = 0x0804,
    guest_ds_selector = 0x0806,
    guest_fs_selector = 0x0808,
    guest_gs_selector = 0x080a,
    guest_ldtr_selector = 0x080c,
    guest_tr_selector = 0x080e,
    host_es_selector = 0x0c00,
    host_cs_selector = 0x0c02,
    host_ss_selector = 0x0c04,
    host_ds_selector = 0x0c06,
    host_fs_selector = 0x0c08,
    host_gs_selector = 0x0c0a,
    host_tr_selector = 0x0c0c,

    // 64-bit (B.2); the "high" half of each is encoding + 1
    io_bitmap_a = 0x2000,
    io_bitmap_b = 0x2002,
    msr_bitmap = 0x2004,
    exit_msr_store_address = 0x2006,
    exit_msr_load_address = 0x2008,
    entry_msr_load_address = 0x200a,
    tsc_offset = 0x2010,
    virtual_apic_address = 0x2012,
    apic_access_address = 0x2014,
    ept_pointer = 0x201a,
    xss_exiting_bitmap = 0x202c,
    guest_physical_address = 0x2400,
    vmcs_link_pointer = 0x2800,
    guest_debugctl = 0x2802,
    guest_pat = 0x2804,
    guest_efer = 0x2806,
    guest_perf_global_ctrl = 0x2808,
    guest_pdpte0 = 0x280a,
    guest_pdpte1 = 0x280c,
    guest_pdpte2 = 0x280e,
    guest_pdpte3 = 0x2810,
    host_pat = 0x2c00,
    host_efer = 0x2c02,
    host_perf_global_ctrl = 0x2c04,

    // 32-bit (B.3)
    pin_based_controls = 0x4000,
    primary_controls = 0x4002,
    exception_bitmap = 0x4004,
    page_fault_error_mask = 0x4006,
    page_fault_error_match = 0x4008,
    cr3_target_count = 0x400a,
    exit_controls = 0x400c,
    exit_msr_store_count = 0x400e,
    exit_msr_load_count = 0x4010,
    entry_controls = 0x4012,
    entry_msr_load_count = 0x4014,
    entry_interruption_info = 0x4016,
    entry_exception_error_code = 0x4018,
    entry_instruction_length = 0x401a,
    tpr_threshold = 0x401c,
    secondary_controls = 0x401e,
    ple_gap = 0x4020,
    ple_window = 0x4022,
    vm_instruction_error = 0x4400,
    exit_reason = 0x4402,
    exit_interruption_info = 0x4404,
    exit_interruption_error_code = 0x4406,
    idt_vectoring_info = 0x4408,
    idt_vectoring_error_code = 0x440a,
    exit_instruction_length = 0x440c,
    exit_instruction_info = 0x440e,
    guest_es_limit = 0x4800,      // limits of es..tr at +2 each
    guest_gdtr_limit = 0x4810,
    guest_idtr_limit = 0x4812,
    guest_es_access_rights = 0x4814,   // access rights of es..tr at +2 each
    guest_cs_access_rights = 0x4816,
    guest_ss_access_rights = 0x4818,
    guest_tr_access_rights = 0x4822,
    guest_interruptibility = 0x4824,
    guest_activity_state = 0x4826,
    guest_smbase = 0x4828,
    guest_sysenter_cs = 0x482a,
    preemption_timer_value = 0x482e,
    host_sysenter_cs = 0x4c00,

    // natural width (B.4)
    cr0_guest_host_mask = 0x6000,
    cr4_guest_host_mask = 0x6002,
    cr0_read_shadow = 0x6004,
    cr4_read_shadow = 0x6006,
    exit_qualification = 0x6400,
    guest_linear_address = 0x640a,
    guest_cr0 = 0x6800,
    guest_cr3 = 0x6802,
    guest_cr4 = 0x6804,
    guest_es_base = 0x6806,       // bases of es..tr at +2 each
    guest_cs_base = 0x6808,
    guest_gdtr_base = 0x6816,
    guest_idtr_base = 0x6818,
    guest_dr7 = 0x681a,
    guest_rsp = 0x681c,
    guest_rip = 0x681e,
    guest_rflags = 0x6820,
    guest_pending_debug = 0x6822,
    guest_sysenter_esp = 0x6824,
    guest_sysenter_eip = 0x6826,
    host_cr0 = 0x6c00,
    host_cr3 = 0x6c02,
    host_cr4 = 0x6c04,
    host_fs_base = 0x6c06,
    host_gs_base = 0x6c08,
    host_tr_base = 0x6c0a,
    host_gdtr_base = 0x6c0c,
    host_idtr_base = 0x6c0e,
    host_sysenter_esp = 0x6c10,
    host_sysenter_eip = 0x6c12,
    host_rsp = 0x6c14,
    host_rip = 0x6c16,
};

// The per-segment groups are laid out in hv::virt::Seg order.
constexpr VmcsField seg_field(VmcsField first, unsigned seg) {
    return static_cast<VmcsField>(static_cast<uint32_t>(first) + 2 * seg);
}

// Pin-based VM-execution controls (24.6.1).
enum Pin : uint32_t {
    pin_external_interrupt_exiting = 1u << 0,
    pin_nmi_exiting = 1u << 3,
    pin_virtual_nmis = 1u << 5,
    pin_preemption_timer = 1u << 6,
};

// Primary processor-based VM-execution controls (24.6.2 table 24-6).
enum Primary : uint32_t {
    primary_interrupt_window = 1u << 2,
    primary_hlt_exiting = 1u << 7,
    primary_invlpg_exiting = 1u << 9,
    primary_cr3_load_exiting = 1u << 15,
    primary_cr3_store_exiting = 1u << 16,
    primary_cr8_load_exiting = 1u << 19,
    primary_cr8_store_exiting = 1u << 20,
    primary_nmi_window = 1u << 22,
    primary_unconditional_io = 1u << 24,
    primary_use_io_bitmaps = 1u << 25,
    primary_monitor_trap_flag = 1u << 27,
    primary_use_msr_bitmaps = 1u << 28,
    primary_secondary_controls = 1u << 31,
};

// Secondary processor-based VM-execution controls (24.6.2 table 24-7).
enum Secondary : uint32_t {
    secondary_enable_ept = 1u << 1,
    secondary_enable_rdtscp = 1u << 3,
    secondary_enable_vpid = 1u << 5,
    secondary_unrestricted_guest = 1u << 7,
    secondary_enable_invpcid = 1u << 12,
    secondary_enable_xsaves = 1u << 20,
};

// VM-exit controls (24.7.1).
enum ExitCtl : uint32_t {
    exit_save_debug_controls = 1u << 2,
    exit_host_address_space_size = 1u << 9,
    exit_ack_interrupt_on_exit = 1u << 15,
    exit_save_pat = 1u << 18,
    exit_load_pat = 1u << 19,
    exit_save_efer = 1u << 20,
    exit_load_efer = 1u << 21,
    exit_save_preemption_timer = 1u << 22,
};

// VM-entry controls (24.8.1).
enum EntryCtl : uint32_t {
    entry_load_debug_controls = 1u << 2,
    entry_ia32e_mode_guest = 1u << 9,
    entry_load_pat = 1u << 14,
    entry_load_efer = 1u << 15,
};

// Basic exit reasons (appendix C); bit 31 of the exit-reason field marks a VM-entry failure.
enum class ExitReason : uint16_t {
    exception_or_nmi = 0,
    external_interrupt = 1,
    triple_fault = 2,
    init_signal = 3,
    sipi = 4,
    io_smi = 5,
    other_smi = 6,
    interrupt_window = 7,
    nmi_window = 8,
    task_switch = 9,
    cpuid = 10,
    getsec = 11,
    hlt = 12,
    invd = 13,
    invlpg = 14,
    rdpmc = 15,
    rdtsc = 16,
    rsm = 17,
    vmcall = 18,
    vmclear = 19,
    vmlaunch = 20,
    vmptrld = 21,
    vmptrst = 22,
    vmread = 23,
    vmresume = 24,
    vmwrite = 25,
    vmxoff = 26,
    vmxon = 27,
    cr_access = 28,
    dr_access = 29,
    io_instruction = 30,
    rdmsr = 31,
    wrmsr = 32,
    entry_invalid_guest_state = 33,
    entry_msr_loading = 34,
    mwait = 36,
    monitor_trap_flag = 37,
    monitor = 39,
    pause = 40,
    entry_machine_check = 41,
    tpr_below_threshold = 43,
    apic_access = 44,
    virtualized_eoi = 45,
    gdtr_idtr_access = 46,
    ldtr_tr_access = 47,
    ept_violation = 48,
    ept_misconfiguration = 49,
    invept = 50,
    rdtscp = 51,
    preemption_timer = 52,
    invvpid = 53,
    wbinvd = 54,
    xsetbv = 55,
    apic_write = 56,
    rdrand = 57,
    invpcid = 58,
    vmfunc = 59,
    encls = 60,
    rdseed = 61,
    pml_full = 62,
    xsaves = 63,
    xrstors = 64,
};

inline constexpr uint32_t exit_reason_entry_failure = 1u << 31;

// Interruption-information layout shared by VM-exit, IDT-vectoring and VM-entry fields
// (24.8.3, 24.9.2): vector 7:0, type 10:8, error code valid 11, valid 31.
enum class EventType : uint8_t {
    external_interrupt = 0,
    nmi = 2,
    hardware_exception = 3,
    software_interrupt = 4,
    privileged_software_exception = 5,
    software_exception = 6,
    other = 7,
};
inline constexpr uint32_t intr_info_error_code = 1u << 11;
inline constexpr uint32_t intr_info_nmi_unblocking = 1u << 12;
inline constexpr uint32_t intr_info_valid = 1u << 31;

constexpr uint32_t make_intr_info(uint8_t vector, EventType t, bool error_code) {
    return vector | (static_cast<uint32_t>(t) << 8) | (error_code ? intr_info_error_code : 0) | intr_info_valid;
}

// Guest interruptibility state (24.4.2 table 24-3).
enum Interruptibility : uint32_t {
    blocking_by_sti = 1u << 0,
    blocking_by_mov_ss = 1u << 1,
    blocking_by_smi = 1u << 2,
    blocking_by_nmi = 1u << 3,
};

// VM-instruction error numbers (SDM vol 3 31.4 table 31-1) in words; nullptr-free.
[[nodiscard]] const char* vm_instruction_error_name(uint32_t error);
[[nodiscard]] const char* exit_reason_name(uint32_t basic_reason);

// One-instruction wrappers. VMREAD/VMWRITE report VMfailInvalid with CF and VMfailValid with ZF
// (30.2); both mean a broken invariant here (wrong field or no current VMCS), which the
// checking variants turn into `false` for the caller to report.
[[nodiscard]] inline bool vmwrite_checked(VmcsField f, uint64_t v) {
    bool fail;
    asm volatile("vmwrite %[v], %[f]" : "=@ccbe"(fail) : [f] "r"(static_cast<uint64_t>(f)), [v] "rm"(v) : "memory");
    return !fail;
}
[[nodiscard]] inline bool vmread_checked(VmcsField f, uint64_t& out) {
    bool fail;
    asm volatile("vmread %[f], %[v]" : "=@ccbe"(fail), [v] "=rm"(out) : [f] "r"(static_cast<uint64_t>(f)) : "memory");
    return !fail;
}
// Unchecked forms for the hot path, after the VMCS layout has proved itself at setup.
inline void vmwrite(VmcsField f, uint64_t v) {
    asm volatile("vmwrite %[v], %[f]" : : [f] "r"(static_cast<uint64_t>(f)), [v] "rm"(v) : "cc", "memory");
}
[[nodiscard]] inline uint64_t vmread(VmcsField f) {
    uint64_t v;
    asm volatile("vmread %[f], %[v]" : [v] "=rm"(v) : [f] "r"(static_cast<uint64_t>(f)) : "cc", "memory");
    return v;
}

} // namespace vmx
