// The bare-loop calibration (hv/virt/bench.hpp). The guest world is the smallest one that looks
// like the root's: 64-bit paging in the guest and a nested map, so the figure pays what every
// root exit pays in the hardware (a VMCB/VMCS switch, nested-translation state) and nothing else.
#include "hv/virt/bench.hpp"

#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/physical.hpp"
#include "hv/virt/nested_map.hpp"
#include "hv/virt/vendor.hpp"

namespace hv::virt {
namespace {

// Guest-physical layout: three guest page-table levels (a 2 MiB identity page at 0), the code
// page and a stack page.
constexpr uint64_t gpa_pml4 = 0x1000, gpa_pdpt = 0x2000, gpa_pd = 0x3000;
constexpr uint64_t gpa_code = 0x10000, gpa_stack = 0x11000;
constexpr uint8_t call_length = 3;   // 0F 01 C1 (VMCALL) / 0F 01 D9 (VMMCALL)
constexpr uint16_t bench_tag = 2;    // an ASID/VPID of its own; the root's is 1

struct Guest {
    PartitionHw hw{};
    uint8_t* pages[5] = {};          // pml4, pdpt, pd, code, stack
};

template <class Vendor> bool build_guest(Guest& g) {
    static PoolTableMem pool;
    static NestedMap<typename Vendor::NestedFormat> map(pool);
    if (map.create() != PtError::none)
        return false;
    const uint64_t gpas[5] = {gpa_pml4, gpa_pdpt, gpa_pd, gpa_code, gpa_stack};
    const PagePerms rwx{true, true, true, false, CacheType::write_back};
    for (int i = 0; i < 5; i++) {
        PhysAddr pa;
        if (!mem::alloc_frame(pa) ||
            map.map(GuestPhysAddr(gpas[i]), pa, PageSize::size_4k, rwx) != PtError::none)
            return false;
        g.pages[i] = static_cast<uint8_t*>(phys_to_virt(pa));
    }
    auto table = [&](int i) { return reinterpret_cast<uint64_t*>(g.pages[i]); };
    table(0)[0] = gpa_pdpt | 3;   // P | RW
    table(1)[0] = gpa_pd | 3;
    table(2)[0] = 0x83;           // P | RW | PS: GPA 0-2 MiB
    const bool intel = is_same_v<typename Vendor::NestedFormat, EptFormat>;
    const uint8_t code[] = {0x0f, 0x01, static_cast<uint8_t>(intel ? 0xc1 : 0xd9),   // 1: vmcall/vmmcall
                            0xeb, 0xfb};                                              //    jmp 1b
    __builtin_memcpy(g.pages[3], code, sizeof code);
    g.hw.nested_root = map.root();
    g.hw.tag = bench_tag;
    uint8_t *msr, *io;
    return Vendor::alloc_bitmaps(g.hw, msr, io);
}

} // namespace

template <class Vendor> void bench_bare_loop() {
    using V = typename Vendor::Vcpu;
    Guest guest;
    V* cpu = build_guest<Vendor>(guest) ? Vendor::create_vcpu(guest.hw) : nullptr;
    if (!cpu) {
        console::log("bench: bare-loop failed: no memory for the calibration guest\n");
        return;
    }
    uint64_t flags = x86::read_rflags();
    x86::cli();   // as in the exit loop: no host interrupt handler inside a batch
    cpu->reset(StartState{StartState::Mode::long_mode, 0, gpa_code, gpa_stack + page_size, gpa_pml4, 0, 0});
    cpu->set_exception_intercepts(0);
    GuestGprs gprs{};
    Intercept x = cpu->run(gprs);   // the first entry also loads state the loop then reuses
    uint64_t samples[bench_batches];
    bool ok = x.kind == ExitKind::hypercall;
    for (uint32_t b = 0; ok && b < bench_batches; b++) {
        uint64_t t0 = x86::rdtsc();
        for (uint32_t i = 0; i < bench_per_batch; i++) {
            cpu->advance_rip(call_length);
            x = cpu->run(gprs);
            if (x.kind != ExitKind::hypercall) {
                ok = false;
                break;
            }
        }
        samples[b] = (x86::rdtsc() - t0) / bench_per_batch;
    }
    // Leave this processor as the root expects to find it: no extended state or VMCS of ours.
    if constexpr (requires { cpu->unload(); })
        cpu->unload();
    else
        cpu->release_extended_state();
    if (flags & (1u << 9))
        x86::sti();
    if (!ok) {
        console::log("bench: bare-loop failed: the calibration guest left with exit %s\n",
                     exit_kind_name(x.kind));
        return;
    }
    console::log("bench: bare-loop backend=%s cycles=%lu batches=%u per=%u\n", Vendor::name,
                 median_of(samples, bench_batches), bench_batches, bench_per_batch);
}

template void bench_bare_loop<SvmVendor>();
template void bench_bare_loop<VmxVendor>();

} // namespace hv::virt
