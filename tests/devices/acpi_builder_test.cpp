// ACPI tables from acpi_builder, read back with the hypervisor's own parser (hv/acpi/acpi.hpp)
// over a fake guest-physical memory: checksums, linkage RSDP -> XSDT/RSDT -> FADT -> DSDT, and
// MADT contents (ACPI 6.4 chapter 5).
#include "hv/acpi/acpi.hpp"
#include "partitions/devices/acpi_builder.hpp"
#include "tests/unit/fake_phys_mem.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using devices::AcpiBuildError;
using devices::AcpiConfig;
using devices::AcpiIoApic;
using devices::AcpiIrqOverride;
using devices::AcpiLayout;
using devices::build_acpi;
namespace acpi = hv::acpi;

namespace {

constexpr uint64_t base = 0xE0000;

struct Built {
    std::vector<uint8_t> bytes;
    AcpiLayout layout;
    hvtest::FakePhysMem mem;
    acpi::Directory dir;
};

// Builds, places the bytes at `at` and scans them as a kernel would from the RSDP.
void build(const AcpiConfig& c, Built& b, uint64_t at = base) {
    b.bytes.assign(devices::acpi_size(c), 0);
    ASSERT_EQ(build_acpi(c, b.bytes.data(), b.bytes.size(), at, b.layout), AcpiBuildError::ok);
    ASSERT_EQ(b.layout.size, b.bytes.size());
    b.mem.put(at, b.bytes);
    ASSERT_EQ(acpi::scan(b.mem, b.bytes.data(), 36, b.dir), acpi::AcpiError::none);
}

AcpiConfig cpus(const std::vector<uint32_t>& ids) {
    AcpiConfig c;
    c.apic_ids = ids.data();
    c.cpu_count = ids.size();
    return c;
}

const std::vector<uint32_t> four = {0, 1, 2, 3};

} // namespace

TEST(AcpiBuilder, RsdpParsesAsRevision2) {
    Built b;
    build(cpus(four), b);
    acpi::Rsdp r;
    ASSERT_EQ(acpi::parse_rsdp(b.bytes.data(), 36, r), acpi::AcpiError::none);
    EXPECT_EQ(r.revision, 2);
    EXPECT_EQ(r.xsdt, b.layout.xsdt);
    EXPECT_EQ(r.rsdt, b.layout.rsdt);
    EXPECT_EQ(b.layout.rsdp, base);
}

TEST(AcpiBuilder, ScanFindsEveryTableThroughTheXsdt) {
    Built b;
    build(cpus(four), b);
    EXPECT_TRUE(b.dir.used_xsdt);
    EXPECT_EQ(b.dir.corrupt, 0u);
    EXPECT_EQ(b.dir.count, 3u); // FACP, APIC from the XSDT; DSDT from the FADT
    acpi::TableEntry e;
    ASSERT_EQ(b.dir.find("FACP", e), acpi::AcpiError::none);
    EXPECT_EQ(e.phys, b.layout.fadt);
    EXPECT_EQ(e.length, 276u);
    ASSERT_EQ(b.dir.find("APIC", e), acpi::AcpiError::none);
    EXPECT_EQ(e.phys, b.layout.madt);
    ASSERT_EQ(b.dir.find("DSDT", e), acpi::AcpiError::none);
    EXPECT_EQ(e.phys, b.layout.dsdt);
}

TEST(AcpiBuilder, EveryChecksumHolds) {
    Built b;
    build(cpus(four), b);
    const uint8_t* p = b.bytes.data();
    EXPECT_TRUE(acpi::checksum_ok(p, 20));
    EXPECT_TRUE(acpi::checksum_ok(p, 36));
    for (uint64_t t : {b.layout.rsdt, b.layout.xsdt, b.layout.fadt, b.layout.madt, b.layout.dsdt}) {
        uint32_t len = 0;
        std::memcpy(&len, p + (t - base) + 4, 4);
        EXPECT_TRUE(acpi::checksum_ok(p + (t - base), len)) << std::hex << t;
        EXPECT_EQ(t % 16, 0u);
    }
}

