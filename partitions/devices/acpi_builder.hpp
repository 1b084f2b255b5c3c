// The ACPI tables a child partition boots with, generated into a caller buffer that the caller
// places at `base` in the child's guest-physical memory (ACPI 6.4 chapter 5): RSDP (revision 2)
// -> RSDT and XSDT -> FADT -> DSDT, and the MADT. The FADT declares HW_REDUCED_ACPI (5.2.9,
// 4.1): no PM timer, no SCI, no FACS, nothing a child's hardware would have to emulate; Linux
// and simple Multiboot kernels accept it. The DSDT body is empty unless the caller passes AML
// (e.g. a Device(VMBS) with _HID "VMBus" later), which is appended verbatim.
// For kernels that find the RSDP by scanning (5.2.5.1), put `base` in 0xE0000-0xFFFFF: the
// RSDP comes first and `base` must be 16-byte aligned. Both root tables are built when every
// table lies below 4 GiB, as 32-bit kernels read only the RSDT.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace devices {

struct AcpiIoApic {
    uint8_t id = 0;
    uint32_t address = 0xFEC00000;
    uint32_t gsi_base = 0;
};

struct AcpiIrqOverride { // 5.2.12.5, ISA bus
    uint8_t source = 0;
    uint32_t gsi = 0;
    uint16_t flags = 0; // MPS INTI flags: polarity bits 0-1, trigger mode bits 2-3
};

struct AcpiConfig {
    const uint32_t* apic_ids = nullptr; // one per processor; index = ACPI processor UID
    size_t cpu_count = 0;
    bool x2apic_entries = false; // type 9 for every processor (else only for ids >= 255)
    uint32_t lapic_address = 0xFEE00000;
    bool pcat_compat = false;           // MADT flag: dual 8259 PICs present
    const AcpiIoApic* ioapic = nullptr; // optional
    const AcpiIrqOverride* overrides = nullptr;
    size_t override_count = 0;
    uint16_t boot_arch = 0;  // FADT IAPC_BOOT_ARCH (5.2.9.3), e.g. bit 5 "CMOS RTC absent"
    uint16_t reset_port = 0; // FADT RESET_REG as an I/O port; 0: no reset register
    uint8_t reset_value = 0;
    const uint8_t* dsdt_aml = nullptr; // appended to the DSDT body
    size_t dsdt_aml_size = 0;
};

struct AcpiLayout { // guest-physical addresses of what was built
    uint64_t rsdp = 0, rsdt = 0, xsdt = 0, fadt = 0, madt = 0, dsdt = 0;
    size_t size = 0; // bytes used from the start of the buffer
};

enum class AcpiBuildError : uint8_t {
    ok,
    base_misaligned,
    no_processors,
    too_many_processors,
    aml_too_large,
    buffer_too_small,
    address_overflow,
};

[[nodiscard]] const char* describe(AcpiBuildError e);

inline constexpr size_t acpi_rsdp_size = 36, acpi_fadt_size = 276;
inline constexpr size_t acpi_max_processors = 4096;

// Bytes build_acpi needs for `config` (0 when the config is invalid).
[[nodiscard]] size_t acpi_size(const AcpiConfig& config);
// Fills buf[0, layout.size) for placement at `base`; the rest of the buffer is untouched.
[[nodiscard]] AcpiBuildError build_acpi(const AcpiConfig& config, uint8_t* buf, size_t capacity,
                                        uint64_t base, AcpiLayout& layout);

} // namespace devices
