// Child partitions as the hypervisor keeps them (TLFS ch. 4-7): lifecycle, memory, virtual
// processors, intercepts. The root drives all of it through the root-only hypercalls
// (hypercalls/partition_calls.cpp); this layer enforces the rules (docs/child-partitions.md):
//   - a child only ever gets memory the root gives: deposited pages (taken out of the root's map,
//     used for that child's VP state and nested tables) and mapped pages (the root's, shared
//     with exactly one child);
//   - every page is accounted for in one ledger (partitions/page_ledger.hpp);
//   - nothing a child does can stop the root or another child: its faults end in a message
//     to the root, its VPs run only when the root dispatches them.
#pragma once
#include <stdint.h>

#include "hv/backend.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {

enum class ChildPhase : uint8_t { created, initialized, finalized };

inline constexpr uint32_t kMaxChildVps = 64;
// What a child may do unless the root asks for less (SetPartitionProperty, privilege flags).
inline constexpr uint64_t kDefaultChildPrivileges =
    tlfs::privilege::vp_index_msr | tlfs::privilege::hypercall_msrs | tlfs::privilege::access_partition_id |
    tlfs::privilege::time_ref_count_msr | tlfs::privilege::partition_reference_tsc | tlfs::privilege::frequency_msrs |
    tlfs::privilege::synic_msrs | tlfs::privilege::synthetic_timer_msrs | tlfs::privilege::apic_msrs |
    tlfs::privilege::post_messages | tlfs::privilege::signal_events;
inline constexpr uint32_t kMaxInterceptEntries = 32;

struct InterceptConfig {
    uint64_t io_ports[65536 / 64];        // ports whose accesses go to the root
    uint32_t msrs[kMaxInterceptEntries];  // MSRs whose accesses go to the root
    uint32_t msr_count;
    uint32_t cpuid_leaves[kMaxInterceptEntries];
    uint32_t cpuid_count;
    uint32_t exceptions;                  // vectors whose delivery goes to the root
};

struct Child {
    Partition part;               // part.vps stays empty: child VPs live in deposited pages
    Vp* vp_table[kMaxChildVps] = {};
    bool dying = false;
    uint8_t slot = 0;
    ChildPhase phase = ChildPhase::created;
    uint64_t deposit_head = 0;    // free deposited frames: a list threaded through the frames
    uint64_t deposit_free = 0;
    uint64_t deposit_total = 0;
    uint64_t mapped_pages = 0;
    uint64_t requested_privileges = 0;   // 0: the default set (hv/virt/child_vp.cpp init_hw)
    InterceptConfig intercepts{};
};

// Why a dispatched VP came back to the root, with what the root needs to act on it.
struct DispatchReport {
    enum class Reason : uint8_t { intercept, halted, interrupted, stopped } reason;
    uint32_t message_type;   // tlfs message type when reason == intercept (hypercalls/abi/partition.hpp)
    Intercept exit;          // the decoded exit
    uint64_t rip, rflags, cr0, efer;
    uint16_t cs_selector;
    uint16_t cs_attr;
    uint8_t instruction_bytes[16];
    uint8_t instruction_count;
    uint64_t io_value;       // OUT: the value written
    uint64_t msr_value;      // WRMSR: EDX:EAX
    uint32_t cpuid_leaf, cpuid_subleaf;
    uint64_t default_cpuid[4];
};

