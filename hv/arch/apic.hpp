// The local APIC (Intel SDM vol 3 ch. 11; AMD APM vol 2 ch. 16) in xAPIC mode (registers in a
// 4 KiB MMIO page) or x2APIC mode (the same registers as MSRs 0x800 + offset/16, SDM vol 3
// 11.12.1). x2APIC is used when CPUID 1 ECX bit 21 offers it, because xAPIC destinations stop at
// 8-bit APIC ids; QEMU TCG has no x2APIC and takes the MMIO path.
#pragma once
#include <stdint.h>

namespace hv::apic {

// Chooses the mode and maps the MMIO page; call once on the bootstrap processor.
void init_global();
// Enables this processor's APIC in the chosen mode, masks the local vector table, sets the
// spurious vector. Every processor calls it.
void init_this_cpu();

[[nodiscard]] bool x2apic();
[[nodiscard]] bool ready(); // init_global done: IPIs can be sent
[[nodiscard]] uint32_t id();
void eoi();

// ICR delivery modes (SDM vol 3 11.6.1, figure 11-12).
enum class Delivery : uint32_t { fixed = 0, nmi = 4 << 8, init = 5 << 8, startup = 6 << 8 };

// Sends one IPI and waits (bounded) until the xAPIC has accepted it; false on timeout.
bool send(uint32_t apic_id, Delivery mode, uint8_t vector = 0);
// Raw register access by xAPIC offset (SDM vol 3 table 11-1), in either mode: the root's
// virtual x2APIC is built on these (hv/virt/apic_virt.cpp).
[[nodiscard]] uint32_t read_reg(uint32_t offset);
void write_reg(uint32_t offset, uint32_t value);
// An ICR write as given: low 32 bits and an 8-bit (xAPIC) or 32-bit (x2APIC) destination.
bool send_icr(uint32_t dest, uint32_t low);
// Shorthand 11b: all processors excluding the sender.
bool send_all_but_self(Delivery mode, uint8_t vector = 0);

// One-shot timer in timer ticks (divide by 16); 0 stops it. The tick rate is measured against
// the TSC by calibrate_timer().
void timer_oneshot(uint32_t ticks, uint8_t vector);
[[nodiscard]] uint32_t timer_current();
void calibrate_timer();
[[nodiscard]] uint64_t timer_hz();

} // namespace hv::apic
