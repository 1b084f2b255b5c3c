// What the vendor-neutral exit loop keeps per processor, and how physical interrupts reach the
// virtual processor that runs there (docs/root-partition.md, "Interrupts"): every device vector
// the hypervisor does not own is recorded as pending for the current VP, left unacknowledged at
// the local APIC, and injected when the guest can take it; the guest's EOI (through its virtual
// x2APIC) then reaches the physical APIC.
#pragma once
#include <stdint.h>

#include "partitions/partition.hpp"

namespace hv::virt {

// Installs the forwarding handler for every vector the hypervisor does not own.
void install_interrupt_forwarding();

// The VP this processor runs (nullptr while it idles in the hypervisor).
[[nodiscard]] Vp* current_vp();
void set_current_vp(Vp* vp);

// Records a physical interrupt for `vp`. Vectors the hypervisor owns are dispatched to it.
void forward_vector(Vp& vp, uint8_t vector);
// Lets interrupts that are pending at the processor reach the host IDT (and so the VP) now.
void drain_host_interrupts();

[[nodiscard]] inline bool has_pending_irq(const Vp& vp) {
    return (vp.pending_irq[0] | vp.pending_irq[1] | vp.pending_irq[2] | vp.pending_irq[3]) != 0;
}
// Highest pending vector (the APIC's priority order, SDM vol 3 11.8.3), removed from the set.
[[nodiscard]] int take_pending_irq(Vp& vp);

// Makes `vp`'s processor look at its VP again (after a SIPI or an INIT).
void kick(Vp& vp);

} // namespace hv::virt