TEST(AcpiBuilder, RsdtFallbackWhenTheXsdtIsCorrupt) {
    Built b;
    build(cpus(four), b);
    b.mem.at(b.layout.xsdt + 9)[0] ^= 0xff;
    acpi::Directory dir;
    ASSERT_EQ(acpi::scan(b.mem, b.bytes.data(), 36, dir), acpi::AcpiError::none);
    EXPECT_FALSE(dir.used_xsdt);
    acpi::Madt madt;
    ASSERT_EQ(acpi::read_madt(b.mem, dir, madt), acpi::AcpiError::none);
    EXPECT_EQ(madt.processor_count, 4u);
}

TEST(AcpiBuilder, MadtListsLocalApicsWithTheirIds) {
    std::vector<uint32_t> ids = {0, 2, 4, 6, 254};
    Built b;
    build(cpus(ids), b);
    acpi::Madt madt;
    ASSERT_EQ(acpi::read_madt(b.mem, b.dir, madt), acpi::AcpiError::none);
    EXPECT_EQ(madt.lapic_address, 0xFEE00000u);
    EXPECT_EQ(madt.flags, 0u);
    ASSERT_EQ(madt.processor_count, ids.size());
    for (size_t i = 0; i < ids.size(); i++) {
        EXPECT_EQ(madt.processors[i].apic_id, ids[i]);
        EXPECT_EQ(madt.processors[i].uid, i);
        EXPECT_TRUE(madt.processors[i].enabled);
        EXPECT_FALSE(madt.processors[i].x2apic);
    }
    EXPECT_EQ(madt.ioapic_count, 0u);
}

TEST(AcpiBuilder, MadtUsesX2apicEntriesForLargeIds) {
    std::vector<uint32_t> ids = {1, 255, 0x12345};
    Built b;
    build(cpus(ids), b);
    acpi::Madt madt;
    ASSERT_EQ(acpi::read_madt(b.mem, b.dir, madt), acpi::AcpiError::none);
    ASSERT_EQ(madt.processor_count, 3u);
    EXPECT_FALSE(madt.processors[0].x2apic);
    EXPECT_TRUE(madt.processors[1].x2apic);
    EXPECT_EQ(madt.processors[2].apic_id, 0x12345u);
    EXPECT_EQ(madt.processors[2].uid, 2u);
}

TEST(AcpiBuilder, MadtCanUseX2apicEntriesThroughout) {
    AcpiConfig c = cpus(four);
    c.x2apic_entries = true;
    Built b;
    build(c, b);
    acpi::Madt madt;
    ASSERT_EQ(acpi::read_madt(b.mem, b.dir, madt), acpi::AcpiError::none);
    ASSERT_EQ(madt.processor_count, 4u);
    for (size_t i = 0; i < 4; i++)
        EXPECT_TRUE(madt.processors[i].x2apic);
}

TEST(AcpiBuilder, MadtIoApicOverridesAndFlags) {
    AcpiConfig c = cpus(four);
    AcpiIoApic io{4, 0xFEC00000, 0};
    AcpiIrqOverride ov[] = {{0, 2, 0}, {9, 9, 0xd}};
    c.ioapic = &io;
    c.overrides = ov;
    c.override_count = 2;
    c.pcat_compat = true;
    c.lapic_address = 0xFEE00000;
    Built b;
    build(c, b);
    acpi::Madt madt;
    ASSERT_EQ(acpi::read_madt(b.mem, b.dir, madt), acpi::AcpiError::none);
    EXPECT_EQ(madt.flags, 1u);
    ASSERT_EQ(madt.ioapic_count, 1u);
    EXPECT_EQ(madt.ioapics[0].id, 4u);
    EXPECT_EQ(madt.ioapics[0].address, 0xFEC00000u);
    ASSERT_EQ(madt.override_count, 2u);
    EXPECT_EQ(madt.overrides[0].source, 0);
    EXPECT_EQ(madt.overrides[0].gsi, 2u);
    EXPECT_EQ(madt.overrides[1].flags, 0xd);
}

