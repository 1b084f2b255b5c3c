#include "partitions/root/irq.hpp"

#include "partitions/root/signals.hpp"
#include "partitions/rt/rt.hpp"

extern "C" {
void root_timer_isr();
void root_spurious_isr();
void root_sint_isr();
extern volatile uint64_t root_timer_ticks;
}

namespace root::irq {
namespace {

// x2APIC registers as MSRs (Intel SDM vol 3 10.12.1.2, table 10-6).
constexpr uint32_t msr_svr = 0x80f, msr_lvt_timer = 0x832, msr_initial = 0x838, msr_current = 0x839,
                   msr_divide = 0x83e;
constexpr uint32_t lvt_masked = 1u << 16, lvt_periodic = 1u << 17;

struct [[gnu::packed]] Gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, zero;
};
struct [[gnu::packed]] Pointer {
    uint16_t limit;
    uint64_t base;
};

alignas(16) Gate idt[256];
uint32_t counts_per_ms;

void set_gate(uint8_t v, void (*fn)()) {
    auto a = reinterpret_cast<uint64_t>(fn);
    idt[v] = {static_cast<uint16_t>(a), 0x08, 0, 0x8e, static_cast<uint16_t>(a >> 16), static_cast<uint32_t>(a >> 32), 0};
}

} // namespace

void init_bsp() {
    // Keep the runtime's exception gates (vectors 0-31): its probes and fault reports.
    Pointer cur;
    asm volatile("sidt %0" : "=m"(cur));
    __builtin_memcpy(idt, reinterpret_cast<const void*>(cur.base), cur.limit + 1u < sizeof idt ? cur.limit + 1u : sizeof idt);
    set_gate(timer_vector, root_timer_isr);
    set_gate(0xff, root_spurious_isr);
    set_gate(signals::vector, root_sint_isr);
    set_gate(signals::echo_vector, root_sint_isr);   // the same: acknowledge; the loop does the rest
    set_gate(signals::vmbus_vector, root_sint_isr);
    // Count how far the timer runs in 10 ms of TSC, divided by 16 (SDM 10.5.4).
    rt::wrmsr(msr_svr, 0x1ff);
    rt::wrmsr(msr_divide, 0x3);
    rt::wrmsr(msr_lvt_timer, lvt_masked | timer_vector);
    rt::wrmsr(msr_initial, 0xffffffff);
    rt::delay_us(10000);
    uint64_t left = rt::rdmsr(msr_current);
    counts_per_ms = static_cast<uint32_t>((0xffffffffull - left) / 10);
    if (counts_per_ms == 0)
        counts_per_ms = 100000;
    rt::wrmsr(msr_initial, 0);
}

void start_this_cpu() {
    Pointer p{sizeof idt - 1, reinterpret_cast<uint64_t>(idt)};
    asm volatile("lidt %0" : : "m"(p));
    rt::wrmsr(msr_svr, 0x1ff);
    rt::wrmsr(msr_divide, 0x3);
    rt::wrmsr(msr_lvt_timer, lvt_periodic | timer_vector);
    rt::wrmsr(msr_initial, counts_per_ms);
    asm volatile("sti" ::: "memory");
}

uint64_t ticks() { return root_timer_ticks; }

} // namespace root::irq
