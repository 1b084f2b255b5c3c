#include "hv/arch/tsc.hpp"

#include "hv/arch/irq.hpp"
#include "hv/console.hpp"

namespace hv::tsc {
namespace {

uint64_t rate = 4'000'000'000ull;
constexpr uint64_t pit_hz = 1'193'182;
constexpr uint64_t pm_timer_hz = 3'579'545; // ACPI 6.4 4.8.3.3

// PIT channel 2 in mode 0 (interrupt on terminal count) with its gate driven through port 0x61
// bit 0 and its output read back on bit 5 (8254 data sheet; PC/AT port B). The speaker (bit 1)
// stays off. Returns TSC ticks for `pit_ticks` PIT ticks, 0 if OUT never rises.
uint64_t pit_measure(uint16_t pit_ticks) {
    uint8_t port_b = x86::inb(0x61);
    x86::outb(0x61, static_cast<uint8_t>((port_b & ~0x03) | 0x00)); // gate low: counter holds
    x86::outb(0x43, 0xb0);                                          // ch 2, lo/hi byte, mode 0
    x86::outb(0x42, static_cast<uint8_t>(pit_ticks));
    x86::outb(0x42, static_cast<uint8_t>(pit_ticks >> 8));
    x86::outb(0x61, static_cast<uint8_t>((port_b & ~0x02) | 0x01)); // gate high: count starts
    uint64_t start = x86::rdtsc(), end = 0;
    for (uint64_t spins = 0; spins < 100'000'000; spins++) {
        if (x86::inb(0x61) & 0x20) {
            end = x86::rdtsc();
            break;
        }
    }
    x86::outb(0x61, port_b);
    return end ? end - start : 0;
}

// The PM timer free-runs at 3.579545 MHz; count TSC ticks across `pm_ticks` of it.
uint64_t pm_measure(uint16_t port, bool wide, uint32_t pm_ticks) {
    uint32_t mask = wide ? 0xffffffffu : 0xffffffu;
    uint32_t first = x86::inl(port) & mask;
    uint64_t start = x86::rdtsc();
    for (uint64_t spins = 0; spins < 100'000'000; spins++) {
        if (((x86::inl(port) - first) & mask) >= pm_ticks)
            return x86::rdtsc() - start;
    }
    return 0;
}

uint64_t best_of(uint64_t (*measure)(uint64_t), uint64_t arg) {
    // The smallest of several runs: an emulator or SMI stretching one only makes it longer.
    uint64_t best = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t t = measure(arg);
        if (t && (!best || t < best))
            best = t;
    }
    return best;
}

uint64_t pm_port;
bool pm_wide;

} // namespace

void calibrate(uint64_t pm_timer_port, bool pm_timer_32bit) {
    IrqSave s;
    const char* source = "pit";
    uint64_t hz = 0;
    // CPUID 0x15: TSC = crystal (ECX) * EBX / EAX when all three are reported.
    if (x86::cpuid(0).eax >= 0x15) {
        x86::CpuidResult r = x86::cpuid(0x15);
        if (r.eax && r.ebx && r.ecx) {
            hz = static_cast<uint64_t>(r.ecx) * r.ebx / r.eax;
            source = "cpuid 0x15";
        }
    }
    if (!hz) {
        constexpr uint16_t ticks = 23864; // 20 ms
        uint64_t t = best_of([](uint64_t n) { return pit_measure(static_cast<uint16_t>(n)); }, ticks);
        hz = t * pit_hz / ticks;
    }
    if (!hz && pm_timer_port) {
        pm_port = pm_timer_port;
        pm_wide = pm_timer_32bit;
        constexpr uint32_t ticks = 71591; // 20 ms
        uint64_t t = best_of(
            [](uint64_t n) {
                return pm_measure(static_cast<uint16_t>(pm_port), pm_wide, static_cast<uint32_t>(n));
            },
            ticks);
        hz = t * pm_timer_hz / ticks;
        source = "acpi pm timer";
    }
    if (!hz) {
        console::log("hv: tsc: no PIT, PM timer or CPUID 0x15; assuming 4000 MHz\n");
        return;
    }
    rate = hz;
    console::log("hv: tsc %lu MHz (%s)\n", hz / 1'000'000, source);
}

uint64_t hz() {
    return rate;
}

uint64_t deadline_us(uint64_t us) {
    return now() + us * (rate / 1'000'000);
}

void delay_us(uint64_t us) {
    uint64_t d = deadline_us(us);
    while (before(d))
        x86::pause();
}

} // namespace hv::tsc
