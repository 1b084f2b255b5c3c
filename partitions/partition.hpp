// The hypervisor's partition and virtual-processor objects (TLFS ch. 4 and 6). The backend's
// Vcpu behind each Vp is created by the vendor layer chosen at boot (hv/virt/vendor.hpp); these
// objects hold what is the same on both vendors.
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/lib/spinlock.hpp"
#include "hv/virt/cpuid_policy.hpp"
#include "hv/virt/guest_state.hpp"
#include "hv/virt/intercept.hpp"
#include "hv/virt/synic.hpp"
#include "hv/virt/synthetic_time.hpp"
#include "hv/virt/uart.hpp"
#include "hv/virt/vcpu.hpp"
#include "hv/virt/lapic.hpp"
#include "hv/virt/vtimer.hpp"
#include "hypercalls/page.hpp"

namespace hv {

struct Partition;

enum class VpState : uint8_t {
    stopped,         // never started, or stopped for good
    wait_for_sipi,   // after INIT (Intel SDM vol 3 8.4.1): only a SIPI starts it
    runnable,        // has a start pending or was running
    running,
};

struct Vp {
    Partition* partition = nullptr;
    uint32_t index = 0;          // the TLFS VP index
    uint32_t apic_id = 0;
    uint32_t cpu = 0;            // the processor that runs it (root VPs are pinned one to one)
    VpState state = VpState::stopped;
    virt::StartState start{};    // applied at the next entry when start_pending
    bool start_pending = false;
    bool nmi_pending = false;
    virt::GuestGprs gprs{};
    void* vcpu = nullptr;        // svm::Vcpu or vmx::Vcpu, per the backend chosen at boot
    uint64_t pending_irq[4]{};   // vectors waiting for injection, one bit each
    // Of those, the ones the hypervisor raised itself (SynIC, timers, self-IPI): no physical
    // APIC has them in service, so the root's EOI of one is the virtual APIC's (vp_runtime.hpp).
    uint64_t soft_irq[4]{};
    uint64_t soft_isr[4]{};      // raised by the hypervisor, injected, not yet EOIed (root VPs)
    virt::VpTimers timers{};     // APIC timer and synthetic timers (hv/virt/vtimer.hpp)
    virt::ApicRegs lapic{};      // a child's local APIC (hv/virt/lapic.hpp); the root's is the processor's
    bool halted_in_root = false;
    uint8_t cr8 = 0;
    uint32_t phys_in_service = 0;   // physical vectors injected into the root and not yet EOIed             // the root's TPR class as the exit loop last saw it (AMD-V V_TPR) // a child VP DispatchVp returned halted: wake it through the root's scheduler
    uint64_t exits[static_cast<int>(virt::ExitKind::unknown) + 1]{};
    uint32_t refusals_logged = 0;   // bounds the log lines a misbehaving guest can cause
    uint64_t refused_rip = 0, refused_gpa = 0;   // the last refused access (exit_loop.hpp, refuse_gpa)
    uint32_t refused_repeats = 0;
    uint64_t last_exits = 0;        // the kinds of the last eight exits, one byte each (diagnostics)
    uint64_t exits_before_refusal = 0;
    virt::SynicVp synic{};          // SynIC registers (hv/virt/synic.hpp), under the SynIC lock

    // Child partitions (hv/virt/children.cpp).
    bool flush_nested = false;   // the partition's nested map changed: flush before the next entry
    bool running = false;        // dispatched right now (a child VP runs on one processor at a time)
    bool exists = false;         // created by CreateVp and not deleted
    uint32_t last_cpu = ~0u;     // where its Vcpu was last loaded (VT-x VMCS, extended state)
    uint64_t vp_assist_msr = 0;  // HV_X64_MSR_VP_ASSIST_PAGE as last written (TLFS 7.8.7)
};

enum class PartitionKind : uint8_t { root, child };
inline constexpr uint64_t root_partition_id = 1;   // the root's partition id; children get theirs from CreatePartition

struct Partition {
    uint64_t id = 0;
    PartitionKind kind = PartitionKind::child;
    char name[16] = {};
    virt::CpuidPolicy cpuid{};
    virt::PartitionHw hw{};
    bool nested_is_ept = false;     // the format of hw.nested_root (VT-x EPT or AMD-V NPT)
    uint8_t* msr_bitmap = nullptr;
    uint8_t* io_bitmap = nullptr;
    Spinlock uart_lock;
    virt::Uart16550 uart;
    bool debug_exit_port = false;   // port 0xf4 ends the machine run (emulators only)
    uint32_t vp_count = 0;
    Vp* vps = nullptr;
    void* child = nullptr;          // hv::virt::Child for child partitions (hv/virt/children.hpp)
    // Child partitions keep their VPs in deposited pages, by index (null where none exists):
    // vp_table has vp_table_size slots. The root's VPs are the array `vps` instead.
    Vp** vp_table = nullptr;
    uint32_t vp_table_size = 0;

    [[nodiscard]] Vp* vp_at(uint32_t i) const {
        if (vp_table)
            return i < vp_table_size ? vp_table[i] : nullptr;
        return i < vp_count ? &vps[i] : nullptr;
    }
    // One past the highest VP index in use.
    [[nodiscard]] uint32_t vp_span() const {
        if (!vp_table)
            return vp_count;
        uint32_t n = 0;
        for (uint32_t i = 0; i < vp_table_size; i++)
            if (vp_table[i])
                n = i + 1;
        return n;
    }

    [[nodiscard]] Vp* vp_by_apic_id(uint32_t apic_id) {
        for (uint32_t i = 0; i < vp_count; i++)
            if (vps[i].apic_id == apic_id)
                return &vps[i];
        return nullptr;
    }

    // The hypercall interface (hypercalls/page.hpp): guest OS ID and hypercall page, per partition.
    Spinlock hypercall_lock;
    hypercalls::InterfaceState hypercall{};

    // Reference time, the reference TSC page and the crash MSRs (hv/virt/synthetic_time.hpp).
    // Time counts from construction, which is the partition's creation (boot for the root,
    // CreatePartition for a child).
    Spinlock time_lock;
    virt::SyntheticTime time{virt::read_tsc()};
};

} // namespace hv
