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

uint32_t counts_per_ms;

} // namespace

void init_bsp() {
    // In the runtime's IDT, which every processor has loaded (its exception gates stay).
    rt::set_interrupt_gate(timer_vector, root_timer_isr);
    rt::set_interrupt_gate(0xff, root_spurious_isr);
    rt::set_interrupt_gate(signals::vector, root_sint_isr);
    rt::set_interrupt_gate(signals::echo_vector, root_sint_isr);   // the same: acknowledge; the loop does the rest
    rt::set_interrupt_gate(signals::vmbus_vector, root_sint_isr);
    rt::set_interrupt_gate(wake_vector, root_sint_isr);
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
    rt::wrmsr(msr_svr, 0x1ff);
    rt::wrmsr(msr_divide, 0x3);
    rt::wrmsr(msr_lvt_timer, lvt_periodic | timer_vector);
    rt::wrmsr(msr_initial, counts_per_ms);
    asm volatile("sti" ::: "memory");
}

uint64_t ticks() { return root_timer_ticks; }

// x2APIC ICR (MSR 0x830): destination in bits 63:32, fixed delivery, physical mode (SDM 10.12.9).
void wake(uint32_t apic_id) { rt::wrmsr(0x830, (uint64_t{apic_id} << 32) | wake_vector); }

} // namespace root::irq
