// Creating the root partition and starting it (docs/root-partition.md): one VP per processor,
// the bootstrap VP in 64-bit mode at the image's entry, the others waiting for the root's own
// INIT-SIPI-SIPI.
#include "hv/virt/root.hpp"
#include "hv/virt/vtimer.hpp"

#include "hv/lib/new.hpp"

#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/panic.hpp"
#include "hv/percpu.hpp"
#include "hv/smp.hpp"
#include "hv/virt/bench.hpp"
#include "hv/virt/children.hpp"
#include "hv/virt/exit_loop.hpp"
#include "hv/virt/nested_map.hpp"
#include "hv/virt/root_layout.hpp"
#include "hv/virt/vendor.hpp"
#include "hypercalls/abi/tlfs.hpp"

namespace hv::virt {
namespace {

using root_abi::RegionType;

Partition* root;
RootLayout* layout;
Backend active_backend = Backend::none;
bool enable_failed;

template <class Vendor> void enable_here(void*) {
    if (!Vendor::enable_this_cpu())
        __atomic_store_n(&enable_failed, true, __ATOMIC_RELAXED);
}

template <class Vendor> void create_vcpu_here(void* arg) {
    auto& vp = *static_cast<Vp*>(arg);
    vp.vcpu = Vendor::create_vcpu(vp.partition->hw);
}

// Guest-physical = host-physical for the root, except the hypervisor's memory, which is not
// mapped at all, and the local APIC page (the root's APIC is the virtual x2APIC).
template <class Vendor> bool build_nested_map(Partition& p, const RootLayout& l) {
    static PoolTableMem pool;
    static NestedMap<typename Vendor::NestedFormat> map(pool);
    if (map.create() != PtError::none)
        return false;
    PageSize largest = Vendor::large_nested_pages() ? PageSize::size_1g : PageSize::size_2m;
    uint64_t limit = 4ull << 30;
    for (size_t i = 0; i < l.regions.count(); i++)
        if (l.regions[i].base + l.regions[i].length > limit)
            limit = l.regions[i].base + l.regions[i].length;
    limit = align_up(limit, 1ull << 30);
    constexpr uint64_t apic_page = 0xfee00000;
    auto map_chunk = [&](uint64_t base, uint64_t end, bool ram) {
        PagePerms perms{true, true, true, false, ram ? CacheType::write_back : CacheType::uncacheable};
        if (base < apic_page + page_size && end > apic_page) {   // leave the APIC page out
            return (base >= apic_page ||
                    map.map_range(GuestPhysAddr(base), PhysAddr(base), apic_page - base, perms, largest) ==
                        PtError::none) &&
                   (end <= apic_page + page_size ||
                    map.map_range(GuestPhysAddr(apic_page + page_size), PhysAddr(apic_page + page_size),
                                  end - apic_page - page_size, perms, largest) == PtError::none);
        }
        return map.map_range(GuestPhysAddr(base), PhysAddr(base), end - base, perms, largest) == PtError::none;
    };
    uint64_t at = 0;
    for (size_t i = 0; i < l.regions.count() && at < limit; i++) {
        const auto& r = l.regions[i];
        uint64_t b = align_down(r.base, page_size), e = align_up(r.base + r.length, page_size);
        if (b > at && !map_chunk(at, b, false))   // a hole in the firmware map: device memory
            return false;
        if (b < at)
            b = at;
        auto type = static_cast<RegionType>(r.type);
        bool ram = type == RegionType::usable || type == RegionType::module || type == RegionType::image ||
                   type == RegionType::boot_data || type == RegionType::acpi_reclaimable ||
                   type == RegionType::acpi_nvs;
        if (type != RegionType::hypervisor && e > b && !map_chunk(b, e, ram))
            return false;
        if (e > at)
            at = e;
    }
    if (at < limit && !map_chunk(at, limit, false))
        return false;
    p.hw.nested_root = map.root();
    p.nested_is_ept = is_same_v<typename Vendor::NestedFormat, EptFormat>;
    return true;
}

// Child partitions get their memory from the root's RAM: the page ledger covers it.
void account_root_ram(Partition& p, const RootLayout& l) {
    auto ram = [](uint32_t t) {
        auto type = static_cast<RegionType>(t);
        return type == RegionType::usable || type == RegionType::module || type == RegionType::image ||
               type == RegionType::boot_data;
    };
    uint64_t lo = ~0ull, hi = 0;
    for (size_t i = 0; i < l.regions.count(); i++)
        if (ram(l.regions[i].type)) {
            lo = l.regions[i].base < lo ? l.regions[i].base : lo;
            hi = l.regions[i].base + l.regions[i].length > hi ? l.regions[i].base + l.regions[i].length : hi;
        }
    if (lo >= hi)
        return;
    children::init(active_backend, p, lo >> page_shift, align_up(hi, page_size) >> page_shift);
    for (size_t i = 0; i < l.regions.count(); i++)
        if (ram(l.regions[i].type))
            children::add_root_ram(l.regions[i].base, l.regions[i].length);
}

template <class Vendor> [[noreturn]] void run_this_cpus_vp() {
    Vp& vp = root->vps[this_cpu().index];
    timers_attach(vp);
    run_vp<Vendor>(vp);
}

void nothing(void*) {}

template <class Vendor> [[noreturn]] void start(const boot::BootInfo& info, const Options& options) {
    uint32_t cpus = online_count();
    uint32_t enabled = smp::call_on_all(enable_here<Vendor>, nullptr);
    if (enabled != cpus || enable_failed) {
        console::log("hv: %s: could not enable virtualization on every processor (%u of %u answered%s)\n",
                     Vendor::name, enabled, cpus, enable_failed ? ", one failed" : "");
        stop(1);
    }
    if (options.bench)
        bench_bare_loop<Vendor>();   // tools/bench: the bare round trip, on the boot processor
    root = static_cast<Partition*>(mem::alloc(sizeof(Partition)));
    layout = static_cast<RootLayout*>(mem::alloc(sizeof(RootLayout)));
    if (!root || !layout)
        panic("no heap for the root partition");
    new (root) Partition;
    new (layout) RootLayout;
    Partition& p = *root;
    p.id = root_partition_id;
    p.kind = PartitionKind::root;
    __builtin_memcpy(p.name, "root", 5);
    p.debug_exit_port = options.on_stop == StopAction::emulator_exit;
    p.cpuid = {tlfs::privilege::cpu_management | tlfs::privilege::vp_index_msr | tlfs::privilege::access_partition_id |
                   tlfs::privilege::hypercall_msrs | tlfs::privilege::post_messages | tlfs::privilege::signal_events |
                   tlfs::privilege::apic_msrs |
                   tlfs::privilege::create_partitions | tlfs::privilege::time_ref_count_msr |
                   tlfs::privilege::partition_reference_tsc | tlfs::privilege::frequency_msrs | tlfs::privilege::synic_msrs |
                   tlfs::privilege::synthetic_timer_msrs,
               tlfs::feature_edx::guest_crash_msrs | tlfs::feature_edx::direct_synthetic_timers, 0, cpus, cpus, true};
    p.hw.tag = 1;
    if (!Vendor::alloc_bitmaps(p.hw, p.msr_bitmap, p.io_bitmap))
        panic("no memory for the root's intercept bitmaps");
    install_policy<Vendor>(p);

    if (!layout_root_memory(info, *layout) || !load_root_image(info, *layout))
        stop(1);
    if (!build_nested_map<Vendor>(p, *layout)) {
        console::log("hv: root: the hypervisor's pool is too small for the root's nested page tables\n");
        stop(1);
    }
    fill_handoff(info, *layout, Vendor::name);
    account_root_ram(p, *layout);
    console::log("hv: root partition: %u VPs, %lu MiB of memory, hypervisor keeps %lu MiB, image %lu KiB at %lx\n",
                 cpus, layout->donated_bytes >> 20, (mem::free_frames() * page_size) >> 20,
                 layout->image_bytes >> 10, layout->image);

    p.vp_count = cpus;
    p.vps = static_cast<Vp*>(mem::alloc(sizeof(Vp) * cpus));
    if (!p.vps)
        panic("no heap for the root's VPs");
    for (uint32_t i = 0; i < cpus; i++) {
        Vp& vp = *new (&p.vps[i]) Vp;
        vp.partition = &p;
        vp.index = i;
        vp.cpu = i;
        vp.apic_id = cpu_slot(i).apic_id;
        // Each VP's Vcpu is made on its own processor: VT-x binds a VMCS to the processor that
        // loaded it (SDM vol 3 24.11.1).
        if (!smp::call_on(i, create_vcpu_here<Vendor>, &vp) || !vp.vcpu) {
            console::log("hv: root: cannot create VP %u\n", i);
            stop(1);
        }
    }
    Vp& bsp = p.vps[0];
    bsp.start = StartState{StartState::Mode::long_mode, 0, layout->entry, layout->stack_top, layout->cr3,
                           layout->handoff, root_abi::kRootHandoffMagic};
    bsp.start_pending = true;
    bsp.state = VpState::runnable;

    install_interrupt_forwarding();
    for (uint32_t i = 1; i < cpus; i++) {
        cpu_slot(i).idle_work = run_this_cpus_vp<Vendor>;
        static_cast<void>(smp::call_on(i, nothing, nullptr));   // wake it to pick the work up
    }
    timers_attach(bsp);
    run_vp<Vendor>(bsp);
}

} // namespace

void start_root(Backend backend, const boot::BootInfo& info, const Options& options) {
    active_backend = backend;
    if (backend == Backend::svm)
        start<SvmVendor>(info, options);
    if (backend == Backend::vmx)
        start<VmxVendor>(info, options);
    console::log("hv: no virtualization extension: the root partition cannot run\n");
    stop(1);
}

} // namespace hv::virt
