#include "hv/panic.hpp"

#include <stdarg.h>

#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/lib/format.hpp"
#include "hv/smp_stop.hpp"

namespace hv {
namespace {

StopAction stop_action = StopAction::halt;
int panicking = 0;

// QEMU's isa-debug-exit (port 0xf4) exits with status (V << 1) | 1; Bochs exits when the bytes
// of "Shutdown" reach port 0x8900. Only reached when the command line says on_stop=exit:
// on real hardware these ports may belong to a device.
[[noreturn]] void exit_emulator(int code) {
    // Let the UART finish the last line first (LSR bit 6, transmitter empty): Bochs drops
    // characters still in flight when it shuts down.
    for (int i = 0; i < 1000000 && !(x86::inb(0x3f8 + 5) & 0x40); i++)
        x86::pause();
    x86::outb(0xf4, code == 0 ? 0x10 : 0x11);
    for (const char* p = "Shutdown"; *p; p++)
        x86::outb(0x8900, static_cast<uint8_t>(*p));
    x86::halt_forever();
}

void dump_backtrace(uint64_t rbp) {
    for (int i = 0; i < 12 && rbp >= 0xffff800000000000ull && (rbp & 7) == 0; i++) {
        auto* frame = reinterpret_cast<const uint64_t*>(rbp);
        console::log_unlocked("hv:   #%d %p\n", i, reinterpret_cast<void*>(frame[1]));
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
}

[[noreturn]] void finish_panic() {
    console::log_unlocked("hv: exit code=1\n");
    if (stop_action == StopAction::emulator_exit)
        exit_emulator(1);
    x86::halt_forever();
}

bool enter_panic() {
    x86::cli();
    if (__atomic_exchange_n(&panicking, 1, __ATOMIC_ACQ_REL)) {
        x86::halt_forever();   // another processor is already reporting
    }
    smp_stop_others();
    return true;
}

} // namespace

void set_stop_action(StopAction a) { stop_action = a; }

void stop(int code) {
    console::log("hv: exit code=%d\n", code);
    if (stop_action == StopAction::emulator_exit)
        exit_emulator(code);
    x86::halt_forever();
}

void panic(const char* fmt, ...) {
    enter_panic();
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    console::log_unlocked("hv: panic: %s\n", msg);
    uint64_t rbp;
    asm volatile("mov %%rbp, %0" : "=r"(rbp));
    console::log_unlocked("hv:   cr0=%lx cr2=%lx cr3=%lx cr4=%lx rflags=%lx\n", x86::read_cr0(),
                          x86::read_cr2(), x86::read_cr3(), x86::read_cr4(), x86::read_rflags());
    dump_backtrace(rbp);
    finish_panic();
}

void panic_with_registers(const RegisterDump& r, const char* fmt, ...) {
    enter_panic();
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    console::log_unlocked("hv: panic: %s\n", msg);
    console::log_unlocked("hv:   vector=%lu error=%lx rip=%lx cs=%lx rflags=%lx rsp=%lx ss=%lx\n", r.vector,
                          r.error_code, r.rip, r.cs, r.rflags, r.rsp, r.ss);
    console::log_unlocked("hv:   rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", r.rax, r.rbx, r.rcx, r.rdx);
    console::log_unlocked("hv:   rsi=%016lx rdi=%016lx rbp=%016lx r8 =%016lx\n", r.rsi, r.rdi, r.rbp, r.r8);
    console::log_unlocked("hv:   r9 =%016lx r10=%016lx r11=%016lx r12=%016lx\n", r.r9, r.r10, r.r11, r.r12);
    console::log_unlocked("hv:   r13=%016lx r14=%016lx r15=%016lx\n", r.r13, r.r14, r.r15);
    console::log_unlocked("hv:   cr0=%lx cr2=%lx cr3=%lx cr4=%lx\n", x86::read_cr0(), x86::read_cr2(),
                          x86::read_cr3(), x86::read_cr4());
    dump_backtrace(r.rbp);
    finish_panic();
}

} // namespace hv
