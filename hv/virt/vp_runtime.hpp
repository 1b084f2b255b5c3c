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

// A vector the hypervisor raises itself (SynIC, timers, self-IPI) on `vp`.
void raise_soft(Vp& vp, uint8_t vector);
// Priority for the root, whose APIC mixes physical vectors (in service at the physical APIC)
// with the hypervisor's (in service in soft_isr): the highest pending vector is held while its
// class is not above the processor priority, max(TPR, highest in service) (SDM vol 3 11.8.3.1).
// With nothing of the hypervisor's pending or in service, the physical APIC has already applied
// the priority rules and this costs two loads.
[[nodiscard]] bool irq_deliverable(const Vp& vp);
// The vector to inject now, or -1 (nothing pending, or held by priority).
[[nodiscard]] int take_injectable_irq(Vp& vp);
// The root's PPR: its TPR against the highest vector in service at the physical APIC or in soft_isr.
[[nodiscard]] uint32_t root_ppr(const Vp& vp);
// The root's EOI: true when it ended one of the hypervisor's vectors (the highest in service is
// one), false when it belongs to the physical APIC.
[[nodiscard]] bool virtual_eoi(Vp& vp);

// Makes `vp`'s processor look at its VP again (after a SIPI or an INIT).
void kick(Vp& vp);

} // namespace hv::virt
