#include "hv/platform.hpp"

#include "hv/acpi/acpi.hpp"
#include "hv/console.hpp"
#include "hv/memory/direct_map.hpp"

namespace hv {
namespace {

acpi::Directory directory;
acpi::Madt madt;
DirectMapReader reader;

// ACPI 6.4 5.2.5.1: the RSDP sits on a 16-byte boundary in the first KiB of the EBDA (whose
// segment the BIOS data area holds at 0x40E) or in 0xE0000-0xFFFFF.
const uint8_t* search_range(uint64_t base, uint64_t length) {
    const uint8_t* p = reader.map(base, length);
    acpi::Rsdp r;
    for (uint64_t off = 0; p && off + 20 <= length; off += 16)
        if (acpi::parse_rsdp(p + off, length - off, r) == acpi::AcpiError::none)
            return p + off;
    return nullptr;
}

const uint8_t* search_rsdp() {
    const uint8_t* bda = reader.map(0x40e, 2);
    uint64_t ebda = bda ? static_cast<uint64_t>(bda[0] | (bda[1] << 8)) << 4 : 0;
    const uint8_t* r = ebda >= 0x80000 && ebda < 0xa0000 ? search_range(ebda, 1024) : nullptr;
    return r ? r : search_range(0xe0000, 0x20000);
}

} // namespace

void discover_platform(const boot::BootInfo& info, Platform& out) {
    const uint8_t* rsdp = info.rsdp;
    size_t rsdp_len = info.rsdp_length;
    if (rsdp_len == 0) {
        rsdp = search_rsdp();
        rsdp_len = rsdp ? 36 : 0;
        if (!rsdp) {
            console::log("hv: acpi: no RSDP from the loader or in the BIOS area; one processor\n");
            return;
        }
    }
    if (acpi::AcpiError e = acpi::scan(reader, rsdp, rsdp_len, directory); e != acpi::AcpiError::none) {
        console::log("hv: acpi: unusable root table: %s; one processor\n", acpi::describe(e));
        return;
    }
    for (size_t i = 0; i < directory.count; i++) {
        const acpi::TableEntry& t = directory.tables[i];
        if (t.status != acpi::AcpiError::none)
            console::log("hv: acpi: table %.4s at %lx ignored: %s\n", t.signature, t.phys,
                         acpi::describe(t.status));
    }
    acpi::Fadt fadt;
    if (acpi::read_fadt(reader, directory, fadt) == acpi::AcpiError::none && fadt.pm_timer_bits &&
        fadt.pm_timer.space == 1 && fadt.pm_timer.address < 0x10000) {
        out.pm_timer_port = static_cast<uint16_t>(fadt.pm_timer.address);
        out.pm_timer_32bit = fadt.pm_timer_bits == 32;
    }
    if (acpi::AcpiError e = acpi::read_madt(reader, directory, madt); e != acpi::AcpiError::none) {
        console::log("hv: acpi: no usable MADT (%s); running on the bootstrap processor alone\n",
                     acpi::describe(e));
        return;
    }
    if (madt.truncated)
        console::log("hv: acpi: MADT lists more processors than the hypervisor supports\n");
    for (size_t i = 0; i < madt.processor_count && out.processor_count < Platform::max_ids; i++)
        if (madt.processors[i].enabled)
            out.apic_ids[out.processor_count++] = madt.processors[i].apic_id;
}

} // namespace hv
