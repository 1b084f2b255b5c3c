// Intel VT-x side of hv/virt/vendor.hpp (Intel SDM vol 3C ch. 24-28).
#include "hv/arch/tsc.hpp"
#include "hv/console.hpp"
#include "hv/lib/new.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/physical.hpp"
#include "hv/virt/vendor.hpp"
#include "vmx/bitmaps.hpp"
#include "vmx/vmx.hpp"

namespace hv::virt {

bool VmxVendor::enable_this_cpu() {
    PhysAddr region;
    if (!mem::alloc_frame(region))
        return false;
    if (!vmx::enable_processor(region, phys_to_virt(region))) {
        console::log("hv: vmx: cannot enter VMX operation on this processor\n");
        return false;
    }
    return true;
}

bool VmxVendor::alloc_bitmaps(PartitionHw& hw, uint8_t*& msr, uint8_t*& io, bool intercept_all) {
    // One 4 KiB MSR bitmap and two 4 KiB I/O bitmaps A and B (SDM vol 3 25.6.4, 25.6.9); zeroed
    // frames intercept nothing inside the ranges the bitmaps cover.
    PhysAddr m, i;
    if (!mem::alloc_frame(m) || !mem::alloc_frames(2, page_size, i))
        return false;
    msr = static_cast<uint8_t*>(phys_to_virt(m));
    io = static_cast<uint8_t*>(phys_to_virt(i));
    __builtin_memset(msr, intercept_all ? 0xff : 0, page_size);
    __builtin_memset(io, intercept_all ? 0xff : 0, 2 * page_size);
    hw.msr_bitmap = m;
    hw.io_bitmap = i;
    return true;
}

void VmxVendor::intercept_msr(uint8_t* bm, uint32_t msr, bool read, bool write) {
    // MSRs outside the bitmap's two ranges always exit (SDM vol 3 26.1.3).
    static_cast<void>(vmx::msr_bitmap_set(bm, msr, read, write));
}

void VmxVendor::intercept_io(uint8_t* bm, uint16_t port) { vmx::io_bitmap_set(bm, port, true); }

void VmxVendor::free_bitmaps(const PartitionHw& hw) {
    static_cast<void>(mem::free_frame(hw.msr_bitmap));
    static_cast<void>(mem::free_contiguous(hw.io_bitmap, 2));
}

void VmxVendor::pass_msr(uint8_t* bm, uint32_t msr) { static_cast<void>(vmx::msr_bitmap_set(bm, msr, false, false)); }

VmxVendor::Vcpu* VmxVendor::create_vcpu_in(const PartitionHw& hw, PhysAddr control, PhysAddr xsave, void* storage) {
    auto* v = new (storage) Vcpu(control, phys_to_virt(control), phys_to_virt(xsave), hw);
    // A 5 ms backstop in TSC time: long enough to cost nothing, short enough that a guest
    // spinning with IF=0 under an emulator that then takes no interrupt exit cannot hold a
    // processor (and the hypervisor's IPIs to it) for long.
    if (v->ok())
        v->set_backstop(tsc::hz() / 200);
    if (!v->ok()) {
        console::log("hv: vmx: VMCS set-up failed\n");
        return nullptr;
    }
    return v;
}

uint32_t VmxVendor::tag_count() { return 0x10000; }

void VmxVendor::retire(Vcpu& v) { v.unload(); }

// Single-context INVEPT (SDM vol 3 30.3): this partition's EPT translations only.
void VmxVendor::flush_nested(Vcpu& v) { vmx::invept(1, v.eptp()); }

VmxVendor::Vcpu* VmxVendor::create_vcpu(const PartitionHw& hw) {
    PhysAddr vmcs, xsave;
    if (!mem::alloc_frame(vmcs) || !mem::alloc_frame(xsave))
        return nullptr;
    void* storage = mem::alloc_aligned(sizeof(Vcpu), 64);
    if (!storage)
        return nullptr;
    return create_vcpu_in(hw, vmcs, xsave, storage);
}

bool VmxVendor::large_nested_pages() { return vmx::caps().ept_vpid & vmx::ept_1g; }

} // namespace hv::virt
