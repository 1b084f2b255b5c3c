// Stopping the machine: a clean stop with an exit code, or a panic for a broken invariant of the
// hypervisor itself (never for a guest's misbehaviour, which gets a fault, a status or its
// partition stopped). Under an emulator, `on_stop=exit` turns either into an emulator exit with
// a status the harness reads (docs/testing.md).
#pragma once
#include <stdint.h>

#include "hv/cmdline.hpp"

namespace hv {

struct RegisterDump {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
};

void set_stop_action(StopAction a);
[[noreturn]] void stop(int code);
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);
[[noreturn, gnu::format(printf, 2, 3)]] void panic_with_registers(const RegisterDump& r, const char* fmt, ...);

} // namespace hv

#define HV_ASSERT(cond)                                                                                 \
    do {                                                                                                \
        if (!(cond)) [[unlikely]]                                                                       \
            ::hv::panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);                     \
    } while (0)
