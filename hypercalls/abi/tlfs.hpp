// Hyper-V Top-Level Functional Specification numbers: the ABI every partition (our root kernel,
// our test kernels, an unmodified Linux) uses to reach the hypervisor. Partition code includes
// this set only, never hv/ internals. Sections cited are of the TLFS (v6.0b).
#pragma once
#include <stdint.h>

namespace tlfs {

// 2.4 Hypervisor CPUID leaves.
namespace cpuid {
inline constexpr uint32_t vendor = 0x40000000;      // EAX max leaf; EBX-EDX "Microsoft Hv"
inline constexpr uint32_t interface = 0x40000001;   // EAX "Hv#1"
inline constexpr uint32_t version = 0x40000002;
inline constexpr uint32_t features = 0x40000003;    // EAX/EBX privileges, ECX power, EDX misc
inline constexpr uint32_t recommendations = 0x40000004;
inline constexpr uint32_t limits = 0x40000005;
inline constexpr uint32_t hw_features = 0x40000006;
inline constexpr uint32_t cpu_management = 0x40000007;
inline constexpr uint32_t svm_features = 0x40000008;
inline constexpr uint32_t nested_features = 0x40000009;
inline constexpr uint32_t nested_optimizations = 0x4000000a;
inline constexpr uint32_t max_leaf = nested_optimizations;
inline constexpr uint32_t interface_signature = 0x31237648;   // "Hv#1"
} // namespace cpuid

// Partition privilege mask (TLFS 4.2.2): low 32 bits in CPUID 0x40000003 EAX, high in EBX.
namespace privilege {
// EAX: access to synthetic MSRs
inline constexpr uint64_t vp_runtime_msr = 1ull << 0;
inline constexpr uint64_t time_ref_count_msr = 1ull << 1;
inline constexpr uint64_t synic_msrs = 1ull << 2;
inline constexpr uint64_t synthetic_timer_msrs = 1ull << 3;
inline constexpr uint64_t apic_msrs = 1ull << 4;
inline constexpr uint64_t hypercall_msrs = 1ull << 5;
inline constexpr uint64_t vp_index_msr = 1ull << 6;
inline constexpr uint64_t reset_msr = 1ull << 7;
inline constexpr uint64_t stats_msr = 1ull << 8;
inline constexpr uint64_t partition_reference_tsc = 1ull << 9;
inline constexpr uint64_t guest_idle_msr = 1ull << 10;
inline constexpr uint64_t frequency_msrs = 1ull << 11;
inline constexpr uint64_t debug_msrs = 1ull << 12;
// EBX (bit n of EBX is bit 32+n of the mask)
inline constexpr uint64_t create_partitions = 1ull << 32;
inline constexpr uint64_t access_partition_id = 1ull << 33;
inline constexpr uint64_t access_memory_pool = 1ull << 34;
inline constexpr uint64_t adjust_message_buffers = 1ull << 35;
inline constexpr uint64_t post_messages = 1ull << 36;
inline constexpr uint64_t signal_events = 1ull << 37;
inline constexpr uint64_t create_port = 1ull << 38;
inline constexpr uint64_t connect_port = 1ull << 39;
inline constexpr uint64_t access_stats = 1ull << 40;
inline constexpr uint64_t debugging = 1ull << 43;
inline constexpr uint64_t cpu_management = 1ull << 44;
} // namespace privilege

// 2.4.4 CPUID 0x40000003 EDX: miscellaneous features.
namespace feature_edx {
inline constexpr uint32_t xmm_hypercall_input = 1u << 4;
inline constexpr uint32_t guest_crash_msrs = 1u << 10;
inline constexpr uint32_t direct_synthetic_timers = 1u << 19;
} // namespace feature_edx

// Synthetic MSRs (TLFS appendix).
namespace msr {
inline constexpr uint32_t guest_os_id = 0x40000000;
inline constexpr uint32_t hypercall = 0x40000001;
inline constexpr uint32_t vp_index = 0x40000002;
inline constexpr uint32_t reset = 0x40000003;
inline constexpr uint32_t vp_runtime = 0x40000010;
inline constexpr uint32_t time_ref_count = 0x40000020;
inline constexpr uint32_t reference_tsc = 0x40000021;
inline constexpr uint32_t tsc_frequency = 0x40000022;
inline constexpr uint32_t apic_frequency = 0x40000023;
inline constexpr uint32_t eoi = 0x40000070;
inline constexpr uint32_t icr = 0x40000071;
inline constexpr uint32_t tpr = 0x40000072;
inline constexpr uint32_t vp_assist_page = 0x40000073;
inline constexpr uint32_t scontrol = 0x40000080;
inline constexpr uint32_t sversion = 0x40000081;
inline constexpr uint32_t siefp = 0x40000082;
inline constexpr uint32_t simp = 0x40000083;
inline constexpr uint32_t eom = 0x40000084;
inline constexpr uint32_t sint0 = 0x40000090;
inline constexpr uint32_t sint15 = 0x4000009f;
inline constexpr uint32_t stimer0_config = 0x400000b0;
inline constexpr uint32_t stimer3_count = 0x400000b7;
inline constexpr uint32_t crash_p0 = 0x40000100;
inline constexpr uint32_t crash_ctl = 0x40000105;
inline constexpr uint32_t first = 0x40000000;
inline constexpr uint32_t last = 0x400000ff + 0x100;   // the synthetic range we own
} // namespace msr

// 3.x Hypercall status codes (HV_STATUS).
enum class Status : uint16_t {
    success = 0x0000,
    invalid_hypercall_code = 0x0002,
    invalid_hypercall_input = 0x0003,
    invalid_alignment = 0x0004,
    invalid_parameter = 0x0005,
    access_denied = 0x0006,
    invalid_partition_state = 0x0007,
    operation_denied = 0x0008,
    unknown_property = 0x0009,
    property_value_out_of_range = 0x000a,
    insufficient_memory = 0x000b,
    partition_too_deep = 0x000c,
    invalid_partition_id = 0x000d,
    invalid_vp_index = 0x000e,
    invalid_port_id = 0x0011,
    invalid_connection_id = 0x0012,
    insufficient_buffers = 0x0013,
    not_acknowledged = 0x0014,
    invalid_vp_state = 0x0015,
    acknowledged = 0x0016,
    invalid_save_restore_state = 0x0017,
    invalid_synic_state = 0x0018,
    object_in_use = 0x0019,
    invalid_proximity_domain_info = 0x001a,
    no_data = 0x001b,
    inactive = 0x001c,
    no_resources = 0x001d,
    feature_unavailable = 0x001e,
    partial_packet = 0x001f,
    processor_feature_not_supported = 0x0020,
    insufficient_buffer = 0x0033,
    invalid_register_value = 0x0050,
    invalid_vtl_state = 0x0051,
};

// Hypercall call codes (TLFS appendix A).
namespace call {
inline constexpr uint16_t switch_virtual_address_space = 0x0001;
inline constexpr uint16_t flush_virtual_address_space = 0x0002;
inline constexpr uint16_t flush_virtual_address_list = 0x0003;
inline constexpr uint16_t notify_long_spin_wait = 0x0008;
inline constexpr uint16_t send_synthetic_cluster_ipi = 0x000b;
inline constexpr uint16_t flush_virtual_address_space_ex = 0x0013;
inline constexpr uint16_t flush_virtual_address_list_ex = 0x0014;
inline constexpr uint16_t send_synthetic_cluster_ipi_ex = 0x0015;
inline constexpr uint16_t create_partition = 0x0040;
inline constexpr uint16_t initialize_partition = 0x0041;
inline constexpr uint16_t finalize_partition = 0x0042;
inline constexpr uint16_t delete_partition = 0x0043;
inline constexpr uint16_t get_partition_property = 0x0044;
inline constexpr uint16_t set_partition_property = 0x0045;
inline constexpr uint16_t get_partition_id = 0x0046;
inline constexpr uint16_t deposit_memory = 0x0048;
inline constexpr uint16_t withdraw_memory = 0x0049;
inline constexpr uint16_t map_gpa_pages = 0x004b;
inline constexpr uint16_t unmap_gpa_pages = 0x004c;
inline constexpr uint16_t install_intercept = 0x004d;
inline constexpr uint16_t create_vp = 0x004e;
inline constexpr uint16_t delete_vp = 0x004f;
inline constexpr uint16_t get_vp_registers = 0x0050;
inline constexpr uint16_t set_vp_registers = 0x0051;
inline constexpr uint16_t post_message = 0x005c;
inline constexpr uint16_t signal_event = 0x005d;
inline constexpr uint16_t assert_virtual_interrupt = 0x0094;
inline constexpr uint16_t create_port = 0x0095;
inline constexpr uint16_t connect_port = 0x0096;
inline constexpr uint16_t start_vp = 0x0099;
inline constexpr uint16_t dispatch_vp = 0x00c2;
} // namespace call


// 3.7 Hypercall input value (the control word, RCX) and 3.8 output value (RAX).
namespace control {
inline constexpr uint64_t code_mask = 0xffff;
inline constexpr uint64_t fast = 1ull << 16;
inline constexpr unsigned var_header_shift = 17;     // 8-byte units, 10 bits (26:17)
inline constexpr uint64_t var_header_mask = 0x3ffull << var_header_shift;
inline constexpr unsigned rep_count_shift = 32;      // 12 bits (43:32)
inline constexpr uint64_t rep_count_mask = 0xfffull << rep_count_shift;
inline constexpr unsigned rep_start_shift = 48;      // 12 bits (59:48)
inline constexpr uint64_t rep_start_mask = 0xfffull << rep_start_shift;
inline constexpr uint64_t valid_mask = code_mask | fast | var_header_mask | rep_count_mask | rep_start_mask;
inline constexpr uint16_t max_reps = 0xfff;

constexpr uint64_t make(uint16_t code, bool is_fast = false, uint16_t reps = 0, uint16_t start = 0,
                        uint16_t var_qwords = 0) {
    return code | (is_fast ? fast : 0) | (uint64_t{var_qwords & 0x3ffu} << var_header_shift) |
           (uint64_t{reps & 0xfffu} << rep_count_shift) | (uint64_t{start & 0xfffu} << rep_start_shift);
}
} // namespace control

namespace result {
inline constexpr unsigned reps_shift = 32;   // reps completed, 43:32
constexpr uint16_t status(uint64_t rax) { return static_cast<uint16_t>(rax); }
constexpr uint16_t reps(uint64_t rax) { return static_cast<uint16_t>((rax >> reps_shift) & 0xfff); }
constexpr uint64_t make(uint16_t st, uint16_t reps_done) { return st | (uint64_t{reps_done & 0xfffu} << reps_shift); }
} // namespace result

// 3.13 HV_X64_MSR_HYPERCALL: bit 0 enable, 11:1 reserved (reads as zero here), 63:12 the page's GPFN.
namespace hypercall_msr {
inline constexpr uint64_t enable = 1;
inline constexpr uint64_t gpfn_mask = ~0xfffull;
} // namespace hypercall_msr

inline constexpr uint64_t partition_id_self = ~0ull;   // HV_PARTITION_ID_SELF
inline constexpr uint32_t vp_index_self = 0xfffffffe;  // HV_VP_INDEX_SELF

// 15.4 TLB flush flags (HvCallFlushVirtualAddressSpace/List and their Ex forms).
namespace flush {
inline constexpr uint64_t all_processors = 1ull << 0;
inline constexpr uint64_t all_virtual_address_spaces = 1ull << 1;
inline constexpr uint64_t non_global_mappings_only = 1ull << 2;
inline constexpr uint64_t use_extended_range_format = 1ull << 3;
inline constexpr uint64_t valid = all_processors | all_virtual_address_spaces | non_global_mappings_only |
                                  use_extended_range_format;
} // namespace flush

// 7.x HV_GENERIC_SET (the sparse VP set of the Ex calls): format, valid-bank mask, then one
// 64-bit word per set bit of the mask (bank b covers VPs 64b..64b+63) in the variable header.
namespace vp_set {
inline constexpr uint64_t sparse_4k = 0;
inline constexpr uint64_t all = 1;
} // namespace vp_set

// Synthetic interrupt vectors a guest may name (HvCallSendSyntheticClusterIpi).
inline constexpr uint32_t min_ipi_vector = 0x10, max_ipi_vector = 0xff;
inline constexpr uint32_t event_flags_count = 2048;   // HV_EVENT_FLAGS_COUNT
inline constexpr uint32_t message_payload_max = 240;  // HV_MESSAGE_PAYLOAD_BYTE_COUNT

// Input and output layouts (TLFS appendix; 8-byte aligned, padded to 8 bytes).
struct FlushSpaceInput {          // HvCallFlushVirtualAddressSpace / List (then GVA ranges)
    uint64_t address_space;
    uint64_t flags;
    uint64_t processor_mask;
};
struct FlushSpaceExInput {        // the Ex forms: a VP set in place of the mask
    uint64_t address_space;
    uint64_t flags;
    uint64_t set_format;
    uint64_t valid_bank_mask;     // followed by the banks in the variable header
};
struct SendIpiInput {
    uint32_t vector;
    uint8_t target_vtl;
    uint8_t reserved[3];
    uint64_t processor_mask;
};
struct SendIpiExInput {
    uint32_t vector;
    uint8_t target_vtl;
    uint8_t reserved[3];
    uint64_t set_format;
    uint64_t valid_bank_mask;
};
struct VpRegistersInput {         // Get/SetVpRegisters header, then names / name-value pairs
    uint64_t partition_id;
    uint32_t vp_index;
    uint8_t input_vtl;
    uint8_t reserved[3];
};
struct RegisterValue {            // HV_REGISTER_VALUE: 16 bytes
    uint64_t low, high;
};
struct RegisterAssoc {            // HV_REGISTER_ASSOC
    uint32_t name;
    uint32_t reserved1;
    uint64_t reserved2;
    RegisterValue value;
};
struct PostMessageInput {
    uint32_t connection_id;
    uint32_t reserved;
    uint32_t message_type;
    uint32_t payload_size;
    uint64_t payload[message_payload_max / 8];
};
struct SignalEventInput {
    uint32_t connection_id;
    uint16_t flag_number;
    uint16_t reserved;
};
static_assert(sizeof(FlushSpaceInput) == 24 && sizeof(FlushSpaceExInput) == 32);
static_assert(sizeof(SendIpiInput) == 16 && sizeof(SendIpiExInput) == 24);
static_assert(sizeof(VpRegistersInput) == 16 && sizeof(RegisterAssoc) == 32);
static_assert(sizeof(PostMessageInput) == 256 && sizeof(SignalEventInput) == 8);

// HV_REGISTER_NAME values (TLFS appendix, x64).
namespace reg {
inline constexpr uint32_t rax = 0x00020000;   // ... r15 = rax + 15, in the x86 encoding order
inline constexpr uint32_t r15 = 0x0002000f;
inline constexpr uint32_t rip = 0x00020010;
inline constexpr uint32_t rflags = 0x00020011;
inline constexpr uint32_t cr0 = 0x00040000;
inline constexpr uint32_t cr2 = 0x00040001;
inline constexpr uint32_t cr3 = 0x00040002;
inline constexpr uint32_t cr4 = 0x00040003;
inline constexpr uint32_t es = 0x00060000;    // es, cs, ss, ds, fs, gs, ldtr, tr in order
inline constexpr uint32_t tr = 0x00060007;
inline constexpr uint32_t idtr = 0x00070000;
inline constexpr uint32_t gdtr = 0x00070001;
inline constexpr uint32_t efer = 0x00080001;
} // namespace reg

} // namespace tlfs
