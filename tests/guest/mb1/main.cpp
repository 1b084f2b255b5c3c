// A Multiboot 1 test kernel (Multiboot spec 0.6.96): what a child partition must offer a
// standard PC kernel. It runs unchanged under QEMU's own loader (`qemu-system-x86_64 -kernel
// mb1.elf -smp 2 -device isa-debug-exit,iobase=0xf4,iosize=4`) and as a child partition
// (`tools/run --child mb1.elf,smp=2`). Hypothesis: the loader's handoff follows Multiboot 3.2;
// fw_cfg carries the signature and CPU count; the ACPI MADT lists as many processors; the
// local APIC timer interrupts; every processor starts through INIT-SIPI-SIPI from a real-mode
// trampoline and reports. Exit code (port 0xf4): 0 when all holds, 1 when a check fails, the
// command line's `exit=N` to end with N on purpose (so the harness can see a failure).
#include "tests/guest/mb1/hw.hpp"
#include "hv/lib/string.hpp"

extern "C" {
[[noreturn]] void mb1_main(uint32_t magic, const uint32_t* info);
[[noreturn]] void mb1_ap_main(uint32_t number);
void mb1_fault(uint32_t vector, uint32_t error_or_eip);
void mb1_timer();
extern const uint32_t mb1_isr_table[32];
extern const uint8_t mb1_tramp[], mb1_tramp_end[];
void mb1_timer_isr();
}

namespace mb1 {
namespace {

constexpr uint32_t multiboot_loader_magic = 0x2BADB002;
constexpr uint8_t timer_vector = 0x40;
constexpr uint32_t tramp_page = 0x8000;
constexpr uint32_t max_cpus = 16;

struct [[gnu::packed]] Gate {
    uint16_t offset_low, selector;
    uint8_t zero, type;
    uint16_t offset_high;
};
Gate idt[256];
volatile uint32_t ticks, reported;
uint32_t failures;

void check(bool ok, const char* what) {
    lock_console();
    print(ok ? "mb1: ok   " : "mb1: FAIL ");
    print(what);
    print("\n");
    unlock_console();
    failures += !ok;
}

void set_gate(uint32_t v, void (*fn)()) {
    auto a = reinterpret_cast<uint32_t>(fn);
    idt[v] = {static_cast<uint16_t>(a), 0x08, 0, 0x8e, static_cast<uint16_t>(a >> 16)};   // 32-bit interrupt gate
}

void load_idt() {
    struct [[gnu::packed]] {
        uint16_t limit;
        uint32_t base;
    } d{sizeof idt - 1, reinterpret_cast<uint32_t>(idt)};
    asm volatile("lidt %0" : : "m"(d));
}

// Waits `n` timer ticks (about 10 ms each) with interrupts on, halting in between.
void wait_ticks(uint32_t n) {
    uint32_t end = ticks + n;
    while (static_cast<int32_t>(ticks - end) < 0)
        asm volatile("sti; hlt; cli" ::: "memory");
}

// Periodic timer: divide by 1 and 10,000,000 counts, 10 ms on QEMU's 1 GHz APIC bus, which the
// root partition's emulated APIC also uses (SDM vol 3 10.5.4). Not shorter: under an instruction
// emulator one tick's round trip through the root's APIC emulation can take longer than a
// millisecond, and a period shorter than its interrupt's service time livelocks any machine.
void start_timer() {
    apic::reg(apic::svr) = 0x1ff;                        // software enable, spurious vector 0xff
    apic::reg(apic::divide) = 0xb;                       // divide by 1
    apic::reg(apic::lvt_timer) = (1u << 17) | timer_vector;   // periodic
    apic::reg(apic::initial_count) = 10000000;
}

void send_ipi(uint32_t apic_id, uint32_t low) {
    apic::reg(apic::icr_high) = apic_id << 24;
    apic::reg(apic::icr_low) = low;
    for (int i = 0; i < 1000000 && (apic::reg(apic::icr_low) & (1u << 12)); i++)
        cpu_relax();   // delivery status (SDM 10.6.1)
}

uint32_t start_aps(const uint32_t* ids, uint32_t n, uint32_t self) {
    memcpy(phys<void>(tramp_page), mb1_tramp, static_cast<size_t>(mb1_tramp_end - mb1_tramp));
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == self)
            continue;
        uint32_t before = reported;
        // SDM vol 3 8.4.4.1: INIT, 10 ms, SIPI, 200 us, SIPI.
        send_ipi(ids[i], 0x4500);
        wait_ticks(1);   // at least the 10 ms INIT needs (SDM vol 3 8.4.4.1)
        send_ipi(ids[i], 0x4600 | (tramp_page >> 12));
        wait_ticks(1);
        if (reported == before)
            send_ipi(ids[i], 0x4600 | (tramp_page >> 12));
        for (uint32_t t = 0; t < 2000 && reported == before; t++)
            wait_ticks(1);
    }
    return reported;
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
    for (uint32_t v = 0; v < 32; v++)
        set_gate(v, reinterpret_cast<void (*)()>(mb1_isr_table[v]));
    set_gate(timer_vector, mb1_timer_isr);
    load_idt();
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

    uint32_t self = apic::reg(apic::id) >> 24;
    check((apic::reg(apic::version) & 0xff) >= 0x10, "the local APIC is integrated (version 1x)");
    start_timer();
    wait_ticks(3);
    check(ticks >= 3, "the local APIC timer interrupts");
    reported = 1;
    uint32_t got = n > 1 ? start_aps(ids, n, self) : 1;
    print("mb1: processors reported=");
    print_u(got);
    print("\n");
    check(got == n, "every processor starts and reports");
    apic::reg(apic::lvt_timer) = 1u << 16;   // masked
    uint32_t code = failures ? 1 : parse_exit(cmdline);
    print(failures ? "mb1: failed\n" : "mb1: passed\n");
    exit(code);
}

void mb1_ap_main(uint32_t number) {
    uint32_t id = apic::reg(apic::id) >> 24;
    lock_console();
    print("mb1: processor ");
    print_u(number);
    print(" apic id ");
    print_u(id);
    print(" reporting\n");
    unlock_console();
    __atomic_fetch_add(&reported, 1u, __ATOMIC_ACQ_REL);
    for (;;)
        asm volatile("cli; hlt");
}

void mb1_fault(uint32_t vector, uint32_t error_or_eip) {
    print("mb1: exception ");
    print_u(vector);
    print(" ");
    print_x(error_or_eip);
    print("\n");
    exit(2);
}

void mb1_timer() {
    ticks = ticks + 1;
    apic::reg(apic::eoi) = 0;
}

