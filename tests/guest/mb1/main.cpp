// A Multiboot 1 test kernel (Multiboot spec 0.6.96): what a child partition must offer a
// standard PC kernel. It runs unchanged under QEMU's own loader (`qemu-system-x86_64 -kernel
// mb1.elf -smp 2 -device isa-debug-exit,iobase=0xf4,iosize=4`) and as a child partition
// (`tools/run --child mb1.elf,smp=2`). Hypothesis: the loader's handoff follows Multiboot 3.2;
// fw_cfg carries the signature and CPU count; the ACPI MADT lists as many processors; the
// local APIC timer interrupts; every processor starts through INIT-SIPI-SIPI from a real-mode
// trampoline and reports. Exit code (port 0xf4): 0 when all holds, 1 when a check fails, the
// command line's `exit=N` to end with N on purpose (so the harness can see a failure).
#include "tests/guest/mb1/hw.hpp"
#include "tests/guest/mb1/kit.hpp"
#include "hv/lib/string.hpp"

extern "C" {
[[noreturn]] void mb1_main(uint32_t magic, const uint32_t* info);
}

namespace mb1 {
namespace {

constexpr uint32_t multiboot_loader_magic = 0x2BADB002;
constexpr uint32_t max_cpus = kit::max_cpus;
uint32_t failures;

void check(bool ok, const char* what) {
    lock_console();
    print(ok ? "mb1: ok   " : "mb1: FAIL ");
    print(what);
    print("\n");
    unlock_console();
    failures += !ok;
}

// What each application processor does once the kit has brought it up.
void report(uint32_t number) {
    uint32_t id = apic::reg(apic::id) >> 24;
    lock_console();
    print("mb1: processor ");
    print_u(number);
    print(" apic id ");
    print_u(id);
    print(" reporting\n");
    unlock_console();
}

uint32_t parse_exit(const char* cmdline) {
    for (const char* p = cmdline; p && *p; p++) {
        if (memcmp(p, "exit=", 5) == 0 && (p == cmdline || p[-1] == ' ')) {
            uint32_t v = 0;
            for (p += 5; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + static_cast<uint32_t>(*p - '0');
            return v;
        }
    }
    return 0;
}

} // namespace
} // namespace mb1

using namespace mb1;

void mb1_main(uint32_t magic, const uint32_t* info) {
    outb(0x3f8 + 1, 0);   // no UART interrupts
    outb(0x21, 0xff);     // mask both 8259s: the BIOS left IRQ0 at vector 8 (a child has none)
    outb(0xa1, 0xff);
    print("mb1: Multiboot 1 test kernel\n");
    kit::set_name("mb1");
    kit::init_cpu_tables();
    check(magic == multiboot_loader_magic, "the loader's magic is 0x2BADB002");
    const char* cmdline = (info[0] & (1u << 2)) ? reinterpret_cast<const char*>(info[4]) : "";
    check(info[0] & 1, "the information structure has mem_lower/mem_upper");
    print("mb1: mem_upper=");
    print_u(info[2]);
    print(" KiB cmdline=\"");
    print(cmdline);
    print("\"\n");

    char sig[5] = {};
    fw_cfg_read(0x0000, sig, 4);
    check(memcmp(sig, "QEMU", 4) == 0, "fw_cfg signature is QEMU");
    uint16_t fw_cpus = 0;
    fw_cfg_read(0x0005, &fw_cpus, 2);
    uint32_t ids[max_cpus];
    uint32_t n = madt_apic_ids(ids, max_cpus);
    print("mb1: fw_cfg cpus=");
    print_u(fw_cpus);
    print(" madt cpus=");
    print_u(n);
    print("\n");
    check(n > 0 && n == fw_cpus, "the MADT lists as many processors as fw_cfg");

    check((apic::reg(apic::version) & 0xff) >= 0x10, "the local APIC is integrated (version 1x)");
    kit::start_timer();
    kit::wait_ticks(3);
    check(kit::tick_count() >= 3, "the local APIC timer interrupts");
    uint32_t got = n > 1 ? kit::start_aps(report) : 1;
    print("mb1: processors reported=");
    print_u(got);
    print("\n");
    check(got == n, "every processor starts and reports");
    kit::stop_timer();
    uint32_t code = failures ? 1 : parse_exit(cmdline);
    print(failures ? "mb1: failed\n" : "mb1: passed\n");
    exit(code);
}
