#include "hv/arch/apic.hpp"

#include "hv/arch/interrupts.hpp"
#include "hv/arch/irq.hpp"
#include "hv/arch/tsc.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/memory/kernel_map.hpp"

namespace hv::apic {
namespace {

using arch::vector_spurious;
using arch::vector_timer;

// Register offsets in the xAPIC page (SDM vol 3 table 11-1).
constexpr uint32_t reg_id = 0x20, reg_tpr = 0x80, reg_eoi = 0xb0, reg_svr = 0xf0, reg_icr_low = 0x300,
                   reg_icr_high = 0x310, reg_lvt_timer = 0x320, reg_lvt_thermal = 0x330, reg_lvt_perf = 0x340,
                   reg_lvt_lint0 = 0x350, reg_lvt_lint1 = 0x360, reg_lvt_error = 0x370,
                   reg_timer_initial = 0x380, reg_timer_current = 0x390, reg_timer_divide = 0x3e0,
                   reg_esr = 0x280;
constexpr uint32_t lvt_masked = 1u << 16;
constexpr uint64_t base_enable = 1u << 11, base_x2apic = 1u << 10; // IA32_APIC_BASE (11.4.4)

bool use_x2apic = false;
bool initialized = false;
volatile uint32_t* mmio = nullptr;
uint64_t timer_rate = 0;

uint32_t read(uint32_t reg) {
    if (use_x2apic)
        return static_cast<uint32_t>(x86::rdmsr(0x800 + reg / 16));
    return mmio[reg / 4];
}

void write(uint32_t reg, uint32_t v) {
    if (use_x2apic)
        x86::wrmsr(0x800 + reg / 16, v);
    else
        mmio[reg / 4] = v;
}

bool send_raw(uint32_t dest, uint32_t low) {
    if (use_x2apic) {
        // One 64-bit write, destination in bits 63:32 (SDM vol 3 11.12.9); no busy bit.
        x86::wrmsr(0x830, (static_cast<uint64_t>(dest) << 32) | low);
        return true;
    }
    IrqSave s;
    write(reg_icr_high, dest << 24);
    write(reg_icr_low, low);
    // Delivery status (bit 12) clears once the APIC has sent the message. Looked at once more
    // after the deadline: a processor held up past it (an emulator thread descheduled) must not
    // take an IPI that went out for one that did not.
    const uint64_t deadline = tsc::deadline_us(100000);
    for (;;) {
        const bool late = !tsc::before(deadline);
        if (!(read(reg_icr_low) & (1u << 12)))
            return true;
        if (late)
            return false;
        x86::pause();
    }
}

} // namespace

uint32_t read_reg(uint32_t offset) { return read(offset); }
void write_reg(uint32_t offset, uint32_t value) { write(offset, value); }
bool send_icr(uint32_t dest, uint32_t low) { return send_raw(dest, low); }

void init_global() {
    // The 8259 PICs stay unused: move them off the exception vectors (firmware leaves IRQ 0 at
    // vector 8, which looks like a #DF) and mask every line. A spurious IRQ 7/15 can still be
    // raised while masked; it now lands on an ordinary vector (8259A data sheet, ICW1-ICW4).
    const uint8_t icw[][2] = {{0x20, 0x11}, {0xa0, 0x11}, {0x21, 0x20}, {0xa1, 0x28}, {0x21, 0x04},
                              {0xa1, 0x02}, {0x21, 0x01}, {0xa1, 0x01}, {0x21, 0xff}, {0xa1, 0xff}};
    for (const auto& w : icw)
        x86::outb(w[0], w[1]);
    use_x2apic = (x86::cpuid(1).ecx >> 21) & 1;
    uint64_t base = x86::rdmsr(x86::msr::apic_base) & 0x000f'ffff'ffff'f000ull;
    if (!use_x2apic)
        mmio = static_cast<volatile uint32_t*>(kmap::map_mmio(PhysAddr(base), 4096));
    arch::set_interrupt_handler(vector_spurious, [](RegisterDump&) {});
    initialized = true;
}

void init_this_cpu() {
    uint64_t base = x86::rdmsr(x86::msr::apic_base);
    // xAPIC -> x2APIC is legal only from the enabled state (SDM vol 3 11.12.5, figure 11-27).
    base |= base_enable;
    x86::wrmsr(x86::msr::apic_base, base);
    if (use_x2apic)
        x86::wrmsr(x86::msr::apic_base, base | base_x2apic);
    const uint32_t lvts[] = {reg_lvt_timer, reg_lvt_thermal, reg_lvt_perf, reg_lvt_lint0, reg_lvt_error};
    for (uint32_t r : lvts)
        write(r, lvt_masked);
    // LINT1 is wired to NMI on PCs; keep it so platform NMIs still reach us (11.5.1).
    write(reg_lvt_lint1, static_cast<uint32_t>(Delivery::nmi));
    write(reg_tpr, 0);
    write(reg_esr, 0);
    write(reg_svr, (1u << 8) | vector_spurious); // software enable (11.4.7.2)
    eoi();
}

bool x2apic() {
    return use_x2apic;
}
bool ready() {
    return initialized;
}

uint32_t id() {
    // x2APIC: the full 32-bit id; xAPIC: bits 31:24 (11.4.6).
    return use_x2apic ? read(reg_id) : read(reg_id) >> 24;
}

void eoi() {
    write(reg_eoi, 0);
}

bool send(uint32_t apic_id, Delivery mode, uint8_t vector) {
    // Level = assert (bit 14): required for INIT-assert, ignored as 1 by later processors for
    // the other modes (11.6.1). Edge trigger throughout.
    return send_raw(apic_id, static_cast<uint32_t>(mode) | vector | (1u << 14));
}

bool send_all_but_self(Delivery mode, uint8_t vector) {
    return send_raw(0, static_cast<uint32_t>(mode) | vector | (1u << 14) | (3u << 18));
}

void timer_oneshot(uint32_t ticks, uint8_t vector) {
    write(reg_timer_divide, 3); // divide by 16 (figure 11-10)
    write(reg_lvt_timer, vector);
    write(reg_timer_initial, ticks);
}

uint32_t timer_current() {
    return read(reg_timer_current);
}

void calibrate_timer() {
    // Count down from the top for 10 ms of TSC time with the timer masked (no interrupt).
    write(reg_timer_divide, 3);
    write(reg_lvt_timer, lvt_masked | vector_timer);
    write(reg_timer_initial, 0xffffffffu);
    tsc::delay_us(10000);
    uint32_t elapsed = 0xffffffffu - read(reg_timer_current);
    write(reg_timer_initial, 0);
    timer_rate = static_cast<uint64_t>(elapsed) * 100;
}

uint64_t timer_hz() {
    return timer_rate;
}

} // namespace hv::apic
