// One dispatch of a child VP and what the root does with its outcome (docs/root-partition.md,
// "Partition manager"): I/O to the child's devices, the xAPIC page emulated, halts, triple
// faults, anything else ends the child with a log line.
#pragma once
#include "partitions/root/child.hpp"

namespace root {

// Runs `vp` once with DispatchVp and handles why it came back; returns its next state.
[[nodiscard]] VpRun run_vp(ChildVp& vp);

} // namespace root
