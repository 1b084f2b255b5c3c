// What the firmware's ACPI tables tell the core about the machine (ACPI 6.4 ch. 5): the
// processors to start (MADT) and the PM timer (FADT). Glue around helper-1's pure parsers.
#pragma once
#include "boot/boot_info.hpp"

#include <stdint.h>

namespace hv {

struct Platform {
    static constexpr uint32_t max_ids = 256;
    uint32_t apic_ids[max_ids] = {}; // enabled processors, MADT order
    uint32_t processor_count = 0;    // 0: no MADT, the bootstrap processor runs alone
    uint16_t pm_timer_port = 0;      // 0: none (or not an I/O port)
    bool pm_timer_32bit = false;
};

// Reads the RSDP from `info` or, when the loader gave none, searches the EBDA and the BIOS
// area 0xE0000-0xFFFFF (ACPI 6.4 5.2.5.1). Problems are logged as one line each; never fails.
void discover_platform(const boot::BootInfo& info, Platform& out);

} // namespace hv
