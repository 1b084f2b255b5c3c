// The world the VT-x smoke suite builds for its guests: VMXON region, VMCS and XSAVE pages, an
// identity EPT over the first 4 GiB (hv/memory/page_table.hpp in its EPT format), MSR and I/O
// bitmaps, and for a 64-bit guest a GDT, an IDT and identity page tables with 1 GiB pages.
#pragma once
#include <stdint.h>

#include "hv/lib/addr.hpp"
#include "hv/memory/page_table.hpp"
#include "hv/virt/vcpu.hpp"

extern "C" const uint8_t vmx_smoke_blob[], vmx_smoke_blob_end[], vmx_smoke_exits[], vmx_smoke_gprs[],
    vmx_smoke_irq[], vmx_smoke_irq_handler[], vmx_smoke_gp_handler[], vmx_smoke_xsetbv[], vmx_smoke_xmm[], vmx_smoke_spin[],
    vmx_smoke_loop[], vmx_smoke_real[], vmx_smoke_real_end[];

namespace vmx {

class Vcpu;

struct SmokePage {
    hv::PhysAddr pa;
    uint8_t* va = nullptr;
};

struct SmokeEptMemory {
    [[nodiscard]] bool alloc_table(hv::PhysAddr& out);
    [[nodiscard]] uint64_t* table(hv::PhysAddr p) const;
};

struct SmokeEnv {
    static constexpr uint64_t unmapped_gpa = (4ull << 30) + 0x1000;   // beyond the identity map
    static constexpr uint8_t guest_vector = 0x40;

    SmokePage vmxon, vmcs[2], xsave[2], msr_bitmap, io_bitmap, code, real_code, stack, tables, pml4, pdpt, data;
    SmokeEptMemory ept_memory;
    hv::PageTable<hv::EptFormat, SmokeEptMemory> ept{ept_memory};
    hv::virt::PartitionHw hw{};

    [[nodiscard]] bool build();
    [[nodiscard]] uint64_t at(const uint8_t* label) const { return code.pa.raw() + (label - vmx_smoke_blob); }
    [[nodiscard]] hv::virt::StartState long_start(const uint8_t* label) const;
    void prepare_long_guest(Vcpu& v) const;   // GDT, IDT, #UD intercept
    [[nodiscard]] bool map_data_page();
    [[nodiscard]] bool map_real_mode_page(uint64_t gpa);
    void set_gate(uint8_t vector, uint64_t handler);
};

} // namespace vmx
