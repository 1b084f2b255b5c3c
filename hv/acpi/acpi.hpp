// ACPI table discovery and the two tables the hypervisor itself needs (ACPI 6.4 chapter 5).
// Firmware tables are hostile input: every length is bounded before it is read, every checksum
// verified. Policy for a corrupt table: it is recorded in the directory with its error and the
// scan goes on, so a broken table nobody needs (a vendor's SSDT, say) cannot keep the machine
// from booting; asking for that table later returns the recorded error. A corrupt XSDT falls
// back to the RSDT when the RSDP offers one.
// Physical memory is read through an accessor: `const uint8_t* map(uint64_t phys, uint64_t len)
// const` returning nullptr when the range cannot be read.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hv::acpi {

enum class AcpiError : uint32_t {
    none,
    rsdp_too_short,
    rsdp_bad_signature,
    rsdp_bad_checksum,
    rsdp_bad_length,
    rsdp_bad_extended_checksum,
    rsdp_no_root,
    unmappable,
    bad_signature,
    too_short,
    too_long,
    bad_checksum,
    not_found,
    madt_entry_too_short,
    madt_entry_overrun,
    fadt_too_short,
};

[[nodiscard]] const char* describe(AcpiError e);

inline constexpr size_t header_size = 36;               // ACPI 6.4 5.2.6
inline constexpr uint32_t max_table_length = 1u << 20;  // larger is taken as corruption

struct Rsdp {
    uint8_t revision = 0;
    uint32_t rsdt = 0;
    uint64_t xsdt = 0;   // 0 for ACPI 1.0
};

struct TableEntry {
    char signature[4]{};
    uint64_t phys = 0;
    uint32_t length = 0;
    AcpiError status = AcpiError::none;
};

struct Directory {
    static constexpr size_t capacity = 64;
    TableEntry tables[capacity]{};
    size_t count = 0;
    bool used_xsdt = false;
    AcpiError root_status = AcpiError::none;   // a root table problem that was worked around
    size_t corrupt = 0;   // entries whose status is not none
    size_t dropped = 0;   // tables beyond capacity, not recorded

    // The first valid table with `sig` (and its error if only corrupt copies exist).
    [[nodiscard]] AcpiError find(const char (&sig)[5], TableEntry& out, size_t instance = 0) const;
};

struct GenericAddress {   // ACPI 6.4 5.2.3.2
    uint8_t space = 0;    // 0 system memory, 1 system I/O
    uint8_t bit_width = 0;
    uint8_t bit_offset = 0;
    uint8_t access_size = 0;
    uint64_t address = 0;
};

struct Processor {
    uint32_t apic_id = 0;
    uint32_t uid = 0;
    bool enabled = false;
    bool online_capable = false;
    bool x2apic = false;
};

struct IoApic {
    uint32_t id = 0;
    uint32_t address = 0;
    uint32_t gsi_base = 0;
};

struct Override {
    uint8_t bus = 0;
    uint8_t source = 0;
    uint32_t gsi = 0;
    uint16_t flags = 0;
};

struct LocalNmi {
    uint32_t uid = 0;     // 0xFF / 0xFFFFFFFF: all processors
    uint16_t flags = 0;
    uint8_t lint = 0;
};

// ACPI 6.4 5.2.12. Arrays that fill up keep the first entries and set `truncated`.
struct Madt {
    static constexpr size_t max_processors = 256, max_ioapics = 16, max_overrides = 32, max_nmis = 32;
    uint64_t lapic_address = 0;   // type 5 override applied
    uint32_t flags = 0;           // bit 0 PCAT_COMPAT: dual 8259s present
    Processor processors[max_processors]{};
    size_t processor_count = 0;
    IoApic ioapics[max_ioapics]{};
    size_t ioapic_count = 0;
    Override overrides[max_overrides]{};
    size_t override_count = 0;
    LocalNmi nmis[max_nmis]{};
    size_t nmi_count = 0;
    bool truncated = false;
};

// ACPI 6.4 5.2.9: only what the hypervisor uses.
struct Fadt {
    uint64_t dsdt = 0;            // X_DSDT when present, else DSDT
    uint32_t flags = 0;
    GenericAddress pm_timer;      // X_PM_TMR_BLK when present, else PM_TMR_BLK as an I/O port
    uint8_t pm_timer_bits = 0;    // 24 or 32 (TMR_VAL_EXT); 0 when there is no PM timer
    bool reset_supported = false;
    GenericAddress reset_reg;
    uint8_t reset_value = 0;
    uint8_t century = 0;          // CMOS index of the century, 0 when absent
    uint16_t boot_arch = 0;       // IAPC_BOOT_ARCH
    static constexpr uint32_t flag_tmr_val_ext = 1u << 8;
    static constexpr uint32_t flag_reset_reg_sup = 1u << 10;
    static constexpr uint32_t flag_hw_reduced = 1u << 20;
};

