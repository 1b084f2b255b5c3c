// The root-partition hypercall ABI: what a parent (our root kernel, later a Linux root with its
// mshv_root driver) passes to create, feed, run and tear down child partitions, and the
// messages it gets back. Layouts are binary-identical to Microsoft's public definitions; the
// sources of each one and their disagreements are in docs/notes/root-abi-sources.md.
// "TLFS" below means the per-call pages of the public TLFS (tlfs/hypercalls, tlfs/datatypes);
// "mshv" means Linux include/hyperv/hv{g,h}dk{,_mini}.h and the mshv uapi headers.
//
// Every input starts 8-byte aligned (TLFS 3.x) and every field sits at its natural alignment
// with explicit padding, so the structs need no packing attribute; the static_asserts prove
// there is no hidden padding. Bit fields are plain integers with named masks, not C bit fields.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hypercalls/abi/tlfs.hpp"

namespace tlfs::root {

// Call codes the shared header does not carry (mshv hvgdk_mini.h; TLFS DeletePort and
// DisconnectPort pages). The rest of the root calls are in tlfs::call.
namespace call_code {
inline constexpr uint16_t translate_virtual_address = 0x0052;
inline constexpr uint16_t clear_virtual_interrupt = 0x0056;
inline constexpr uint16_t delete_port = 0x0058;
inline constexpr uint16_t disconnect_port = 0x005b;
inline constexpr uint16_t register_intercept_result = 0x0091;
inline constexpr uint16_t get_vp_index_from_apic_id = 0x009a;
inline constexpr uint16_t signal_event_direct = 0x00c0;
inline constexpr uint16_t post_message_direct = 0x00c1;
inline constexpr uint16_t get_gpa_pages_access_states = 0x00c9;
inline constexpr uint16_t map_vp_state_page = 0x00e1;
inline constexpr uint16_t unmap_vp_state_page = 0x00e2;
inline constexpr uint16_t get_vp_state = 0x00e3;
inline constexpr uint16_t set_vp_state = 0x00e4;
} // namespace call_code

// The shared header's codes, checked against the same sources.
static_assert(call::create_partition == 0x40 && call::initialize_partition == 0x41 &&
              call::finalize_partition == 0x42 && call::delete_partition == 0x43);
static_assert(call::get_partition_property == 0x44 && call::set_partition_property == 0x45 &&
              call::get_partition_id == 0x46);
static_assert(call::deposit_memory == 0x48 && call::withdraw_memory == 0x49 && call::map_gpa_pages == 0x4b &&
              call::unmap_gpa_pages == 0x4c && call::install_intercept == 0x4d);
static_assert(call::create_vp == 0x4e && call::delete_vp == 0x4f && call::get_vp_registers == 0x50 &&
              call::set_vp_registers == 0x51);
static_assert(call::assert_virtual_interrupt == 0x94 && call::create_port == 0x95 && call::connect_port == 0x96 &&
              call::start_vp == 0x99 && call::dispatch_vp == 0xc2);

// ==== Common pieces

inline constexpr uint64_t partition_id_invalid = 0;     // HV_PARTITION_ID_INVALID
inline constexpr uint32_t any_vp = 0xffffffff;          // HV_ANY_VP (port targets)
inline constexpr uint64_t page_size = 0x1000;           // GPA page numbers count 4 KiB pages

// HV_PROXIMITY_DOMAIN_INFO (TLFS datatypes): a NUMA hint; all-zero means "any domain".
struct ProximityDomainInfo {
    uint32_t domain_id;
    uint32_t flags;
};
namespace proximity {
inline constexpr uint32_t preferred = 1u << 0;   // fall back to other domains if short
inline constexpr uint32_t info_valid = 1u << 31;  // domain_id is meaningful
} // namespace proximity

// HV_INPUT_VTL, the byte after the VP index in register and VP calls.
namespace input_vtl {
inline constexpr uint8_t target_mask = 0x0f;
inline constexpr uint8_t use_target = 1u << 4;   // else: the caller's own VTL
constexpr uint8_t target(uint8_t vtl) { return static_cast<uint8_t>((vtl & target_mask) | use_target); }
} // namespace input_vtl

// A rep list fills the rest of the page after its fixed header (TLFS 3.x: no page crossing).
template <class Header, class Element>
inline constexpr uint32_t max_reps_per_page = static_cast<uint32_t>((page_size - sizeof(Header)) / sizeof(Element));

// ==== 1. Partition lifecycle (0x40-0x46)

// HV_PARTITION_CREATION_FLAGS (TLFS datatypes; LAPIC/X2APIC/intercept page also in mshv hvhdk.h).
namespace creation_flag {
inline constexpr uint64_t smt_enabled_guest = 1ull << 0;
inline constexpr uint64_t nested_virtualization_capable = 1ull << 1;
inline constexpr uint64_t gpa_super_pages_enabled = 1ull << 4;
inline constexpr uint64_t exo_partition = 1ull << 8;
inline constexpr uint64_t vtl1_override = 1ull << 9, vtl2_override = 1ull << 10;
inline constexpr uint64_t lapic_enabled = 1ull << 13;
inline constexpr uint64_t enable_perfmon_pmu = 1ull << 15, enable_perfmon_lbr = 1ull << 16;
inline constexpr uint64_t intercept_message_page_enabled = 1ull << 19;
inline constexpr uint64_t hypercall_doorbell_page_enabled = 1ull << 20;
inline constexpr uint64_t x2apic_capable = 1ull << 22;
} // namespace creation_flag

// HV_COMPATIBILITY_VERSION: major << 8 | minor (mshv hvhdk.h).
constexpr uint32_t compatibility_version(uint32_t major, uint32_t minor) { return major << 8 | minor; }
inline constexpr uint32_t compatibility_19h1 = compatibility_version(6, 5);
inline constexpr uint32_t compatibility_20h1 = compatibility_version(6, 7);
inline constexpr uint32_t compatibility_21h1 = compatibility_version(6, 8);
inline constexpr uint32_t compatibility_21h2 = compatibility_version(6, 9);   // what mshv sends

// HV_PARTITION_CREATION_PROPERTIES (x64): features the child must NOT see. Bank 0/1 bit names
// are HV_PARTITION_PROCESSOR_FEATURES in mshv hvhdk.h (bit 0 SSE3 ... bank 1 bit 21 FSRCMPSB).
struct CreationProperties {
    uint64_t disabled_processor_features[2];
    uint64_t disabled_xsave_features;         // bit 0 XSAVE, 1 XSAVEOPT, 2 AVX
};

// HV_PARTITION_ISOLATION_PROPERTIES (mshv hvhdk.h); the TLFS page calls this word ReservedZ0.
namespace isolation {
inline constexpr uint64_t type_mask = 0x1f;            // bits 4:0
inline constexpr uint64_t type_none = 0, type_vbs = 1, type_snp = 2, type_tdx = 3;
inline constexpr unsigned host_type_shift = 5;         // bits 6:5: 0 none, 1 hardware
inline constexpr unsigned shared_gpa_boundary_shift = 12;   // bits 63:12, a page number
} // namespace isolation

struct CreatePartitionInput {     // HvCallCreatePartition 0x40 (TLFS: 56 bytes on x64)
    uint64_t flags;               // creation_flag
    ProximityDomainInfo proximity;
    uint32_t compatibility_version;
    uint32_t padding;
    CreationProperties properties;
    uint64_t isolation_properties;
};
struct CreatePartitionOutput {
    uint64_t partition_id;
};
// InitializePartition 0x41, FinalizePartition 0x42, DeletePartition 0x43: the id alone.
struct PartitionIdInput {
    uint64_t partition_id;
};
struct GetPartitionIdOutput {     // HvCallGetPartitionId 0x46 (no input)
    uint64_t partition_id;
};
static_assert(sizeof(CreatePartitionInput) == 56 && offsetof(CreatePartitionInput, compatibility_version) == 16 &&
              offsetof(CreatePartitionInput, properties) == 24 &&
              offsetof(CreatePartitionInput, isolation_properties) == 48);
static_assert(sizeof(CreatePartitionOutput) == 8 && sizeof(PartitionIdInput) == 8);

// HV_PARTITION_PROPERTY_CODE (TLFS datatypes 2025; marked ones only in older public headers).
enum class PropertyCode : uint32_t {
    // Privileges. privilege_flags holds HV_PARTITION_PRIVILEGE_MASK (tlfs::privilege),
    // synthetic_proc_features the synthetic_feature bits below.
    privilege_flags = 0x00010000, synthetic_proc_features,
    // Scheduling (integrated_scheduler_enabled: mshv only).
    suspend = 0x00020000, cpu_reserve, cpu_cap, cpu_weight, cpu_group_id, integrated_scheduler_enabled,
    // Time. The first three and debug_channel_id are in older public material only.
    emulated_timer_period = 0x00030000, emulated_timer_control, pm_timer_assist, time_freeze,
    reference_time = 0x00030005,
    debug_channel_id = 0x00040000,
    // Resources.
    virtual_tlb_page_count = 0x00050000, vsm_config, zero_memory_on_reset, processors_per_socket,
    nested_tlb_size, gpa_page_access_tracking, vsm_permissions_dirty_since_last_query,
    isolation_state = 0x0005000c, isolation_control, allocation_id, monitoring_id,
    implemented_physical_address_bits, non_architectural_core_sharing, hypercall_doorbell_page,
    isolation_policy = 0x00050014,
    unimplemented_msr_action = 0x00050017,
    sev_vmgexit_offloads = 0x00050022,
    partition_diag_buffer_config = 0x00050026,
    // Compatibility (processor_features: older, superseded by features0/1).
    processor_vendor = 0x00060000, processor_features, processor_xsave_features, processor_cl_flush_size,
    enlightenment_modifications, compatibility_version, physical_address_width, xsave_states,
    max_xsave_data_size, processor_clock_frequency, processor_features0, processor_features1,
    guest_os_id = 0x00070000,
    processor_virtualization_features = 0x00080000,
    vmm_capabilities = 0x00090007,     // wider than 64 bits: the Ex call only
};
static_assert(static_cast<uint32_t>(PropertyCode::integrated_scheduler_enabled) == 0x00020005 &&
              static_cast<uint32_t>(PropertyCode::time_freeze) == 0x00030003 &&
              static_cast<uint32_t>(PropertyCode::vsm_permissions_dirty_since_last_query) == 0x00050006 &&
              static_cast<uint32_t>(PropertyCode::hypercall_doorbell_page) == 0x00050012 &&
              static_cast<uint32_t>(PropertyCode::processor_features1) == 0x0006000b);

struct GetPartitionPropertyInput {   // 0x44
    uint64_t partition_id;
    PropertyCode code;
    uint32_t padding;
};
struct GetPartitionPropertyOutput {
    uint64_t value;
};
struct SetPartitionPropertyInput {   // 0x45
    uint64_t partition_id;
    PropertyCode code;
    uint32_t padding;
    uint64_t value;
};
static_assert(sizeof(GetPartitionPropertyInput) == 16 && sizeof(SetPartitionPropertyInput) == 24 &&
              offsetof(SetPartitionPropertyInput, value) == 16);

// HV_PARTITION_SYNTHETIC_PROCESSOR_FEATURES bank 0 (mshv hvhdk.h): what the child's CPUID
// 0x4000000x and synthetic MSRs expose. Gaps are reserved-zero.
namespace synthetic_feature {
inline constexpr uint64_t hypervisor_present = 1ull << 0;
inline constexpr uint64_t hv1 = 1ull << 1;                       // CPUID 0x40000000-0x40000006
// Access to: VP runtime, reference counter, SynIC, synthetic timers, APIC MSRs and VP assist
// page, guest OS ID and hypercall MSRs, VP index, reference TSC, guest idle, frequency MSRs.
inline constexpr uint64_t access_vp_run_time_reg = 1ull << 2, access_partition_reference_counter = 1ull << 3;
inline constexpr uint64_t access_synic_regs = 1ull << 4, access_synthetic_timer_regs = 1ull << 5;
inline constexpr uint64_t access_intr_ctrl_regs = 1ull << 6, access_hypercall_regs = 1ull << 7;
inline constexpr uint64_t access_vp_index = 1ull << 8, access_partition_reference_tsc = 1ull << 9;
inline constexpr uint64_t access_guest_idle_reg = 1ull << 10, access_frequency_regs = 1ull << 11;
inline constexpr uint64_t extended_gva_ranges_for_flush = 1ull << 15;
inline constexpr uint64_t fast_hypercall_output = 1ull << 18;
inline constexpr uint64_t start_virtual_processor = 1ull << 20;
inline constexpr uint64_t direct_synthetic_timers = 1ull << 22;
inline constexpr uint64_t extended_processor_masks = 1ull << 24;
// Hypercalls the child may make.
inline constexpr uint64_t tb_flush_hypercalls = 1ull << 25, synthetic_cluster_ipi = 1ull << 26;
inline constexpr uint64_t notify_long_spin_wait = 1ull << 27, query_numa_distance = 1ull << 28;
inline constexpr uint64_t signal_events = 1ull << 29, retarget_device_interrupt = 1ull << 30;
inline constexpr uint64_t restore_time = 1ull << 31;
inline constexpr uint64_t enlightened_vmcs = 1ull << 32;
} // namespace synthetic_feature

// ==== 2. Memory (0x48-0x4c). Lists are of 4 KiB page numbers (HV_GPA_PAGE_NUMBER, 8 bytes each).

struct DepositMemoryInput {       // 0x48 rep: then one page number per rep
    uint64_t partition_id;
};
struct WithdrawMemoryInput {      // 0x49 rep: the output is one page number per rep
    uint64_t partition_id;
    ProximityDomainInfo proximity;
};
static_assert(sizeof(DepositMemoryInput) == 8 && sizeof(WithdrawMemoryInput) == 16);
inline constexpr uint32_t deposit_max_reps = max_reps_per_page<DepositMemoryInput, uint64_t>;   // 511
inline constexpr uint32_t withdraw_max_reps = static_cast<uint32_t>(page_size / sizeof(uint64_t));

// HV_MAP_GPA_FLAGS (TLFS datatypes; adjustable from mshv hvhdk_mini.h).
namespace map_flag {
inline constexpr uint32_t readable = 0x1;
inline constexpr uint32_t writable = 0x2;
inline constexpr uint32_t kernel_executable = 0x4;
inline constexpr uint32_t user_executable = 0x8;
inline constexpr uint32_t executable = kernel_executable | user_executable;
inline constexpr uint32_t permissions_mask = 0xf;
inline constexpr uint32_t adjustable = 0x8000;
inline constexpr uint32_t no_access = 0x10000;        // bits 17:16 are one encoding, not flags
inline constexpr uint32_t zeroed = 0x20000;
inline constexpr uint32_t ones = 0x30000;
inline constexpr uint32_t special_mask = 0x30000;
inline constexpr uint32_t no_overlay = 0x100000;
inline constexpr uint32_t not_cached = 0x200000;
inline constexpr uint32_t clear_accessed = 0x01000000, set_accessed = 0x02000000;
inline constexpr uint32_t clear_dirty = 0x04000000, set_dirty = 0x08000000;
inline constexpr uint32_t dont_set_range_accessed = 0x10000000;
inline constexpr uint32_t large_page = 0x80000000;    // reps count 2 MiB pages
} // namespace map_flag

struct MapGpaPagesInput {         // 0x4b rep: then one source page number (caller's GPA) per rep
    uint64_t target_partition_id;
    uint64_t target_gpa_base;     // page number; rep i maps target_gpa_base + i
    uint32_t map_flags;
    uint32_t padding;             // the TLFS page shows MapFlags as 8 bytes: same bytes
};
static_assert(sizeof(MapGpaPagesInput) == 24 && offsetof(MapGpaPagesInput, map_flags) == 16);
inline constexpr uint32_t map_gpa_max_reps = max_reps_per_page<MapGpaPagesInput, uint64_t>;   // 509

// HV_UNMAP_GPA_FLAGS: mshv uses 0x2 for large pages; see the notes for keep_precommitted.
namespace unmap_flag {
inline constexpr uint32_t keep_precommitted = 0x1;
inline constexpr uint32_t large_page = 0x2;
} // namespace unmap_flag

struct UnmapGpaPagesInput {       // 0x4c rep: no list, rep i unmaps target_gpa_base + i
    uint64_t target_partition_id;
    uint64_t target_gpa_base;
    uint32_t unmap_flags;
    uint32_t padding;
};
static_assert(sizeof(UnmapGpaPagesInput) == 24);

// ==== 3. Intercepts (0x4d)

// HV_INTERCEPT_TYPE (mshv hvgdk_mini.h for 0x00-0x0c; TLFS datatypes for 0x0d-0x11).
enum class InterceptType : uint32_t {
    x64_io_port = 0x00, x64_msr, x64_cpuid, exception,
    mmio = 0x05,                  // 0x04 once meant "register", now reserved
    x64_global_cpuid, x64_apic_smi, hypercall, x64_apic_init_sipi, mc_update_patch_level_msr_read,
    x64_apic_write,
    x64_msr_index,                // 0x0c, mshv only: one MSR instead of all
    unknown_synic_connection, x64_apic_eoi, retarget_interrupt_with_unknown_device_id, x64_exception_trap,
    x64_io_port_range,            // 0x11
    invalid = 0xffffffff,
};
static_assert(static_cast<uint32_t>(InterceptType::x64_apic_write) == 0x0b &&
              static_cast<uint32_t>(InterceptType::x64_io_port_range) == 0x11);

// HV_INTERCEPT_ACCESS_TYPE_MASK: which accesses trap.
namespace access_mask {
inline constexpr uint32_t none = 0x0, read = 0x1, write = 0x2, execute = 0x4;
} // namespace access_mask

// HV_INTERCEPT_PARAMETERS: one 8-byte word whose meaning depends on the type.
namespace intercept_param {
constexpr uint64_t io_port(uint16_t port) { return port; }
constexpr uint64_t io_port_range(uint16_t first, uint16_t last) { return first | uint64_t{last} << 16; }
constexpr uint64_t cpuid_index(uint32_t leaf) { return leaf; }
constexpr uint64_t msr_index(uint32_t msr) { return msr; }
constexpr uint64_t apic_write_mask(uint32_t mask) { return mask; }
constexpr uint64_t exception_vector(uint16_t vector) { return vector; }
} // namespace intercept_param

struct InstallInterceptInput {
    uint64_t partition_id;
    uint32_t access_type;         // access_mask
    InterceptType type;
    uint64_t parameters;          // intercept_param
};
static_assert(sizeof(InstallInterceptInput) == 24 && offsetof(InstallInterceptInput, parameters) == 16);

// ==== 4. Virtual processors

// HV_SUBNODE_TYPE (mshv hvhdk_mini.h).
enum class SubnodeType : uint8_t { any = 0, socket = 1, cluster = 2, l3 = 3 };

struct CreateVpInput {            // 0x4e
    uint64_t partition_id;
    uint32_t vp_index;
    uint8_t reserved[3];
    SubnodeType subnode_type;
    uint64_t subnode_id;
    ProximityDomainInfo proximity;
    uint64_t flags;               // reserved, zero
};
struct DeleteVpInput {            // 0x4f (TLFS lists 12 bytes; mshv pads to 16)
    uint64_t partition_id;
    uint32_t vp_index;
    uint32_t reserved;
};
static_assert(sizeof(CreateVpInput) == 40 && offsetof(CreateVpInput, subnode_type) == 15 &&
              offsetof(CreateVpInput, subnode_id) == 16 && offsetof(CreateVpInput, flags) == 32);
static_assert(sizeof(DeleteVpInput) == 16);

// HV_X64_SEGMENT_REGISTER. The attribute word has the VMX access-rights layout (SDM 24.4.1)
// without the "unusable" bit: type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15.
struct SegmentRegister {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint16_t attributes;
};
namespace seg_attr {
inline constexpr uint16_t type_mask = 0x000f, non_system = 1u << 4, present = 1u << 7;
inline constexpr unsigned dpl_shift = 5;
inline constexpr uint16_t dpl_mask = 3u << dpl_shift;
inline constexpr uint16_t available = 1u << 12, long_mode = 1u << 13, default_big = 1u << 14, granularity = 1u << 15;
} // namespace seg_attr

struct TableRegister {            // HV_X64_TABLE_REGISTER (GDTR, IDTR)
    uint16_t pad[3];
    uint16_t limit;
    uint64_t base;
};
static_assert(sizeof(SegmentRegister) == 16 && offsetof(SegmentRegister, attributes) == 14);
static_assert(sizeof(TableRegister) == 16 && offsetof(TableRegister, limit) == 6);

// Registers travel as 16-byte values (tlfs::RegisterValue); these view one as a segment or table.
constexpr SegmentRegister as_segment(const RegisterValue& v) { return __builtin_bit_cast(SegmentRegister, v); }
constexpr TableRegister as_table(const RegisterValue& v) { return __builtin_bit_cast(TableRegister, v); }
constexpr RegisterValue to_value(const SegmentRegister& s) { return __builtin_bit_cast(RegisterValue, s); }
constexpr RegisterValue to_value(const TableRegister& t) { return __builtin_bit_cast(RegisterValue, t); }

// Get/SetVpRegisters (0x50/0x51) use tlfs::VpRegistersInput, then u32 names (get; output is one
// 16-byte value per name) or tlfs::RegisterAssoc {name, 12 reserved bytes, value} (set).
static_assert(sizeof(VpRegistersInput) == 16 && offsetof(VpRegistersInput, input_vtl) == 12);
static_assert(sizeof(RegisterAssoc) == 32 && offsetof(RegisterAssoc, value) == 16);
inline constexpr uint32_t get_registers_max_reps = max_reps_per_page<VpRegistersInput, uint32_t>;
inline constexpr uint32_t set_registers_max_reps = max_reps_per_page<VpRegistersInput, RegisterAssoc>;

// HV_REGISTER_NAME: the x64 and architecture-neutral names a root needs (mshv uapi
// hvgdk_mini.h; TLFS datatypes). Names without a value follow the previous one.
enum class RegisterName : uint32_t {
    // Suspend and event registers (bit 0 of a suspend register = suspended).
    explicit_suspend = 0x00000000, intercept_suspend, instruction_emulation_hints, dispatch_suspend,
    internal_activity_state,
    hypervisor_version = 0x00000100,
    pending_interruption = 0x00010002, interrupt_state, pending_event0, pending_event1,
    deliverability_notifications,
    // General purpose in x86 encoding order, then the instruction pointer and flags.
    rax = 0x00020000, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags,
    xmm0 = 0x00030000,            // xmm0..xmm15 = +0..+15
    fp_mmx0 = 0x00030010,         // fp_mmx0..7 = +0..+7
    fp_control_status = 0x00030018, xmm_control_status,
    cr0 = 0x00040000, cr2, cr3, cr4, cr8, xfem,
    dr0 = 0x00050000, dr1, dr2, dr3, dr6, dr7,
    es = 0x00060000, cs, ss, ds, fs, gs, ldtr, tr,
    idtr = 0x00070000, gdtr,
    // Virtualized MSRs.
    tsc = 0x00080000, efer, kernel_gs_base, apic_base, pat, sysenter_cs, sysenter_eip, sysenter_esp, star, lstar,
    cstar, sfmask, initial_apic_id, mtrr_cap, mtrr_def_type,
    mtrr_phys_base0 = 0x00080010,   // base0..F = +0..+15
    mtrr_phys_mask0 = 0x00080040,   // mask0..F = +0..+15
    mtrr_fix64k_00000 = 0x00080070, // then 16k 80000, A0000, 4k C0000 .. F8000 = +1..+10
    tsc_aux = 0x0008007b, bndcfgs, debug_ctl,
    spec_ctrl = 0x00080084, pred_cmd, virt_spec_ctrl,
    tsc_adjust = 0x00080096,
    // Hypervisor-defined: the synthetic MSRs, SynIC and synthetic timers.
    vp_runtime = 0x00090000, hypercall, guest_os_id, vp_index, time_ref_count,
    synthetic_eoi = 0x00090010, synthetic_icr, synthetic_tpr, vp_assist_page,
    reference_tsc = 0x00090017,
    sint0 = 0x000a0000,             // sint0..15 = +0..+15
    scontrol = 0x000a0010, sversion, siefp, simp, eom,
    stimer0_config = 0x000b0000, stimer0_count,   // stimerN config/count = +2N, +2N+1
};
static_assert(static_cast<uint32_t>(RegisterName::rflags) == 0x00020011 &&
              static_cast<uint32_t>(RegisterName::xfem) == 0x00040005 &&
              static_cast<uint32_t>(RegisterName::dr7) == 0x00050005 &&
              static_cast<uint32_t>(RegisterName::mtrr_def_type) == 0x0008000e &&
              static_cast<uint32_t>(RegisterName::debug_ctl) == 0x0008007d &&
              static_cast<uint32_t>(RegisterName::time_ref_count) == 0x00090004 &&
              static_cast<uint32_t>(RegisterName::vp_assist_page) == 0x00090013 &&
              static_cast<uint32_t>(RegisterName::eom) == 0x000a0014);
static_assert(static_cast<uint32_t>(RegisterName::r15) == reg::r15 &&
              static_cast<uint32_t>(RegisterName::rip) == reg::rip &&
              static_cast<uint32_t>(RegisterName::tr) == reg::tr &&
              static_cast<uint32_t>(RegisterName::efer) == reg::efer &&
              static_cast<uint32_t>(RegisterName::gdtr) == reg::gdtr);

// HV_X64_PENDING_INTERRUPTION_REGISTER (low word; the high word of the u64 is the error code).
namespace pending_interruption {
inline constexpr uint64_t pending = 1u << 0;
inline constexpr unsigned type_shift = 1;           // 3 bits
inline constexpr uint64_t type_interrupt = 0, type_nmi = 2, type_exception = 3;
inline constexpr uint64_t deliver_error_code = 1u << 4;
inline constexpr unsigned instruction_length_shift = 5;   // 4 bits
inline constexpr uint64_t nested_event = 1u << 9;
inline constexpr unsigned vector_shift = 16;        // 16 bits
inline constexpr unsigned error_code_shift = 32;
} // namespace pending_interruption

// HV_X64_INTERRUPT_STATE_REGISTER and the three suspend registers (bit 0 = suspended).
namespace interrupt_state {
inline constexpr uint64_t interrupt_shadow = 1u << 0, nmi_masked = 1u << 1;
} // namespace interrupt_state
inline constexpr uint64_t suspended = 1;

// HV_INITIAL_VP_CONTEXT (TLFS datatypes): the register state StartVp and EnableVpVtl load.
struct InitialVpContext {
    uint64_t rip, rsp, rflags;
    SegmentRegister cs, ds, es, fs, gs, ss, tr, ldtr;
    TableRegister idtr, gdtr;
    uint64_t efer, cr0, cr3, cr4;
    uint64_t msr_cr_pat;
};
static_assert(sizeof(InitialVpContext) == 224 && offsetof(InitialVpContext, cs) == 24 &&
              offsetof(InitialVpContext, idtr) == 152 && offsetof(InitialVpContext, efer) == 184 &&
              offsetof(InitialVpContext, msr_cr_pat) == 216);

struct StartVpInput {             // 0x99
    uint64_t partition_id;
    uint32_t vp_index;
    uint8_t target_vtl;
    uint8_t reserved[3];
    InitialVpContext context;
};
static_assert(sizeof(StartVpInput) == 240 && offsetof(StartVpInput, context) == 16);

// HvCallDispatchVp 0xc2 (mshv hvhdk.h; no TLFS page): the root scheduler runs a child VP on
// the calling logical processor until the time slice ends or something needs the root.
namespace dispatch_flag {
inline constexpr uint32_t clear_intercept_suspend = 0x01, enable_caller_interrupts = 0x02;
inline constexpr uint32_t set_caller_spec_ctrl = 0x04, skip_vp_spec_flush = 0x08;
inline constexpr uint32_t skip_caller_spec_flush = 0x10, skip_caller_user_spec_flush = 0x20;
} // namespace dispatch_flag

enum class DispatchState : uint32_t { invalid = 0, blocked = 1, ready = 2 };
enum class DispatchEvent : uint32_t { invalid = 0, suspend = 1, intercept = 2 };

struct DispatchVpInput {
    uint64_t partition_id;
    uint32_t vp_index;
    uint32_t flags;               // dispatch_flag
    uint64_t time_slice;          // 100 ns units
    uint64_t spec_ctrl;
};
struct DispatchVpOutput {
    DispatchState state;
    DispatchEvent event;
};
static_assert(sizeof(DispatchVpInput) == 32 && sizeof(DispatchVpOutput) == 8);

// HV_INTERRUPT_TYPE (x64) and HV_X64_INTERRUPT_CONTROL, for AssertVirtualInterrupt 0x94.
enum class InterruptType : uint32_t {
    fixed = 0x0, lowest_priority, smi, remote_read, nmi, init, sipi, extint, local_int0, local_int1,
};
static_assert(static_cast<uint32_t>(InterruptType::local_int1) == 0x9);
struct InterruptControl {
    InterruptType type;
    uint32_t flags;               // interrupt_flag
};
namespace interrupt_flag {
inline constexpr uint32_t level_triggered = 1u << 0;    // else edge
inline constexpr uint32_t logical_destination = 1u << 1;   // else physical APIC ID
} // namespace interrupt_flag

struct AssertVirtualInterruptInput {
    uint64_t partition_id;
    InterruptControl control;
    uint64_t destination;         // APIC ID (physical) or logical destination
    uint32_t vector;
    uint8_t target_vtl;
    uint8_t reserved0;
    uint16_t reserved1;
};
static_assert(sizeof(InterruptControl) == 8);
static_assert(sizeof(AssertVirtualInterruptInput) == 32 && offsetof(AssertVirtualInterruptInput, vector) == 24 &&
              offsetof(AssertVirtualInterruptInput, target_vtl) == 28);

// ==== 5. Ports and connections (0x95 create, 0x96 connect, 0x58 delete, 0x5b disconnect)

// HV_PORT_ID and HV_CONNECTION_ID: 24-bit ids in a u32, top byte reserved.
inline constexpr uint32_t port_id_mask = 0x00ffffff;

enum class PortType : uint32_t { message = 1, event = 2, monitor = 3, doorbell = 4 };

struct PortInfo {                 // HV_PORT_INFO, 24 bytes
    PortType type;
    uint32_t padding;
    union {
        struct {
            uint32_t target_sint;
            uint32_t target_vp;   // or any_vp
            uint64_t reserved;
        } message, doorbell;
        struct {
            uint32_t target_sint;
            uint32_t target_vp;
            uint16_t base_flag_number;
            uint16_t flag_count;
            uint32_t reserved;
        } event;
        struct {
            uint64_t monitor_address;
            uint64_t reserved;
        } monitor;
    } info;
};
static_assert(sizeof(PortInfo) == 24 && offsetof(PortInfo, info) == 8);

// HV_DOORBELL_FLAG_*: which guest writes to the doorbell GPA ring it.
namespace doorbell_flag {
inline constexpr uint64_t size_mask = 0x7;
inline constexpr uint64_t size_any = 0, size_byte = 1, size_word = 2, size_dword = 3, size_qword = 4;
inline constexpr uint64_t any_value = 0x80000000;
} // namespace doorbell_flag

struct ConnectionInfo {           // HV_CONNECTION_INFO, 32 bytes
    PortType type;
    uint32_t padding;
    union {
        struct {
            uint64_t reserved;
        } message, event;
        struct {
            uint64_t monitor_address;
        } monitor;
        struct {
            uint64_t gpa;
            uint64_t trigger_value;
            uint64_t flags;       // doorbell_flag
        } doorbell;
    } info;
};
static_assert(sizeof(ConnectionInfo) == 32 && offsetof(ConnectionInfo, info) == 8);

struct CreatePortInput {          // 0x95
    uint64_t port_partition_id;
    uint32_t port_id;
    uint8_t port_vtl;
    uint8_t min_connection_vtl;
    uint16_t reserved;
    uint64_t connection_partition_id;   // connected on creation, or zero
    PortInfo port_info;
    ProximityDomainInfo proximity;
};
struct DeletePortInput {          // 0x58
    uint64_t port_partition_id;
    uint32_t port_id;
    uint32_t reserved;
};
struct ConnectPortInput {         // 0x96
    uint64_t connection_partition_id;
    uint32_t connection_id;
    uint8_t connection_vtl;
    uint8_t reserved0;
    uint16_t reserved1;
    uint64_t port_partition_id;
    uint32_t port_id;
    uint32_t reserved2;
    ConnectionInfo connection_info;
    ProximityDomainInfo proximity;
};
struct DisconnectPortInput {      // 0x5b (TLFS lists 12 bytes; mshv pads to 16)
    uint64_t connection_partition_id;
    uint32_t connection_id;
    uint32_t flags;               // bit 0: is_doorbell (mshv)
};
static_assert(sizeof(CreatePortInput) == 56 && offsetof(CreatePortInput, connection_partition_id) == 16 &&
              offsetof(CreatePortInput, port_info) == 24 && offsetof(CreatePortInput, proximity) == 48);
static_assert(sizeof(DeletePortInput) == 16);
static_assert(sizeof(ConnectPortInput) == 72 && offsetof(ConnectPortInput, port_partition_id) == 16 &&
              offsetof(ConnectPortInput, connection_info) == 32 && offsetof(ConnectPortInput, proximity) == 64);
static_assert(sizeof(DisconnectPortInput) == 16);

// ==== 6. SynIC messages: what the hypervisor posts to the parent's SINT slots

// HV_MESSAGE_TYPE: the high bit marks hypervisor-generated types (TLFS; mshv adds the rest).
enum class MessageType : uint32_t {
    none = 0x00000000,
    unmapped_gpa = 0x80000000, gpa_intercept,
    unaccepted_gpa = 0x80000003, gpa_attribute_intercept,
    timer_expired = 0x80000010,
    invalid_vp_register_value = 0x80000020, unrecoverable_exception, unsupported_feature,
    tlb_page_size_mismatch,                   // TLFS only
    opaque_intercept = 0x8000003f,
    event_log_buffer_complete = 0x80000040,
    hypercall_intercept = 0x80000050,
    synic_event_intercept = 0x80000060, synic_sint_intercept, synic_sint_deliverable,
    async_call_completion = 0x80000070,
    scheduler_vp_signal_bitset = 0x80000100, scheduler_vp_signal_pair,
    x64_io_port_intercept = 0x80010000, x64_msr_intercept, x64_cpuid_intercept, x64_exception_intercept,
    x64_apic_eoi, x64_legacy_fp_error,
    x64_iommu_prq,                            // the TLFS page says RegisterIntercept here
    x64_halt, x64_interruption_deliverable, x64_sipi_intercept,
    x64_sev_vmgexit_intercept = 0x80010013,
};
static_assert(static_cast<uint32_t>(MessageType::tlb_page_size_mismatch) == 0x80000023 &&
              static_cast<uint32_t>(MessageType::synic_sint_deliverable) == 0x80000062 &&
              static_cast<uint32_t>(MessageType::x64_exception_intercept) == 0x80010003 &&
              static_cast<uint32_t>(MessageType::x64_halt) == 0x80010007 &&
              static_cast<uint32_t>(MessageType::x64_sipi_intercept) == 0x80010009);
inline constexpr uint32_t message_type_hypervisor_mask = 0x80000000;

// HV_MESSAGE_HEADER in the order real Hyper-V and Linux use (the TLFS text swaps payload_size
// and the reserved word; see the notes). origin is the sender partition for intercepts, the
// port id (low 32 bits) for posted messages, zero for timers.
struct MessageHeader {
    MessageType type;
    uint8_t payload_size;
    uint8_t flags;                // message_flag
    uint16_t reserved;
    uint64_t origin;
};
namespace message_flag {
inline constexpr uint8_t pending = 1u << 0;   // more queued: write EOM after emptying the slot
} // namespace message_flag

struct Message {                  // HV_MESSAGE: one SIMP slot
    MessageHeader header;
    uint64_t payload[30];
};
static_assert(sizeof(MessageHeader) == 16 && offsetof(MessageHeader, payload_size) == 4 &&
              offsetof(MessageHeader, flags) == 5 && offsetof(MessageHeader, origin) == 8);
static_assert(sizeof(Message) == 256 && sizeof(Message::payload) == message_payload_max);

struct TimerMessagePayload {      // timer_expired
    uint32_t timer_index;
    uint32_t reserved;
    uint64_t expiration_time;     // 100 ns reference time
    uint64_t delivery_time;
};
static_assert(sizeof(TimerMessagePayload) == 24);

// scheduler_vp_signal_pair (mshv hvhdk.h): child VPs the root scheduler should look at again.
inline constexpr uint32_t vp_signal_pairs_max = 19;
struct [[gnu::packed]] SchedulerVpSignalPair {
    uint32_t overflow_count;      // pairs dropped since the last message: look at every VP
    uint8_t vp_count;
    uint8_t reserved1[3];
    uint64_t partition_ids[vp_signal_pairs_max];
    uint32_t vp_indexes[vp_signal_pairs_max];
    uint8_t reserved2[4];
};
static_assert(sizeof(SchedulerVpSignalPair) == message_payload_max);

// HV_X64_VP_EXECUTION_STATE: the intercepted VP's mode at the time of the intercept.
namespace exec_state {
inline constexpr uint16_t cpl_mask = 0x3;
inline constexpr uint16_t cr0_pe = 1u << 2, cr0_am = 1u << 3, efer_lma = 1u << 4;
inline constexpr uint16_t debug_active = 1u << 5, interruption_pending = 1u << 6;
inline constexpr unsigned vtl_shift = 7;                  // 4 bits
inline constexpr uint16_t enclave_mode = 1u << 11, interrupt_shadow = 1u << 12;
inline constexpr uint16_t virtualization_fault_active = 1u << 13;
} // namespace exec_state

// HV_INTERCEPT_ACCESS_TYPE, as reported in the header (not the install mask).
enum class AccessType : uint8_t { read = 0, write = 1, execute = 2 };

struct InterceptHeader {          // HV_X64_INTERCEPT_MESSAGE_HEADER
    uint32_t vp_index;
    uint8_t instruction_length_cr8;   // bits 3:0 instruction length, 7:4 CR8 (exo partitions)
    AccessType access_type;
    uint16_t execution_state;         // exec_state
    SegmentRegister cs;
    uint64_t rip;
    uint64_t rflags;
};
static_assert(sizeof(InterceptHeader) == 40 && offsetof(InterceptHeader, cs) == 8 &&
              offsetof(InterceptHeader, rip) == 24);
constexpr uint8_t instruction_length(const InterceptHeader& h) {
    return static_cast<uint8_t>(h.instruction_length_cr8 & 0xf);
}

namespace io_access {             // HV_X64_IO_PORT_ACCESS_INFO
inline constexpr uint8_t size_mask = 0x7;                 // 1, 2 or 4 bytes
inline constexpr uint8_t string_op = 1u << 3, rep_prefix = 1u << 4;
} // namespace io_access

struct IoPortInterceptMessage {
    InterceptHeader header;
    uint16_t port;
    uint8_t access_info;          // io_access
    uint8_t instruction_byte_count;
    uint32_t reserved;
    uint64_t rax;
    uint8_t instruction_bytes[16];
    SegmentRegister ds, es;
    uint64_t rcx, rsi, rdi;
};
static_assert(sizeof(IoPortInterceptMessage) == 128 && offsetof(IoPortInterceptMessage, rax) == 48 &&
              offsetof(IoPortInterceptMessage, ds) == 72 && offsetof(IoPortInterceptMessage, rcx) == 104);

struct MsrInterceptMessage {
    InterceptHeader header;
    uint32_t msr;
    uint32_t reserved;
    uint64_t rdx, rax;
};
static_assert(sizeof(MsrInterceptMessage) == 64 && offsetof(MsrInterceptMessage, rdx) == 48);

struct CpuidInterceptMessage {
    InterceptHeader header;
    uint64_t rax, rcx, rdx, rbx;
    uint64_t default_rax, default_rcx, default_rdx, default_rbx;   // what the hypervisor would return
};
static_assert(sizeof(CpuidInterceptMessage) == 104);

namespace memory_access {         // HV_X64_MEMORY_ACCESS_INFO
inline constexpr uint8_t gva_valid = 1u << 0, gva_gpa_valid = 1u << 1;
inline constexpr uint8_t hypercall_output_pending = 1u << 2, tlb_locked_no_overlay = 1u << 3;
} // namespace memory_access

enum class CacheType : uint32_t { uncached = 0, write_combining = 1, write_through = 4, write_protected = 5,
                                  write_back = 6 };

struct MemoryInterceptMessage {   // unmapped_gpa and gpa_intercept
    InterceptHeader header;
    CacheType cache_type;
    uint8_t instruction_byte_count;
    uint8_t access_info;          // memory_access
    uint8_t tpr_priority;
    uint8_t reserved;
    uint64_t gva;
    uint64_t gpa;
    uint8_t instruction_bytes[16];
};
static_assert(sizeof(MemoryInterceptMessage) == 80 && offsetof(MemoryInterceptMessage, gva) == 48 &&
              offsetof(MemoryInterceptMessage, instruction_bytes) == 64);

namespace exception_info {        // HV_X64_EXCEPTION_INFO
inline constexpr uint8_t error_code_valid = 1u << 0, software_exception = 1u << 1;
} // namespace exception_info

struct ExceptionInterceptMessage {
    InterceptHeader header;
    uint16_t vector;
    uint8_t info;                 // exception_info
    uint8_t instruction_byte_count;
    uint32_t error_code;
    uint64_t exception_parameter; // CR2 for #PF, DR6 for #DB
    uint64_t reserved;
    uint8_t instruction_bytes[16];
    SegmentRegister ds, ss;
    uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};
static_assert(sizeof(ExceptionInterceptMessage) == message_payload_max &&
              offsetof(ExceptionInterceptMessage, instruction_bytes) == 64 &&
              offsetof(ExceptionInterceptMessage, rax) == 112);

// unrecoverable_exception and x64_halt carry the intercept header alone.
using UnrecoverableExceptionMessage = InterceptHeader;
using HaltMessage = InterceptHeader;

struct InvalidVpRegisterMessage {
    uint32_t vp_index;
    uint32_t reserved;
};
enum class UnsupportedFeature : uint32_t { intercept = 1, task_switch_tss = 2 };
struct UnsupportedFeatureMessage {
    uint32_t vp_index;
    UnsupportedFeature feature;
    uint64_t parameter;
};
struct ApicEoiMessage {
    uint32_t vp_index;
    uint32_t vector;
};
struct SipiInterceptMessage {
    InterceptHeader header;
    uint32_t target_vp_index;
    uint32_t vector;
};
struct InterruptionDeliverableMessage {
    InterceptHeader header;
    uint32_t deliverable_type;    // pending_interruption::type_*
    uint32_t reserved;
};
static_assert(sizeof(InvalidVpRegisterMessage) == 8 && sizeof(UnsupportedFeatureMessage) == 16 &&
              sizeof(ApicEoiMessage) == 8);
static_assert(sizeof(SipiInterceptMessage) == 48 && sizeof(InterruptionDeliverableMessage) == 48);

} // namespace tlfs::root
