// An ELF64 child (a partition kernel on partitions/rt, such as a guest suite run as a child):
// page tables as child_image's PagingPlan describes them, a stack, and a handoff in the shape
// partition kernels already read (partitions/abi/root_handoff.hpp), placed after the image:
//   [image_end, +64 pages) page tables; then a 32 KiB stack; then the two-page handoff.
// RDI = the handoff's GPA, RSI = its magic, as the hypervisor starts the root.
#pragma once
#include "partitions/devices/child_image.hpp"
#include "partitions/root/child.hpp"

namespace root {

[[nodiscard]] bool prepare_elf64(Child& c, const devices::Elf64Plan& plan, devices::EntryState& entry);

} // namespace root
