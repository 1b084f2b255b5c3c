#pragma once
namespace hv {
// Brings every other running processor to a halt (NMI broadcast) so a panic report is the last
// thing the machine does. Safe to call before the other processors are started.
void smp_stop_others();
} // namespace hv