namespace children {

using tlfs::Status;

// Called once by start_root, after the root's memory is laid out: the ledger spans the root's
// RAM frames [first_frame, end_frame); add_root_ram marks what is the root's within it.
void init(Backend backend, Partition& root, uint64_t first_frame, uint64_t end_frame);
void add_root_ram(uint64_t base, uint64_t length);
// Whether a frame is the root's RAM (its own, or lent to a child): the hypervisor reads and
// writes root memory on the root's behalf only there, never in device ranges.
[[nodiscard]] bool root_ram(uint64_t frame);

[[nodiscard]] Status create(Partition& caller, uint64_t flags, uint64_t& id);
[[nodiscard]] Status initialize(uint64_t id);
[[nodiscard]] Status finalize(uint64_t id);

// Partition properties (TLFS HV_PARTITION_PROPERTY_CODE): privilege flags (settable before
// InitializePartition, never beyond what a child may hold), processor vendor and physical
// address width (read-only). Other codes: HV_STATUS_UNKNOWN_PROPERTY.
[[nodiscard]] Status get_property(uint64_t id, uint32_t code, uint64_t& value);
[[nodiscard]] Status set_property(uint64_t id, uint32_t code, uint64_t value);
[[nodiscard]] Status remove(uint64_t id);

// Pages are root guest-physical page numbers; `done` counts the ones processed.
[[nodiscard]] Status deposit(uint64_t id, const uint64_t* pages, uint32_t count, uint32_t& done);
[[nodiscard]] Status withdraw(uint64_t id, uint64_t* pages, uint32_t max, uint32_t& done);
[[nodiscard]] Status map_gpa(uint64_t id, uint64_t target_page, uint32_t flags, const uint64_t* pages,
                             uint32_t count, uint32_t& done);
[[nodiscard]] Status unmap_gpa(uint64_t id, uint64_t target_page, uint32_t count, uint32_t& done);

enum class InterceptKind : uint8_t { io_port, msr, cpuid, exception };
[[nodiscard]] Status install_intercept(uint64_t id, InterceptKind kind, uint32_t parameter);

[[nodiscard]] Status create_vp(uint64_t id, uint32_t vp_index);
[[nodiscard]] Status delete_vp(uint64_t id, uint32_t vp_index);
[[nodiscard]] Vp* find_vp(uint64_t id, uint32_t vp_index);   // nullptr: no such partition or VP
// The root (its id) or a live child; nullptr for any other id.
[[nodiscard]] Partition* find_partition(uint64_t id);

// A start context (TLFS HV_INITIAL_VP_CONTEXT, neutral form): applied at once, so registers set
// afterwards with SetVpRegisters stand.
struct VpContext {
    uint64_t rip, rsp, rflags;
    Segment cs, ds, es, fs, gs, ss, tr, ldtr;
    DescriptorTable idtr, gdtr;
    uint64_t efer, cr0, cr3, cr4, pat;
};
[[nodiscard]] Status start_vp(uint64_t id, uint32_t vp_index, const VpContext& ctx);

// Register access on a child VP that is not running, from the calling processor: `fn(vcpu)`
// runs with the Vcpu loaded here. For Get/SetVpRegisters on children.
[[nodiscard]] Status with_vp(uint64_t id, uint32_t vp_index, void (*fn)(void* ctx, Vp& vp), void* ctx);

enum class InterruptType : uint8_t { fixed, nmi, init, sipi };
// `from_hypervisor`: an IPI between the child's own VPs or a timer; a target halted in the root's
// scheduler is then woken through it (synic::scheduler_signal). The root's own calls wake it themselves.
[[nodiscard]] Status assert_interrupt(uint64_t id, InterruptType type, uint32_t apic_id, uint8_t vector,
                                      bool from_hypervisor = false);

// Runs the child VP on the calling processor until the root is needed (TLFS DispatchVp).
// `time_slice` (100 ns units, 0 for none): the longest the child runs before the root gets its
// processor back, whatever the root's interrupts do.
[[nodiscard]] Status dispatch(Vp& root_vp, uint64_t id, uint32_t vp_index, uint64_t time_slice, DispatchReport& out);

// Pages the ledger accounts for, per owner class, for the create/destroy accounting test.
struct Accounting {
    uint64_t root, mapped, deposited, partitions;
};
[[nodiscard]] Accounting accounting();

} // namespace children
} // namespace hv::virt
