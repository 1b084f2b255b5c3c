// The isolation child kernel (docs/child-partitions.md, "Isolation tests"): a Multiboot 1 kernel
// on tests/guest/mb1's entry, interrupt stubs and hardware helpers, booted as a child partition.
// Hypothesis: a child cannot touch GPAs it was not given, another child's memory, the root's or
// the hypervisor's memory, nor use root-only calls; a triple fault or a spinning VP stops only
// that child. Its command line picks what it does:
//   (nothing)                 the in-child suite, KTAP on COM1 (suite.cpp), `child-isolation`
//   probe=read:GPA|write:GPA|exec:GPA|triple-fault|spin|cr4-vmxe|not-ok   one action (probes.cpp)
//   cross=SELF,OTHER          one side of the two-child memory check (cross.cpp)
// Exit code (port 0xf4): 0 when every check held, else non-zero.
#include "tests/guest/isolation/isolation.hpp"

extern "C" [[noreturn]] void mb1_main(uint32_t magic, const uint32_t* info);

using namespace iso;

void mb1_main(uint32_t magic, const uint32_t* info) {
    mb1::outb(0x3f8 + 1, 0);   // no UART interrupts
    mb1::outb(0x21, 0xff);     // both 8259s masked
    mb1::outb(0xa1, 0xff);
    set_name("isolation");
    init_cpu_tables();
    Boot boot{};
    boot.magic_ok = magic == 0x2BADB002;
    // Multiboot 0.6.96 3.3: flags bit 0 mem_lower/mem_upper (KiB), bit 2 cmdline.
    boot.ram_end = (info[0] & 1) ? 0x100000 + info[2] * 1024 : 0;
    boot.cmdline = (info[0] & (1u << 2)) ? reinterpret_cast<const char*>(info[4]) : "";
    mb1::print("isolation: child kernel, cmdline \"");
    mb1::print(boot.cmdline);
    mb1::print("\"\n");
    uint32_t code;
    if (const char* probe = value(boot.cmdline, "probe=")) {
        code = run_probe(boot, probe);
    } else if (const char* cross = value(boot.cmdline, "cross=")) {
        const char* comma = cross;
        while (*comma && *comma != ',')
            comma++;
        code = *comma ? run_cross(boot, parse_number(cross), parse_number(comma + 1)) : 4;
    } else {
        start_timer();
        code = run_suite(boot);
        stop_timer();
    }
    mb1::exit(code);
}
