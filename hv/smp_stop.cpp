// Stopping the other processors when one panics: an NMI broadcast (ICR shorthand "all
// excluding self", Intel SDM vol 3 11.6.1) reaches them even with interrupts disabled; their
// NMI handler sees `stopping` and halts without returning, so NMIs stay blocked there.
#include "hv/smp_stop.hpp"

#include "hv/arch/apic.hpp"
#include "hv/arch/tsc.hpp"
#include "hv/arch/x86.hpp"
#include "hv/percpu.hpp"
#include "hv/smp.hpp"

namespace hv {
namespace {
bool stop_requested = false;
uint32_t stopped = 0;
} // namespace

void smp_stop_others() {
    if (!apic::ready() || online_count() <= 1)
        return;
    __atomic_store_n(&stop_requested, true, __ATOMIC_RELEASE);
    apic::send_all_but_self(apic::Delivery::nmi);
    // Give them a moment so the report that follows is the machine's last output.
    for (uint64_t d = tsc::deadline_us(100000); tsc::before(d);)
        if (__atomic_load_n(&stopped, __ATOMIC_ACQUIRE) + 1 >= online_count())
            break;
}

namespace smp {
bool stopping() {
    return __atomic_load_n(&stop_requested, __ATOMIC_ACQUIRE);
}

void stopped_halt() {
    __atomic_fetch_add(&stopped, 1, __ATOMIC_ACQ_REL);
    x86::halt_forever();
}
} // namespace smp

} // namespace hv