// Pure parsers over bytes already read.
[[nodiscard]] AcpiError parse_rsdp(const uint8_t* p, size_t len, Rsdp& out);
[[nodiscard]] bool checksum_ok(const uint8_t* p, size_t len);
// Header sanity from its first 36 bytes: length within [36, 1 MiB]; `sig` checked unless null.
[[nodiscard]] AcpiError check_header(const uint8_t* hdr, const char* sig, uint32_t& length);
[[nodiscard]] AcpiError parse_madt(const uint8_t* table, size_t len, Madt& out);
[[nodiscard]] AcpiError parse_fadt(const uint8_t* table, size_t len, Fadt& out);

// Maps and validates a whole table: header first, then its full length, then the checksum.
template <class Mem>
[[nodiscard]] AcpiError map_table(const Mem& mem, uint64_t phys, const char* sig, const uint8_t*& out,
                                  uint32_t& length) {
    const uint8_t* hdr = phys != 0 ? mem.map(phys, header_size) : nullptr;
    if (hdr == nullptr) {
        return AcpiError::unmappable;
    }
    if (AcpiError e = check_header(hdr, sig, length); e != AcpiError::none) {
        return e;
    }
    out = mem.map(phys, length);
    if (out == nullptr) {
        return AcpiError::unmappable;
    }
    return checksum_ok(out, length) ? AcpiError::none : AcpiError::bad_checksum;
}

namespace detail {
void record(Directory& dir, const uint8_t* hdr, const char* fallback_sig, uint64_t phys, uint32_t length,
            AcpiError status);

template <class Mem> AcpiError walk_root(const Mem& mem, uint64_t phys, bool xsdt, Directory& dir) {
    const uint8_t* root = nullptr;
    uint32_t length = 0;
    if (AcpiError e = map_table(mem, phys, xsdt ? "XSDT" : "RSDT", root, length); e != AcpiError::none) {
        return e;
    }
    dir.used_xsdt = xsdt;
    size_t stride = xsdt ? 8 : 4;
    for (size_t off = header_size; length - off >= stride; off += stride) {   // ACPI 6.4 5.2.7, 5.2.8
        uint64_t entry = 0;
        __builtin_memcpy(&entry, root + off, stride);
        const uint8_t* table = nullptr;
        uint32_t tlen = 0;
        AcpiError e = map_table(mem, entry, nullptr, table, tlen);
        const uint8_t* hdr = entry != 0 ? mem.map(entry, header_size) : nullptr;
        detail::record(dir, hdr, "????", entry, tlen, e);
    }
    return AcpiError::none;
}
} // namespace detail

// Builds the table directory from an RSDP copy (e.g. BootInfo::rsdp). Fails only when neither
// root table is usable; individual corrupt tables are recorded and skipped. The DSDT, which no
// root table lists, is added from the FADT when one is valid.
template <class Mem> [[nodiscard]] AcpiError scan(const Mem& mem, const uint8_t* rsdp, size_t rsdp_len, Directory& dir) {
    dir.count = 0;
    dir.corrupt = 0;
    dir.dropped = 0;
    dir.used_xsdt = false;
    dir.root_status = AcpiError::none;
    Rsdp r;
    if (AcpiError e = parse_rsdp(rsdp, rsdp_len, r); e != AcpiError::none) {
        return e;
    }
    AcpiError e = AcpiError::rsdp_no_root;
    if (r.xsdt != 0) {
        e = detail::walk_root(mem, r.xsdt, true, dir);
        dir.root_status = e;
    }
    if (e != AcpiError::none && r.rsdt != 0) {
        e = detail::walk_root(mem, r.rsdt, false, dir);
    }
    if (e != AcpiError::none) {
        return e;
    }
    TableEntry facp;
    Fadt fadt;
    const uint8_t* t = nullptr;
    uint32_t len = 0;
    if (dir.find("FACP", facp) == AcpiError::none && map_table(mem, facp.phys, "FACP", t, len) == AcpiError::none &&
        parse_fadt(t, len, fadt) == AcpiError::none && fadt.dsdt != 0) {
        AcpiError de = map_table(mem, fadt.dsdt, "DSDT", t, len);
        detail::record(dir, nullptr, "DSDT", fadt.dsdt, len, de);
    }
    return AcpiError::none;
}

template <class Mem> [[nodiscard]] AcpiError read_madt(const Mem& mem, const Directory& dir, Madt& out) {
    TableEntry entry;
    const uint8_t* t = nullptr;
    uint32_t len = 0;
    AcpiError e = dir.find("APIC", entry);
    e = e == AcpiError::none ? map_table(mem, entry.phys, "APIC", t, len) : e;
    return e == AcpiError::none ? parse_madt(t, len, out) : e;
}

template <class Mem> [[nodiscard]] AcpiError read_fadt(const Mem& mem, const Directory& dir, Fadt& out) {
    TableEntry entry;
    const uint8_t* t = nullptr;
    uint32_t len = 0;
    AcpiError e = dir.find("FACP", entry);
    e = e == AcpiError::none ? map_table(mem, entry.phys, "FACP", t, len) : e;
    return e == AcpiError::none ? parse_fadt(t, len, out) : e;
}

} // namespace hv::acpi
