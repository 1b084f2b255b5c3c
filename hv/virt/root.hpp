// Creating and starting the root partition (docs/root-partition.md).
#pragma once
#include "boot/boot_info.hpp"
#include "hv/backend.hpp"
#include "hv/cmdline.hpp"

namespace hv::virt {

// Builds the root partition from the first module and runs its bootstrap VP on the calling
// processor (the other processors wait for the root's INIT-SIPI-SIPI). Does not return; a failure
// is one log line and stop(1).
[[noreturn]] void start_root(Backend backend, const boot::BootInfo& info, const Options& options);

} // namespace hv::virt
