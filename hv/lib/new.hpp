// Placement new for the freestanding image (-nostdinc++ leaves out <new>); host builds use <new>.
#pragma once
#if __has_include(<new>)
#include <new>
#else
#include <stddef.h>
inline void* operator new(size_t, void* where) noexcept { return where; }
inline void operator delete(void*, void*) noexcept {}
#endif
