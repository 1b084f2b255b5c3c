#include "hv/acpi/acpi.hpp"
#include "hv/lib/bytes.hpp"

namespace hv::acpi {
namespace {

constexpr size_t rsdp_v1_length = 20, rsdp_v2_length = 36;
constexpr size_t madt_entries = 44;         // after local APIC address and flags
constexpr size_t fadt_v1_length = 116;      // ACPI 1.0 FADT ends with Flags
using hv::bytes::load16;
using hv::bytes::load32;
using hv::bytes::load64;

GenericAddress load_gas(const uint8_t* p) { return {p[0], p[1], p[2], p[3], load64(p + 4)}; }

// ACPI 6.4 5.2.12: minimum length of each interrupt controller structure this parser reads.
size_t madt_min_length(uint8_t type) {
    switch (type) {
    case 0: return 8;    // processor local APIC
    case 1: return 12;   // I/O APIC
    case 2: return 10;   // interrupt source override
    case 4: return 6;    // local APIC NMI
    case 5: return 12;   // local APIC address override
    case 9: return 16;   // processor local x2APIC
    case 10: return 12;  // local x2APIC NMI
    default: return 2;
    }
}

void add_processor(Madt& m, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2apic) {
    bool enabled = flags & 1, online_capable = (flags & 2) != 0;
    if (!enabled && !online_capable) {
        return;   // 5.2.12.2: neither enabled nor hot-pluggable, OSPM ignores it
    }
    for (size_t i = 0; i < m.processor_count; ++i) {
        if (m.processors[i].apic_id == apic_id) {
            return;   // firmware may list a CPU in both a type 0 and a type 9 entry
        }
    }
    if (m.processor_count == Madt::max_processors) {
        m.truncated = true;
        return;
    }
    m.processors[m.processor_count++] = {apic_id, uid, enabled, online_capable && !enabled, x2apic};
}

void add_nmi(Madt& m, uint32_t uid, uint16_t flags, uint8_t lint) {
    if (m.nmi_count == Madt::max_nmis) {
        m.truncated = true;
        return;
    }
    m.nmis[m.nmi_count++] = {uid, flags, lint};
}

void parse_madt_entry(Madt& m, const uint8_t* e) {
    switch (e[0]) {
    case 0: add_processor(m, e[3], e[2], load32(e + 4), false); break;
    case 1:
        if (m.ioapic_count == Madt::max_ioapics) {
            m.truncated = true;
        } else {
            m.ioapics[m.ioapic_count++] = {e[2], load32(e + 4), load32(e + 8)};
        }
        break;
    case 2:
        if (m.override_count == Madt::max_overrides) {
            m.truncated = true;
        } else {
            m.overrides[m.override_count++] = {e[2], e[3], load32(e + 4), load16(e + 8)};
        }
        break;
    case 4: add_nmi(m, e[2], load16(e + 3), e[5]); break;
    case 5: m.lapic_address = load64(e + 4); break;
    case 9: add_processor(m, load32(e + 4), load32(e + 12), load32(e + 8), true); break;
    case 10: add_nmi(m, load32(e + 4), load16(e + 2), e[8]); break;
    default: break;
    }
}

} // namespace

bool checksum_ok(const uint8_t* p, size_t len) {
    uint8_t sum = 0;
    for (size_t i = 0; i < len; ++i) {
        sum = static_cast<uint8_t>(sum + p[i]);
    }
    return sum == 0;
}

AcpiError parse_rsdp(const uint8_t* p, size_t len, Rsdp& out) {
    if (p == nullptr || len < rsdp_v1_length) {
        return AcpiError::rsdp_too_short;
    }
    if (__builtin_memcmp(p, "RSD PTR ", 8) != 0) {
        return AcpiError::rsdp_bad_signature;
    }
    if (!checksum_ok(p, rsdp_v1_length)) {   // ACPI 6.4 5.2.5.3: first 20 bytes
        return AcpiError::rsdp_bad_checksum;
    }
    out = {p[15], load32(p + 16), 0};
    if (out.revision < 2) {
        return AcpiError::none;
    }
    if (len < rsdp_v2_length) {
        return AcpiError::rsdp_too_short;
    }
    uint32_t length = load32(p + 20);
    if (length < rsdp_v2_length || length > len) {
        return AcpiError::rsdp_bad_length;
    }
    if (!checksum_ok(p, length)) {
        return AcpiError::rsdp_bad_extended_checksum;
    }
    out.xsdt = load64(p + 24);
    return AcpiError::none;
}

AcpiError check_header(const uint8_t* hdr, const char* sig, uint32_t& length) {
    length = load32(hdr + 4);
    if (sig != nullptr && __builtin_memcmp(hdr, sig, 4) != 0) {
        return AcpiError::bad_signature;
    }
    if (length < header_size) {
        return AcpiError::too_short;
    }
    return length > max_table_length ? AcpiError::too_long : AcpiError::none;
}

AcpiError parse_madt(const uint8_t* t, size_t len, Madt& out) {
    out.processor_count = out.ioapic_count = out.override_count = out.nmi_count = 0;
    out.truncated = false;
    if (len < madt_entries) {
        return AcpiError::too_short;
    }
    out.lapic_address = load32(t + 36);
    out.flags = load32(t + 40);
    for (size_t off = madt_entries; off < len;) {
        if (len - off < 2) {
            return AcpiError::madt_entry_overrun;
        }
        uint8_t type = t[off], elen = t[off + 1];
        if (elen < madt_min_length(type)) {
            return AcpiError::madt_entry_too_short;
        }
        if (elen > len - off) {
            return AcpiError::madt_entry_overrun;
        }
        parse_madt_entry(out, t + off);
        off += elen;
    }
    return AcpiError::none;
}

AcpiError parse_fadt(const uint8_t* t, size_t len, Fadt& out) {
    out = Fadt{};
    if (len < fadt_v1_length) {
        return AcpiError::fadt_too_short;
    }
    // Offsets: ACPI 6.4 table 5.9. Extended fields count only when the table is long enough.
    out.dsdt = load32(t + 40);
    if (len >= 148 && load64(t + 140) != 0) {
        out.dsdt = load64(t + 140);
    }
    out.flags = load32(t + 112);
    out.century = t[108];
    out.boot_arch = load16(t + 109);
    if ((out.flags & Fadt::flag_hw_reduced) == 0) {   // 5.2.9: HW-reduced has no PM timer
        if (len >= 220 && load64(t + 208 + 4) != 0) {
            out.pm_timer = load_gas(t + 208);
        } else if (load32(t + 76) != 0 && t[91] >= 4) {
            out.pm_timer = {1, 32, 0, 0, load32(t + 76)};
        }
        if (out.pm_timer.address != 0) {
            out.pm_timer_bits = (out.flags & Fadt::flag_tmr_val_ext) ? 32 : 24;
        }
    }
    if (len >= 129) {
        out.reset_reg = load_gas(t + 116);
        out.reset_value = t[128];
        out.reset_supported = (out.flags & Fadt::flag_reset_reg_sup) && out.reset_reg.address != 0;
    }
    return AcpiError::none;
}

AcpiError Directory::find(const char (&sig)[5], TableEntry& out, size_t instance) const {
    AcpiError corrupt_status = AcpiError::not_found;
    for (size_t i = 0; i < count; ++i) {
        if (__builtin_memcmp(tables[i].signature, sig, 4) != 0) {
            continue;
        }
        if (tables[i].status != AcpiError::none) {
            corrupt_status = corrupt_status == AcpiError::not_found ? tables[i].status : corrupt_status;
        } else if (instance-- == 0) {
            out = tables[i];
            return AcpiError::none;
        }
    }
    return corrupt_status;
}

void detail::record(Directory& dir, const uint8_t* hdr, const char* fallback_sig, uint64_t phys,
                    uint32_t length, AcpiError status) {
    if (dir.count == Directory::capacity) {
        ++dir.dropped;
        return;
    }
    TableEntry& e = dir.tables[dir.count++];
    __builtin_memcpy(e.signature, hdr != nullptr ? reinterpret_cast<const char*>(hdr) : fallback_sig, 4);
    e.phys = phys;
    e.length = length;
    e.status = status;
    dir.corrupt += status != AcpiError::none;
}

const char* describe(AcpiError e) {
    switch (e) {
    case AcpiError::none: return "acpi: ok";
    case AcpiError::rsdp_too_short: return "acpi: RSDP shorter than its revision requires";
    case AcpiError::rsdp_bad_signature: return "acpi: RSDP signature is not \"RSD PTR \"";
    case AcpiError::rsdp_bad_checksum: return "acpi: RSDP checksum over the first 20 bytes is not zero";
    case AcpiError::rsdp_bad_length: return "acpi: RSDP length field is below 36 or beyond the copy";
    case AcpiError::rsdp_bad_extended_checksum: return "acpi: RSDP extended checksum is not zero";
    case AcpiError::rsdp_no_root: return "acpi: RSDP names neither an XSDT nor an RSDT";
    case AcpiError::unmappable: return "acpi: table lies outside readable memory";
    case AcpiError::bad_signature: return "acpi: table signature is not the expected one";
    case AcpiError::too_short: return "acpi: table length is below the 36-byte header";
    case AcpiError::too_long: return "acpi: table length exceeds 1 MiB";
    case AcpiError::bad_checksum: return "acpi: table checksum is not zero";
    case AcpiError::not_found: return "acpi: no such table";
    case AcpiError::madt_entry_too_short: return "acpi: MADT entry shorter than its type requires";
    case AcpiError::madt_entry_overrun: return "acpi: MADT entry overruns the table";
    case AcpiError::fadt_too_short: return "acpi: FADT shorter than the ACPI 1.0 layout (116 bytes)";
    }
    return "acpi: unknown error";
}

} // namespace hv::acpi