TEST(AcpiBuilder, FadtIsHardwareReducedAndPointsToTheDsdt) {
    Built b;
    build(cpus(four), b);
    acpi::Fadt fadt;
    ASSERT_EQ(acpi::read_fadt(b.mem, b.dir, fadt), acpi::AcpiError::none);
    EXPECT_EQ(fadt.dsdt, b.layout.dsdt);
    EXPECT_TRUE(fadt.flags & acpi::Fadt::flag_hw_reduced);
    EXPECT_EQ(fadt.pm_timer_bits, 0);
    EXPECT_FALSE(fadt.reset_supported);
    const uint8_t* t = b.bytes.data() + (b.layout.fadt - base);
    EXPECT_EQ(t[8], 6) << "FADT major version 6 (ACPI 6.x layout)";
    uint32_t dsdt32 = 0, facs32 = 0;
    std::memcpy(&dsdt32, t + 40, 4);
    std::memcpy(&facs32, t + 36, 4);
    EXPECT_EQ(dsdt32, b.layout.dsdt) << "32-bit kernels read only DSDT";
    EXPECT_EQ(facs32, 0u) << "no FACS on a HW-reduced platform";
}

TEST(AcpiBuilder, FadtResetRegister) {
    AcpiConfig c = cpus(four);
    c.reset_port = 0xcf9;
    c.reset_value = 0x6;
    c.boot_arch = 1u << 5;
    Built b;
    build(c, b);
    acpi::Fadt fadt;
    ASSERT_EQ(acpi::read_fadt(b.mem, b.dir, fadt), acpi::AcpiError::none);
    EXPECT_TRUE(fadt.reset_supported);
    EXPECT_EQ(fadt.reset_reg.space, 1);
    EXPECT_EQ(fadt.reset_reg.bit_width, 8);
    EXPECT_EQ(fadt.reset_reg.address, 0xcf9u);
    EXPECT_EQ(fadt.reset_value, 6);
    EXPECT_EQ(fadt.boot_arch, 1u << 5);
}

TEST(AcpiBuilder, EmptyDsdtIsAHeaderOnly) {
    Built b;
    build(cpus(four), b);
    const uint8_t* d = b.bytes.data() + (b.layout.dsdt - base);
    EXPECT_EQ(std::memcmp(d, "DSDT", 4), 0);
    uint32_t len = 0;
    std::memcpy(&len, d + 4, 4);
    EXPECT_EQ(len, 36u);
    EXPECT_EQ(d[8], 2) << "revision 2: 64-bit AML integers";
}

TEST(AcpiBuilder, DsdtCarriesTheCallersAml) {
    // Scope (\_SB) { Device (VMBS) { Name (_HID, "VMBus") } }, hand-assembled (ACPI 6.4 20.2).
    const std::vector<uint8_t> aml = {0x10, 0x19, '\\', '_', 'S', 'B',  '_', 0x5b, 0x82,
                                      0x11, 'V',  'M',  'B', 'S', 0x08, '_', 'H',  'I',
                                      'D',  0x0d, 'V',  'M', 'B', 'u',  's', 0x00};
    AcpiConfig c = cpus(four);
    c.dsdt_aml = aml.data();
    c.dsdt_aml_size = aml.size();
    Built b;
    build(c, b);
    acpi::TableEntry e;
    ASSERT_EQ(b.dir.find("DSDT", e), acpi::AcpiError::none);
    EXPECT_EQ(e.length, 36 + aml.size());
    const uint8_t* body = b.bytes.data() + (b.layout.dsdt - base) + 36;
    EXPECT_EQ(std::vector<uint8_t>(body, body + aml.size()), aml);
}

TEST(AcpiBuilder, TablesAboveFourGibHaveNoRsdt) {
    Built b;
    build(cpus(four), b, 0x100000000ull);
    EXPECT_EQ(b.layout.rsdt, 0u);
    EXPECT_TRUE(b.dir.used_xsdt);
    acpi::Fadt fadt;
    ASSERT_EQ(acpi::read_fadt(b.mem, b.dir, fadt), acpi::AcpiError::none);
    EXPECT_EQ(fadt.dsdt, b.layout.dsdt) << "X_DSDT carries the 64-bit address";
    uint32_t dsdt32 = 1;
    std::memcpy(&dsdt32, b.bytes.data() + (b.layout.fadt - 0x100000000ull) + 40, 4);
    EXPECT_EQ(dsdt32, 0u);
}

