#include "partitions/devices/acpi_builder.hpp"

namespace devices {
namespace {

constexpr size_t header_size = 36; // 5.2.6
constexpr size_t madt_lapic_size = 8, madt_x2apic_size = 16, madt_ioapic_size = 12, madt_override_size = 10;
constexpr uint32_t fadt_hw_reduced = 1u << 20, fadt_reset_reg_sup = 1u << 10;
constexpr size_t max_aml = (1u << 20) - header_size; // our parser takes longer tables as corrupt

size_t align16(size_t n) {
    return (n + 15) & ~size_t{15};
}

void put(uint8_t* p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void checksum(uint8_t* p, size_t len, uint8_t* field) {
    *field = 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = static_cast<uint8_t>(sum + p[i]);
    *field = static_cast<uint8_t>(-sum);
}

// 5.2.6: the common header; the checksum is set once the body is written.
void header(uint8_t* t, const char* sig, size_t length, uint8_t revision) {
    __builtin_memset(t, 0, length);
    __builtin_memcpy(t, sig, 4);
    put(t + 4, length, 4);
    t[8] = revision;
    __builtin_memcpy(t + 10, "HVROOT", 6);   // OEM ID
    __builtin_memcpy(t + 16, "HVCHILD ", 8); // OEM table ID
    put(t + 24, 1, 4);                       // OEM revision
    __builtin_memcpy(t + 28, "HVRT", 4);     // creator ID
    put(t + 32, 1, 4);                       // creator revision
}

bool wide_entry(const AcpiConfig& c, size_t i) {
    return c.x2apic_entries || c.apic_ids[i] >= 0xff;
}

size_t madt_size(const AcpiConfig& c) {
    size_t n = header_size + 8 + (c.ioapic ? madt_ioapic_size : 0) + madt_override_size * c.override_count;
    for (size_t i = 0; i < c.cpu_count; i++)
        n += wide_entry(c, i) ? madt_x2apic_size : madt_lapic_size;
    return n;
}

struct Offsets {
    size_t rsdt, xsdt, fadt, madt, dsdt, end;
};

Offsets layout_of(const AcpiConfig& c) {
    Offsets o{};
    o.rsdt = align16(acpi_rsdp_size);
    o.xsdt = align16(o.rsdt + header_size + 2 * 4);
    o.fadt = align16(o.xsdt + header_size + 2 * 8);
    o.madt = align16(o.fadt + acpi_fadt_size);
    o.dsdt = align16(o.madt + madt_size(c));
    o.end = o.dsdt + header_size + c.dsdt_aml_size;
    return o;
}

AcpiBuildError check(const AcpiConfig& c) {
    if (c.cpu_count == 0 || c.apic_ids == nullptr)
        return AcpiBuildError::no_processors;
    if (c.cpu_count > acpi_max_processors || c.override_count > 256 || (c.override_count && !c.overrides))
        return AcpiBuildError::too_many_processors;
    if (c.dsdt_aml_size > max_aml || (c.dsdt_aml_size && !c.dsdt_aml))
        return AcpiBuildError::aml_too_large;
    return AcpiBuildError::ok;
}

void build_madt(const AcpiConfig& c, uint8_t* t) { // 5.2.12
    size_t len = madt_size(c);
    header(t, "APIC", len, 5);
    put(t + 36, c.lapic_address, 4);
    put(t + 40, c.pcat_compat ? 1 : 0, 4);
    uint8_t* e = t + 44;
    for (size_t i = 0; i < c.cpu_count; i++) {
        if (wide_entry(c, i)) { // 5.2.12.12 processor local x2APIC
            e[0] = 9;
            e[1] = madt_x2apic_size;
            put(e + 4, c.apic_ids[i], 4);
            put(e + 8, 1, 4); // enabled
            put(e + 12, i, 4);
            e += madt_x2apic_size;
        } else { // 5.2.12.2 processor local APIC; UIDs above 254 need type 9
            e[0] = 0;
            e[1] = madt_lapic_size;
            e[2] = static_cast<uint8_t>(i);
            e[3] = static_cast<uint8_t>(c.apic_ids[i]);
            put(e + 4, 1, 4);
            e += madt_lapic_size;
        }
    }
    if (c.ioapic) { // 5.2.12.3
        e[0] = 1;
        e[1] = madt_ioapic_size;
        e[2] = c.ioapic->id;
        put(e + 4, c.ioapic->address, 4);
        put(e + 8, c.ioapic->gsi_base, 4);
        e += madt_ioapic_size;
    }
    for (size_t i = 0; i < c.override_count; i++, e += madt_override_size) { // 5.2.12.5
        e[0] = 2;
        e[1] = madt_override_size;
        e[3] = c.overrides[i].source;
        put(e + 4, c.overrides[i].gsi, 4);
        put(e + 8, c.overrides[i].flags, 2);
    }
    checksum(t, len, t + 9);
}

// 5.2.9, table 5.9 (the ACPI 6.0 layout, 276 bytes, FADT major version 6).
void build_fadt(const AcpiConfig& c, uint8_t* t, uint64_t dsdt) {
    header(t, "FACP", acpi_fadt_size, 6);
    // FIRMWARE_CTRL and X_FIRMWARE_CTRL stay 0: HW-reduced platforms may omit the FACS (5.2.10).
    if (dsdt <= 0xffffffffu)
        put(t + 40, dsdt, 4); // 32-bit kernels read only DSDT; equal to X_DSDT, so no conflict
    put(t + 109, c.boot_arch, 2);
    uint32_t flags = fadt_hw_reduced;
    if (c.reset_port != 0) {
        flags |= fadt_reset_reg_sup;
        t[116] = 1; // GAS (5.2.3.2): system I/O, 8 bits, byte access
        t[117] = 8;
        t[119] = 1;
        put(t + 120, c.reset_port, 8);
        t[128] = c.reset_value;
    }
    put(t + 112, flags, 4);
    put(t + 140, dsdt, 8);
    checksum(t, acpi_fadt_size, t + 9);
}

} // namespace

const char* describe(AcpiBuildError e) {
    switch (e) {
    case AcpiBuildError::ok:
        return "ok";
    case AcpiBuildError::base_misaligned:
        return "acpi builder: base is not 16-byte aligned (RSDP rule)";
    case AcpiBuildError::no_processors:
        return "acpi builder: no processors";
    case AcpiBuildError::too_many_processors:
        return "acpi builder: too many processors or overrides";
    case AcpiBuildError::aml_too_large:
        return "acpi builder: DSDT AML missing or larger than 1 MiB";
    case AcpiBuildError::buffer_too_small:
        return "acpi builder: buffer too small";
    case AcpiBuildError::address_overflow:
        return "acpi builder: tables would cross the top of the address space";
    }
    return "acpi builder: unknown error";
}

size_t acpi_size(const AcpiConfig& config) {
    return check(config) == AcpiBuildError::ok ? layout_of(config).end : 0;
}

AcpiBuildError build_acpi(const AcpiConfig& c, uint8_t* buf, size_t capacity, uint64_t base,
                          AcpiLayout& out) {
    out = AcpiLayout{};
    if (AcpiBuildError e = check(c); e != AcpiBuildError::ok)
        return e;
    if (base % 16 != 0)
        return AcpiBuildError::base_misaligned;
    Offsets o = layout_of(c);
    uint64_t end;
    if (__builtin_add_overflow(base, uint64_t{o.end}, &end))
        return AcpiBuildError::address_overflow;
    if (buf == nullptr || capacity < o.end)
        return AcpiBuildError::buffer_too_small;
    bool low = end <= 0x100000000ull;
    out = {base, low ? base + o.rsdt : 0, base + o.xsdt, base + o.fadt, base + o.madt, base + o.dsdt, o.end};

    __builtin_memset(buf, 0, o.dsdt);                    // the alignment gaps too, for reproducible images
    uint8_t* d = buf + o.dsdt;                           // 5.2.11.1: header + AML definition block body
    header(d, "DSDT", header_size + c.dsdt_aml_size, 2); // revision 2: 64-bit AML integers
    if (c.dsdt_aml_size)
        __builtin_memcpy(d + header_size, c.dsdt_aml, c.dsdt_aml_size);
    checksum(d, header_size + c.dsdt_aml_size, d + 9);
    build_madt(c, buf + o.madt);
    build_fadt(c, buf + o.fadt, out.dsdt);

    uint8_t* x = buf + o.xsdt; // 5.2.8
    header(x, "XSDT", header_size + 16, 1);
    put(x + 36, out.fadt, 8);
    put(x + 44, out.madt, 8);
    checksum(x, header_size + 16, x + 9);
    if (low) { // 5.2.7
        uint8_t* r = buf + o.rsdt;
        header(r, "RSDT", header_size + 8, 1);
        put(r + 36, out.fadt, 4);
        put(r + 40, out.madt, 4);
        checksum(r, header_size + 8, r + 9);
    }

    uint8_t* p = buf; // 5.2.5.3
    __builtin_memcpy(p, "RSD PTR ", 8);
    __builtin_memcpy(p + 9, "HVROOT", 6);
    p[15] = 2;
    put(p + 16, out.rsdt, 4);
    put(p + 20, acpi_rsdp_size, 4);
    put(p + 24, out.xsdt, 8);
    checksum(p, 20, p + 8);
    checksum(p, acpi_rsdp_size, p + 32);
    return AcpiBuildError::ok;
}

} // namespace devices
