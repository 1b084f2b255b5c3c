// The hypervisor console: COM1 16550 UART (PC standard port 0x3f8). Lines from different
// processors never interleave: each log call formats into a local buffer and writes it under
// one lock.
#pragma once
#include <stddef.h>

namespace hv::console {

void init();
void write(const char* s, size_t n);
[[gnu::format(printf, 1, 2)]] void log(const char* fmt, ...);
// For the panic path: writes without taking the lock (the holder may be the panicking processor).
[[gnu::format(printf, 1, 2)]] void log_unlocked(const char* fmt, ...);

} // namespace hv::console
