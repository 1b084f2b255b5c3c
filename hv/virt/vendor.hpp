// The vendor operations the vendor-neutral layer needs beyond the Vcpu concept (hv/virt/vcpu.hpp):
// enabling a processor, creating a Vcpu, and the layouts of the MSR and I/O intercept bitmaps.
// One struct per backend; templates over them (hv/virt/exit_loop.hpp) are instantiated once each,
// and the backend is picked once at boot: no virtual calls on the exit path.
#pragma once
#include <stdint.h>

#include "hv/memory/page_table.hpp"
#include "hv/virt/vcpu.hpp"
#include "svm/vcpu.hpp"
#include "vmx/vcpu.hpp"

namespace hv::virt {

struct SvmVendor {
    using Vcpu = svm::Vcpu;
    using NestedFormat = NptFormat;
    static constexpr const char* name = "svm";
    [[nodiscard]] static bool enable_this_cpu();
    // Allocates the bitmaps (from the hypervisor's pool), filled to intercept nothing or, with
    // `intercept_all`, everything, and records them in hw.
    [[nodiscard]] static bool alloc_bitmaps(PartitionHw& hw, uint8_t*& msr, uint8_t*& io, bool intercept_all = false);
    static void free_bitmaps(const PartitionHw& hw);
    static void pass_msr(uint8_t* msr_bitmap, uint32_t msr);
    static void intercept_msr(uint8_t* msr_bitmap, uint32_t msr, bool read, bool write);
    static void intercept_io(uint8_t* io_bitmap, uint16_t port);
    [[nodiscard]] static Vcpu* create_vcpu(const PartitionHw& hw);
    // The same in pages the caller provides (a child's deposit): control page (VMCB/VMCS), XSAVE
    // area, and storage for the object itself (sizeof(Vcpu), 64-byte aligned).
    [[nodiscard]] static Vcpu* create_vcpu_in(const PartitionHw& hw, PhysAddr control, PhysAddr xsave, void* storage);
    // Before the Vcpu's pages are reused or it moves processors: on the processor it last ran
    // on, drop every cached reference to it (VMCLEAR; the extended-state owner).
    static void retire(Vcpu& v);
    // The partition's nested map changed: drop its cached translations before the next entry.
    static void flush_nested(Vcpu& v);
    [[nodiscard]] static bool large_nested_pages();   // 1 GiB leaves in the nested tables
    [[nodiscard]] static uint32_t tag_count();        // ASIDs: 1 .. count-1 are usable
};

struct VmxVendor {
    using Vcpu = vmx::Vcpu;
    using NestedFormat = EptFormat;
    static constexpr const char* name = "vmx";
    [[nodiscard]] static bool enable_this_cpu();
    // Allocates the bitmaps (from the hypervisor's pool), filled to intercept nothing or, with
    // `intercept_all`, everything, and records them in hw.
    [[nodiscard]] static bool alloc_bitmaps(PartitionHw& hw, uint8_t*& msr, uint8_t*& io, bool intercept_all = false);
    static void free_bitmaps(const PartitionHw& hw);
    static void pass_msr(uint8_t* msr_bitmap, uint32_t msr);
    static void intercept_msr(uint8_t* msr_bitmap, uint32_t msr, bool read, bool write);
    static void intercept_io(uint8_t* io_bitmap, uint16_t port);
    [[nodiscard]] static Vcpu* create_vcpu(const PartitionHw& hw);
    // The same in pages the caller provides (a child's deposit): control page (VMCB/VMCS), XSAVE
    // area, and storage for the object itself (sizeof(Vcpu), 64-byte aligned).
    [[nodiscard]] static Vcpu* create_vcpu_in(const PartitionHw& hw, PhysAddr control, PhysAddr xsave, void* storage);
    // Before the Vcpu's pages are reused or it moves processors: on the processor it last ran
    // on, drop every cached reference to it (VMCLEAR; the extended-state owner).
    static void retire(Vcpu& v);
    // The partition's nested map changed: drop its cached translations before the next entry.
    static void flush_nested(Vcpu& v);
    [[nodiscard]] static bool large_nested_pages();   // 1 GiB leaves in the nested tables
    [[nodiscard]] static uint32_t tag_count();        // VPIDs: 1 .. count-1 are usable
};

} // namespace hv::virt
