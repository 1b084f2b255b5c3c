// The bootstrap processor's path from the 64-bit entry to a running system
// (docs/architecture.md, "Boot flow"). Each step that can fail says what failed in one line and
// stops; nothing here waits without a bound.
#include "boot/boot_info.hpp"
#include "boot/multiboot2.hpp"
#include "boot/pvh.hpp"
#include "hv/arch/apic.hpp"
#include "hv/arch/tsc.hpp"
#include "hv/backend.hpp"
#include "hv/cmdline.hpp"
#include "hv/console.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/kernel_map.hpp"
#include "hv/memory/physical.hpp"
#include "hv/panic.hpp"
#include "hv/percpu.hpp"
#include "hv/platform.hpp"
#include "hv/selftest.hpp"
#include "hv/smp.hpp"
#include "hv/virt/root.hpp"

#include <stdint.h>

extern "C" char bsp_stack_top[];                                                // boot/entry32.S
extern "C" void (*const __init_array_start[])(), (*const __init_array_end[])(); // boot/linker.ld
extern "C" [[noreturn]] void hv_boot_main(uint32_t magic, uint32_t info_phys);

namespace hv {
namespace {

boot::BootInfo boot_info;
Options options;
Platform platform;

// Fills boot_info from whichever loader started us; false (after one log line) otherwise.
bool read_boot_info(uint32_t magic, uint32_t info_phys) {
    DirectMapReader reader;
    if (magic == boot::mb2_bootloader_magic) {
        // Multiboot2 spec 3.6.1: the structure starts with its total size.
        const uint8_t* head = reader.map(info_phys, 8);
        uint32_t total = 0;
        if (head)
            __builtin_memcpy(&total, head, sizeof total);
        const uint8_t* all = reader.map(info_phys, total);
        boot::Mb2Result r = boot::parse_multiboot2_at(all, all ? total : 0, boot_info);
        if (r.error != boot::Mb2Error::none) {
            console::log("hv: bad Multiboot2 boot information at %x: %s (tag at offset %u)\n", info_phys,
                         boot::describe(r.error), r.offset);
            return false;
        }
        boot_info.info_phys = info_phys;
        return true;
    }
    if (magic == boot::pvh_magic) {
        if (boot::PvhError e = boot::parse_pvh(reader, info_phys, boot_info); e != boot::PvhError::none) {
            console::log("hv: bad PVH start info at %x: %s\n", info_phys, boot::describe(e));
            return false;
        }
        return true;
    }
    console::log("hv: unknown loader magic %x: boot through Multiboot2 (GRUB) or PVH (QEMU -kernel)\n",
                 magic);
    return false;
}

// A command line that fails to parse may still ask to exit the emulator on stop: honour that
// word so a typo in a CI run ends the run instead of halting until its timeout.
bool asks_emulator_exit(const char* s) {
    constexpr char word[] = "on_stop=exit";
    for (const char* p = s; *p; p++) {
        bool start = p == s || p[-1] == ' ' || p[-1] == '\t';
        if (start && __builtin_memcmp(p, word, sizeof word - 1) == 0 &&
            (p[sizeof word - 1] == '\0' || p[sizeof word - 1] == ' ' || p[sizeof word - 1] == '\t'))
            return true;
    }
    return false;
}

uint32_t processor_limit() {
    uint32_t limit = options.max_cpus ? options.max_cpus : max_processors;
    return limit < max_processors ? limit : max_processors;
}

} // namespace
} // namespace hv

extern "C" void hv_boot_main(uint32_t magic, uint32_t info_phys) {
    using namespace hv;
    for (auto* f = __init_array_start; f != __init_array_end; f++)
        (*f)();
    console::init();
    // Exceptions are reported with names and registers from here on.
    percpu_init_bsp(reinterpret_cast<uint64_t>(bsp_stack_top));
    if (!read_boot_info(magic, info_phys))
        stop(1);
    console::log("hv: booted by %s, command line '%s'\n",
                 boot_info.loader == boot::Loader::pvh ? "PVH" : boot_info.str(boot_info.loader_name),
                 boot_info.str(boot_info.cmdline));
    CmdlineError ce = parse_cmdline(boot_info.str(boot_info.cmdline), options);
    set_stop_action(options.on_stop); // first, so every later failure exits an emulator
    if (!ce.ok) {
        if (asks_emulator_exit(boot_info.str(boot_info.cmdline)))
            set_stop_action(StopAction::emulator_exit);
        console::log("hv: bad command line: %s\n", ce.message);
        stop(1);
    }

    mem::Summary memory;
    if (!mem::init_frames(boot_info, options.min_memory_mib, memory))
        stop(1);
    uint64_t extent = memory.highest_ram_end > (4ull << 30) ? memory.highest_ram_end : 4ull << 30;
    kmap::init(extent);
    if (!mem::init_heap()) {
        console::log("hv: memory: no frames for the heap\n");
        stop(1);
    }

    discover_platform(boot_info, platform);
    apic::init_global();
    apic::init_this_cpu();
    cpu_slot(0).apic_id = apic::id();
    mark_online(cpu_slot(0));
    tsc::calibrate(platform.pm_timer_port, platform.pm_timer_32bit);
    apic::calibrate_timer();
    console::log("hv: local apic %s mode, timer %lu kHz\n", apic::x2apic() ? "x2apic" : "xapic",
                 apic::timer_hz() / 1000);

    Backend backend = Backend::none;
    if (!select_backend(options.backend, backend))
        stop(1);

    uint32_t found = platform.processor_count ? platform.processor_count : 1;
    if (platform.processor_count > 1 && processor_limit() > 1) {
        if (smp::prepare_trampoline(boot_info))
            smp::start_aps(platform.apic_ids, platform.processor_count, processor_limit());
        else
            console::log("hv: smp: no usable page below 1 MiB for the AP trampoline; one processor\n");
    }
    console::log("hv: online backend=%s processors=%u/%u memory=%luMiB\n", backend_name(backend),
                 online_count(), found, memory.usable_bytes >> 20);

    // Built-in suites: hv-selftest, hv-panic, then virt::run_builtin_suite (svm-smoke, vmx-smoke).
    if (options.suite[0] != '\0')
        run_suite(options.suite);
    if (boot_info.module_count == 0) {
        console::log("hv: no root partition image (expected the first Multiboot2 module); stopping\n");
        stop(0);
    }
    virt::start_root(backend, boot_info, options);
}
