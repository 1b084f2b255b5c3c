// A small printf-style formatter for the console and panic paths. printf syntax so the compiler
// checks every call (format attribute); supports %d %i %u %x %X %p %s %c %% with l/ll/z and
// width, zero padding, '-' left alignment and a precision for %s (%.4s, %.*s). No floating point (the core has no SSE).
#pragma once
#include <stdarg.h>
#include <stddef.h>

namespace hv {

// Writes at most size-1 characters and a NUL; returns the length the full output would have.
size_t vformat(char* buf, size_t size, const char* fmt, va_list ap);
[[gnu::format(printf, 3, 4)]] size_t format(char* buf, size_t size, const char* fmt, ...);

} // namespace hv
