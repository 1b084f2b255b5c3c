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
    // Allocates and fills "intercept nothing" bitmaps and records them in hw.
    [[nodiscard]] static bool alloc_bitmaps(PartitionHw& hw, uint8_t*& msr, uint8_t*& io);
    static void intercept_msr(uint8_t* msr_bitmap, uint32_t msr, bool read, bool write);
    static void intercept_io(uint8_t* io_bitmap, uint16_t port);
    [[nodiscard]] static Vcpu* create_vcpu(const PartitionHw& hw);
    [[nodiscard]] static bool large_nested_pages();   // 1 GiB leaves in the nested tables
};

struct VmxVendor {
    using Vcpu = vmx::Vcpu;
    using NestedFormat = EptFormat;
    static constexpr const char* name = "vmx";
    [[nodiscard]] static bool enable_this_cpu();
    [[nodiscard]] static bool alloc_bitmaps(PartitionHw& hw, uint8_t*& msr, uint8_t*& io);
    static void intercept_msr(uint8_t* msr_bitmap, uint32_t msr, bool read, bool write);
    static void intercept_io(uint8_t* io_bitmap, uint16_t port);
    [[nodiscard]] static Vcpu* create_vcpu(const PartitionHw& hw);
    [[nodiscard]] static bool large_nested_pages();
};

} // namespace hv::virt