// A Multiboot kernel finds the RSDP by scanning 0xE0000-0xFFFFF on 16-byte boundaries (5.2.5.1).
TEST(AcpiBuilder, RsdpIsFoundByABiosAreaScan) {
    std::vector<uint8_t> bios(0x20000, 0);
    AcpiConfig c = cpus(four);
    AcpiLayout l;
    ASSERT_EQ(build_acpi(c, bios.data() + 0x1230, bios.size() - 0x1230, 0xE1230, l), AcpiBuildError::ok);
    uint64_t found = 0;
    for (size_t off = 0; off + 20 <= bios.size() && !found; off += 16)
        if (std::memcmp(&bios[off], "RSD PTR ", 8) == 0 && acpi::checksum_ok(&bios[off], 20))
            found = 0xE0000 + off;
    EXPECT_EQ(found, 0xE1230u);
}

TEST(AcpiBuilder, SizeIsExactAndTheRestUntouched) {
    AcpiConfig c = cpus(four);
    size_t need = devices::acpi_size(c);
    std::vector<uint8_t> buf(need + 64, 0xcc);
    AcpiLayout l;
    ASSERT_EQ(build_acpi(c, buf.data(), buf.size(), base, l), AcpiBuildError::ok);
    EXPECT_EQ(l.size, need);
    for (size_t i = need; i < buf.size(); i++)
        ASSERT_EQ(buf[i], 0xcc);
    EXPECT_EQ(build_acpi(c, buf.data(), need - 1, base, l), AcpiBuildError::buffer_too_small);
}

TEST(AcpiBuilder, OutputIsReproducible) {
    AcpiConfig c = cpus(four);
    std::vector<uint8_t> a(devices::acpi_size(c), 0x11), b(a.size(), 0x22);
    AcpiLayout l;
    ASSERT_EQ(build_acpi(c, a.data(), a.size(), base, l), AcpiBuildError::ok);
    ASSERT_EQ(build_acpi(c, b.data(), b.size(), base, l), AcpiBuildError::ok);
    EXPECT_EQ(a, b);
}

TEST(AcpiBuilder, ManyProcessors) {
    std::vector<uint32_t> ids(200);
    for (size_t i = 0; i < ids.size(); i++)
        ids[i] = static_cast<uint32_t>(i * 2); // ids 256+ take x2APIC entries
    Built b;
    build(cpus(ids), b);
    acpi::Madt madt;
    ASSERT_EQ(acpi::read_madt(b.mem, b.dir, madt), acpi::AcpiError::none);
    ASSERT_EQ(madt.processor_count, 200u);
    EXPECT_EQ(madt.processors[199].apic_id, 398u);
    EXPECT_TRUE(madt.processors[199].x2apic);
    EXPECT_FALSE(madt.truncated);
}

TEST(AcpiBuilder, RejectsBadConfigurations) {
    std::vector<uint8_t> buf(4096);
    AcpiLayout l;
    AcpiConfig none;
    EXPECT_EQ(build_acpi(none, buf.data(), buf.size(), base, l), AcpiBuildError::no_processors);
    EXPECT_EQ(devices::acpi_size(none), 0u);
    AcpiConfig c = cpus(four);
    EXPECT_EQ(build_acpi(c, buf.data(), buf.size(), base + 8, l), AcpiBuildError::base_misaligned);
    EXPECT_EQ(build_acpi(c, buf.data(), buf.size(), ~0ull & ~15ull, l), AcpiBuildError::address_overflow);
    EXPECT_EQ(build_acpi(c, nullptr, 0, base, l), AcpiBuildError::buffer_too_small);
    c.dsdt_aml_size = 10; // no bytes
    EXPECT_EQ(build_acpi(c, buf.data(), buf.size(), base, l), AcpiBuildError::aml_too_large);
    c.dsdt_aml = buf.data();
    c.dsdt_aml_size = 2u << 20;
    EXPECT_EQ(build_acpi(c, buf.data(), buf.size(), base, l), AcpiBuildError::aml_too_large);
    AcpiConfig many = cpus(four);
    many.cpu_count = devices::acpi_max_processors + 1;
    EXPECT_EQ(devices::acpi_size(many), 0u);
    EXPECT_STRNE(devices::describe(AcpiBuildError::base_misaligned), "");
}
