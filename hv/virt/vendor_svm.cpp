// AMD-V side of hv/virt/vendor.hpp (AMD APM vol 2 ch. 15).
#include "hv/console.hpp"
#include "hv/lib/new.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/physical.hpp"
#include "hv/virt/vendor.hpp"
#include "svm/bitmaps.hpp"
#include "svm/svm.hpp"

namespace hv::virt {

bool SvmVendor::enable_this_cpu() {
    PhysAddr hsave, vmsave;
    if (!mem::alloc_frame(hsave) || !mem::alloc_frame(vmsave)) {
        console::log("hv: svm: no frames for this processor's save areas\n");
        return false;
    }
    svm::Status s = svm::enable_processor(hsave, vmsave);
    if (s != svm::Status::ok) {
        console::log("hv: svm: cannot enable this processor: %s\n", svm::describe(s));
        return false;
    }
    return true;
}

bool SvmVendor::alloc_bitmaps(PartitionHw& hw, uint8_t*& msr, uint8_t*& io, bool intercept_all) {
    // MSRPM 8 KiB, IOPM 12 KiB, physically contiguous (APM 15.10, 15.11).
    PhysAddr m, i;
    if (!mem::alloc_frames(2, page_size, m) || !mem::alloc_frames(3, page_size, i))
        return false;
    msr = static_cast<uint8_t*>(phys_to_virt(m));
    io = static_cast<uint8_t*>(phys_to_virt(i));
    svm::msrpm_fill(msr, intercept_all);
    svm::iopm_fill(io, intercept_all);
    hw.msr_bitmap = m;
    hw.io_bitmap = i;
    return true;
}

void SvmVendor::intercept_msr(uint8_t* bm, uint32_t msr, bool read, bool write) {
    // MSRs outside the three MSRPM ranges always exit (APM 15.11): nothing to set for them.
    static_cast<void>(svm::set_msr_intercept(bm, msr, read, write));
}

void SvmVendor::intercept_io(uint8_t* bm, uint16_t port) { svm::set_io_intercept(bm, port, true); }

void SvmVendor::free_bitmaps(const PartitionHw& hw) {
    static_cast<void>(mem::free_contiguous(hw.msr_bitmap, 2));
    static_cast<void>(mem::free_contiguous(hw.io_bitmap, 3));
}

void SvmVendor::pass_msr(uint8_t* bm, uint32_t msr) { static_cast<void>(svm::set_msr_intercept(bm, msr, false, false)); }

SvmVendor::Vcpu* SvmVendor::create_vcpu_in(const PartitionHw& hw, PhysAddr control, PhysAddr xsave, void* storage) {
    svm::Vcpu::Pages pages{static_cast<svm::Vmcb*>(phys_to_virt(control)), control, phys_to_virt(xsave)};
    return new (storage) Vcpu(pages, hw, svm::features());
}

uint32_t SvmVendor::tag_count() { return svm::features().asid_count; }

void SvmVendor::retire(Vcpu& v) { v.release_extended_state(); }

void SvmVendor::flush_nested(Vcpu& v) { v.flush_tlb(); }

SvmVendor::Vcpu* SvmVendor::create_vcpu(const PartitionHw& hw) {
    PhysAddr vmcb, xsave;
    if (!mem::alloc_frame(vmcb) || !mem::alloc_frame(xsave))
        return nullptr;
    void* storage = mem::alloc_aligned(sizeof(Vcpu), 64);
    if (!storage)
        return nullptr;
    return create_vcpu_in(hw, vmcb, xsave, storage);
}

bool SvmVendor::large_nested_pages() {
    // NPT walks the guest-physical space with the host's paging features (APM 15.25.5):
    // 1 GiB pages need CPUID 0x80000001 EDX[26].
    uint32_t a = 0x80000001, b, c, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
    return d & (1u << 26);
}

} // namespace hv::virt
