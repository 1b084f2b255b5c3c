// What the Multiboot 1 test kernel touches of a PC, kept as a real kernel would find it on
// QEMU's `pc` machine: the 16550 UART at COM1, QEMU's fw_cfg I/O ports, ACPI tables found by
// scanning for the RSDP, and the xAPIC at its default address (paging is off, so every address
// here is physical).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace mb1 {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

// COM1, polled; one lock so the processors' lines do not interleave.
void print(const char* s);
void print_u(uint32_t v);
void print_x(uint32_t v);
void lock_console();
void unlock_console();
[[noreturn]] void exit(uint32_t code);

// QEMU fw_cfg (docs/specs/fw_cfg.rst): select a key with a 16-bit write to 0x510, read the
// item's bytes from 0x511.
void fw_cfg_read(uint16_t key, void* buf, uint32_t size);

// ACPI 6.4 5.2.5.1: the RSDP on a 16-byte boundary in 0xE0000-0xFFFFF (or the EBDA's first KiB).
// The local APIC ids of the MADT's enabled processors (5.2.12.2), the boot processor first
// as firmware lists it; returns how many, 0 when no MADT was found.
uint32_t madt_apic_ids(uint32_t* ids, uint32_t max);

// The local APIC registers (Intel SDM vol 3 10.4.1, table 10-1), memory-mapped at 0xFEE00000.
namespace apic {
inline constexpr uint32_t id = 0x20, version = 0x30, tpr = 0x80, eoi = 0xb0, svr = 0xf0, icr_low = 0x300,
                          icr_high = 0x310, lvt_timer = 0x320, initial_count = 0x380, current_count = 0x390,
                          divide = 0x3e0;
inline volatile uint32_t& reg(uint32_t off) { return *reinterpret_cast<volatile uint32_t*>(0xfee00000u + off); }
} // namespace apic

// A physical address as a pointer, hidden from the optimizer's object-bounds reasoning (the
// firmware's data areas are no C++ objects).
template <class T> T* phys(uint32_t addr) {
    asm("" : "+r"(addr));
    return reinterpret_cast<T*>(addr);
}

inline void cpu_relax() { asm volatile("pause" ::: "memory"); }

} // namespace mb1
