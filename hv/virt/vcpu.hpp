// The one CPU interface. svm::Vcpu and vmx::Vcpu both satisfy `VcpuBackend`; the exit loop and
// everything above it are written once against it and instantiated per backend, which is chosen
// once at boot from CPUID (no virtual calls on the exit path).
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/lib/traits.hpp"
#include "hv/virt/guest_state.hpp"
#include "hv/virt/intercept.hpp"

namespace hv::virt {

// What a partition shares between its virtual processors and hands to each backend Vcpu.
struct PartitionHw {
    PhysAddr nested_root;     // EPT PML4 / NPT PML4 (hv/memory/page_table.hpp formats)
    PhysAddr msr_bitmap;      // vendor layout, built by the backend's msr policy helper
    PhysAddr io_bitmap;       // vendor layout, built by the backend's io policy helper
    uint16_t tag;             // VPID (VT-x) / ASID (AMD-V), unique per partition, never 0
    // MOV CR8 exits (VT-x) so it reaches the partition's own virtual APIC, not the processor's
    // TPR: children. AMD-V keeps CR8 in V_TPR anyway (V_INTR_MASKING, APM 15.21.1).
    bool virtualize_cr8 = false;
};

// How a virtual processor starts (TLFS initial VP context / architectural INIT state).
struct StartState {
    enum class Mode : uint8_t { real_mode_sipi, long_mode } mode;
    uint8_t sipi_vector;      // real mode: CS = vector << 8, IP = 0 (Intel SDM vol 3 8.4.4)
    uint64_t rip, rsp, cr3;   // long mode: flat 64-bit code, paging with this CR3
    uint64_t rdi, rsi;        // long mode: handoff arguments (System V order)
    // Loaded at the start in every mode, all other GPRs zero: Multiboot's EAX/EBX, the
    // processor signature in EDX after INIT (Intel SDM vol 3 9.1.4).
    uint64_t rax = 0, rbx = 0, rdx = 0;
};

// The general-purpose registers at a start (reset() sets everything else): all zero but what
// the start names. GuestGprs belong to the core, so the core sets them, right after reset().
inline void start_gprs(GuestGprs& g, const StartState& st) {
    for (uint64_t& r : g.r)
        r = 0;
    if (st.mode == StartState::Mode::long_mode) {
        g[Gpr::rsp] = st.rsp;
        g[Gpr::rdi] = st.rdi;
        g[Gpr::rsi] = st.rsi;
    }
    g[Gpr::rax] = st.rax;
    g[Gpr::rbx] = st.rbx;
    g[Gpr::rdx] = st.rdx;
}

template <class V>
concept VcpuBackend = requires(V& v, const V& cv, GuestGprs& gprs, Reg r, Seg s, uint64_t x,
                               const Segment& seg, const Event& e, const StartState& st, bool b) {
    { v.reset(st) } -> same_as<void>;
    { v.run(gprs) } -> same_as<Intercept>;                  // enter, return the decoded exit
    { cv.read(r) } -> same_as<uint64_t>;
    { v.write(r, x) } -> same_as<void>;
    { cv.segment(s) } -> same_as<Segment>;
    { v.set_segment(s, seg) } -> same_as<void>;
    { v.advance_rip(static_cast<uint8_t>(x)) } -> same_as<void>; // also ends an STI/MOV SS shadow
    { v.inject(e) } -> same_as<void>;                       // delivered at the next entry
    { cv.injection_pending() } -> same_as<bool>;
    { cv.interruptible() } -> same_as<bool>;                // RFLAGS.IF and no interrupt shadow
    { v.request_interrupt_window(b) } -> same_as<void>;
    { v.set_exception_intercepts(static_cast<uint32_t>(x)) } -> same_as<void>;
};

} // namespace hv::virt
