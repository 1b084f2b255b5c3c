// Putting a child's image and firmware into its RAM (through the root's own mapping of that RAM:
// the root's GPA is its host-physical address, and the child page at GPA g is root page
// ram + g). The decision of how is partitions/devices/child_image.hpp's; this performs it.
#pragma once
#include "hypercalls/abi/partition.hpp"
#include "partitions/devices/child_image.hpp"
#include "partitions/root/calls.hpp"
#include "partitions/root/child.hpp"

namespace root {

// The child's guest-physical layout below 1 MiB (a PC's, so standard kernels find things):
inline constexpr uint64_t child_info_gpa = 0x10000;    // Multiboot information, 16 KiB
inline constexpr uint64_t child_info_size = 0x4000;
inline constexpr uint64_t child_low_end = 0x9f000;     // conventional memory ends (EBDA-sized gap)
inline constexpr uint64_t child_acpi_gpa = 0xe0000;    // RSDP scan range (ACPI 6.4 5.2.5.1)
inline constexpr uint64_t child_acpi_size = 0x20000;

// Copies the image (and for Multiboot the information structure) into the child's RAM and
// fills `entry`; for ELF64, builds its page tables and a handoff (docs/root-partition.md).
[[nodiscard]] bool load_image(Child& c, const uint8_t* image, uint64_t size, devices::EntryState& entry);
// ACPI tables (RSDP in 0xE0000-0xFFFFF, MADT with one processor per VP) and fw_cfg.
[[nodiscard]] bool build_firmware(Child& c);
// The entry state as HV_INITIAL_VP_CONTEXT: segment attributes in the VMX access-rights
// layout (type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15; SDM vol 3 24.4.1).
[[nodiscard]] abi::InitialVpContext initial_context(const devices::EntryState& e);

} // namespace root
