#include "vmx/smoke_env.hpp"

#include "hv/console.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/physical.hpp"
#include "vmx/bitmaps.hpp"
#include "vmx/vcpu.hpp"
#include "vmx/vmx.hpp"

namespace vmx {

namespace {

bool page(SmokePage& p, uint64_t count = 1) {
    if (!(count == 1 ? hv::mem::alloc_frame(p.pa) : hv::mem::alloc_frames(count, hv::page_size, p.pa)))
        return false;
    p.va = static_cast<uint8_t*>(hv::phys_to_virt(p.pa));
    for (uint64_t i = 0; i < count * hv::page_size; ++i)
        p.va[i] = 0;
    return true;
}

void copy(uint8_t* to, const uint8_t* from, const uint8_t* end) {
    while (from != end)
        *to++ = *from++;
}

constexpr hv::PagePerms rwx{true, true, true, false, hv::CacheType::write_back};

} // namespace

bool SmokeEptMemory::alloc_table(hv::PhysAddr& out) {
    SmokePage p;
    if (!page(p))
        return false;
    out = p.pa;
    return true;
}

uint64_t* SmokeEptMemory::table(hv::PhysAddr p) const { return static_cast<uint64_t*>(hv::phys_to_virt(p)); }

bool SmokeEnv::build() {
    SmokePage* all[] = {&vmxon, &vmcs[0], &vmcs[1], &xsave[0], &xsave[1], &msr_bitmap, &code,
                        &real_code, &stack, &tables, &pml4, &pdpt, &data};
    for (SmokePage* p : all) {
        if (!page(*p)) {
            hv::console::log("# out of frames\n");
            return false;
        }
    }
    if (!page(io_bitmap, 2) || !enable_processor(vmxon.pa, vmxon.va))
        return false;
    if (hv::PtError err = ept.create(); err != hv::PtError::none)
        return false;
    if (hv::PtError err = ept.map_range(hv::GuestPhysAddr(0), hv::PhysAddr(0), 4ull << 30, rwx);
        err != hv::PtError::none) {
        hv::console::log("# %s\n", hv::describe(err));
        return false;
    }
    msr_bitmap_intercept_all(msr_bitmap.va);
    static_cast<void>(msr_bitmap_set(msr_bitmap.va, 0xc0000100, false, true));   // FS base reads pass
    io_bitmap_intercept_all(io_bitmap.va);
    hw = {ept.root(), msr_bitmap.pa, io_bitmap.pa, 1};

    copy(code.va, vmx_smoke_blob, vmx_smoke_blob_end);
    copy(real_code.va, vmx_smoke_real, vmx_smoke_real_end);
    // Guest paging: PML4[0] -> PDPT of 1 GiB identity pages over 8 GiB (P, RW, PS).
    reinterpret_cast<uint64_t*>(pml4.va)[0] = pdpt.pa.raw() | 3;
    for (uint64_t i = 0; i < 8; ++i)
        reinterpret_cast<uint64_t*>(pdpt.va)[i] = (i << 30) | 0x83;
    // GDT at 0: null, 64-bit code (0x08), data (0x10). IDT at 0x800: one interrupt gate.
    auto* gdt = reinterpret_cast<uint64_t*>(tables.va);
    gdt[1] = 0x00af9b000000ffffull;
    gdt[2] = 0x00cf93000000ffffull;
    set_gate(guest_vector, at(vmx_smoke_irq_handler));
    set_gate(13, at(vmx_smoke_gp_handler));
    return true;
}

// A 64-bit interrupt gate, present, DPL 0, selector 0x08 (SDM vol 3 6.14.1 figure 6-8).
void SmokeEnv::set_gate(uint8_t vector, uint64_t handler) {
    auto* gate = reinterpret_cast<uint64_t*>(tables.va + 0x800 + 16 * vector);
    gate[0] = (handler & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((handler >> 16 & 0xffff) << 48);
    gate[1] = handler >> 32;
}

hv::virt::StartState SmokeEnv::long_start(const uint8_t* label) const {
    return {hv::virt::StartState::Mode::long_mode, 0, at(label), stack.pa.raw() + hv::page_size, pml4.pa.raw(),
            0x1111, 0x2222};
}

void SmokeEnv::prepare_long_guest(Vcpu& v) const {
    v.set_gdtr({tables.pa.raw(), 0x17});
    v.set_idtr({tables.pa.raw() + 0x800, 0x7ff});
    v.set_exception_intercepts(1u << 6);
}

bool SmokeEnv::map_data_page() {
    return ept.map(hv::GuestPhysAddr(unmapped_gpa), data.pa, hv::PageSize::size_4k, rwx) == hv::PtError::none;
}

// The SIPI page must sit below 1 MiB in the guest; EPT puts our page there instead of the
// host's own low memory.
bool SmokeEnv::map_real_mode_page(uint64_t gpa) {
    if (ept.unmap(hv::GuestPhysAddr(gpa), hv::page_size) != hv::PtError::none)
        return false;
    return ept.map(hv::GuestPhysAddr(gpa), real_code.pa, hv::PageSize::size_4k, rwx) == hv::PtError::none;
}

} // namespace vmx
