// ACPI discovery and MADT/FADT parsing over tables built in a fake physical memory with real
// checksums (ACPI 6.4 5.2).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fake_phys_mem.hpp"
#include "hv/acpi/acpi.hpp"

using namespace hv::acpi;
using hvtest::FakePhysMem;
using hvtest::fix_checksum;
using hvtest::put16;
using hvtest::put32;
using hvtest::put64;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes make_table(const char* sig, const Bytes& body, uint8_t revision = 1) {
    Bytes t(36, 0);
    std::memcpy(t.data(), sig, 4);
    t[8] = revision;
    std::memcpy(&t[10], "HVTEST", 6);
    t.insert(t.end(), body.begin(), body.end());
    put32(t, 4, static_cast<uint32_t>(t.size()));
    fix_checksum(t, 9, 0, t.size());
    return t;
}

Bytes make_rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
    Bytes r(36, 0);
    std::memcpy(r.data(), "RSD PTR ", 8);
    std::memcpy(&r[9], "HVTEST", 6);
    r[15] = revision;
    put32(r, 16, rsdt);
    put32(r, 20, 36);
    put64(r, 24, xsdt);
    fix_checksum(r, 8, 0, 20);
    fix_checksum(r, 32, 0, 36);
    return r;
}

Bytes root_body(const std::vector<uint64_t>& entries, size_t width) {
    Bytes b(entries.size() * width, 0);
    for (size_t i = 0; i < entries.size(); ++i) {
        std::memcpy(&b[i * width], &entries[i], width);
    }
    return b;
}

struct MadtBuilder {
    Bytes body = Bytes(8, 0);
    MadtBuilder() {
        put32(body, 0, 0xFEE00000);
        put32(body, 4, 1);
    }
    MadtBuilder& entry(uint8_t type, Bytes payload) {
        body.push_back(type);
        body.push_back(static_cast<uint8_t>(payload.size() + 2));
        body.insert(body.end(), payload.begin(), payload.end());
        return *this;
    }
    MadtBuilder& lapic(uint8_t uid, uint8_t id, uint32_t flags) {
        Bytes p(6, 0);
        p[0] = uid;
        p[1] = id;
        put32(p, 2, flags);
        return entry(0, p);
    }
    MadtBuilder& x2apic(uint32_t id, uint32_t flags, uint32_t uid) {
        Bytes p(14, 0);
        put32(p, 2, id);
        put32(p, 6, flags);
        put32(p, 10, uid);
        return entry(9, p);
    }
    MadtBuilder& ioapic(uint8_t id, uint32_t addr, uint32_t gsi) {
        Bytes p(10, 0);
        p[0] = id;
        put32(p, 2, addr);
        put32(p, 6, gsi);
        return entry(1, p);
    }
    MadtBuilder& iso(uint8_t src, uint32_t gsi, uint16_t flags) {
        Bytes p(8, 0);
        p[1] = src;
        put32(p, 2, gsi);
        put16(p, 6, flags);
        return entry(2, p);
    }
    Bytes build() const { return make_table("APIC", body, 5); }
};

Bytes make_fadt(size_t length, uint32_t flags, uint64_t x_dsdt, uint32_t dsdt) {
    Bytes body(length - 36, 0);
    auto at = [&](size_t off) { return off - 36; };
    put32(body, at(40), dsdt);
    put32(body, at(76), 0x608);   // PM_TMR_BLK
    body[at(91)] = 4;              // PM_TMR_LEN
    body[at(108)] = 0x32;          // CENTURY
    put16(body, at(109), 0x3);
    put32(body, at(112), flags);
    if (length >= 129) {
        body[at(116)] = 1;         // RESET_REG: system I/O 0xCF9
        body[at(117)] = 8;
        put64(body, at(120), 0xCF9);
        body[at(128)] = 0x6;
    }
    if (length >= 148) {
        put64(body, at(140), x_dsdt);
    }
    if (length >= 220) {
        body[at(208)] = 1;
        body[at(209)] = 32;
        body[at(211)] = 3;
        put64(body, at(212), 0x1808);
    }
    return make_table("FACP", body, 6);
}

// A machine: RSDP copy, XSDT at 0x10000, RSDT at 0x11000, tables from 0x20000 up.
struct Platform {
    FakePhysMem mem;
    Bytes rsdp;
    std::vector<uint64_t> addrs;
    uint64_t next = 0x20000;

    uint64_t add(const Bytes& table) {
        uint64_t a = next;
        mem.put(a, table);
        addrs.push_back(a);
        next += 0x1000;
        return a;
    }
    void finish(uint8_t revision = 2) {
        mem.put(0x10000, make_table("XSDT", root_body(addrs, 8)));
        mem.put(0x11000, make_table("RSDT", root_body(addrs, 4)));
        rsdp = make_rsdp(revision, 0x11000, revision >= 2 ? 0x10000 : 0);
    }
    AcpiError scan(Directory& dir) const { return hv::acpi::scan(mem, rsdp.data(), rsdp.size(), dir); }
};

Platform standard() {
    Platform p;
    p.add(make_fadt(276, Fadt::flag_tmr_val_ext | Fadt::flag_reset_reg_sup, 0x30000, 0x30000));
    p.add(MadtBuilder().lapic(0, 0, 1).lapic(1, 2, 1).ioapic(8, 0xFEC00000, 0).iso(0, 2, 0).build());
    p.add(make_table("HPET", Bytes(20, 0)));
    p.mem.put(0x30000, make_table("DSDT", Bytes(100, 0xA5), 2));
    p.finish();
    return p;
}

} // namespace

TEST(AcpiRsdp, ParsesV1AndV2) {
    Rsdp r;
    Bytes v2 = make_rsdp(2, 0x1234, 0x56789ABCDEull);
    ASSERT_EQ(parse_rsdp(v2.data(), v2.size(), r), AcpiError::none);
    EXPECT_EQ(r.revision, 2);
    EXPECT_EQ(r.rsdt, 0x1234u);
    EXPECT_EQ(r.xsdt, 0x56789ABCDEull);
    Bytes v1 = make_rsdp(0, 0x4321, 0);
    ASSERT_EQ(parse_rsdp(v1.data(), 20, r), AcpiError::none);
    EXPECT_EQ(r.rsdt, 0x4321u);
    EXPECT_EQ(r.xsdt, 0u);
}

TEST(AcpiRsdp, RejectsCorruption) {
    Rsdp r;
    Bytes v2 = make_rsdp(2, 1, 2);
    EXPECT_EQ(parse_rsdp(v2.data(), 19, r), AcpiError::rsdp_too_short);
    EXPECT_EQ(parse_rsdp(v2.data(), 20, r), AcpiError::rsdp_too_short);   // revision 2 needs 36
    EXPECT_EQ(parse_rsdp(nullptr, 36, r), AcpiError::rsdp_too_short);
    Bytes bad = v2;
    bad[0] = 'X';
    EXPECT_EQ(parse_rsdp(bad.data(), bad.size(), r), AcpiError::rsdp_bad_signature);
    bad = v2;
    bad[16] ^= 1;
    EXPECT_EQ(parse_rsdp(bad.data(), bad.size(), r), AcpiError::rsdp_bad_checksum);
    bad = v2;
    bad[30] ^= 1;
    EXPECT_EQ(parse_rsdp(bad.data(), bad.size(), r), AcpiError::rsdp_bad_extended_checksum);
    bad = v2;
    put32(bad, 20, 64);   // claims more than we hold
    fix_checksum(bad, 8, 0, 20);
    EXPECT_EQ(parse_rsdp(bad.data(), bad.size(), r), AcpiError::rsdp_bad_length);
}

TEST(AcpiTables, ChecksumAndHeader) {
    Bytes t = make_table("TEST", Bytes(10, 3));
    EXPECT_TRUE(checksum_ok(t.data(), t.size()));
    uint32_t len = 0;
    EXPECT_EQ(check_header(t.data(), "TEST", len), AcpiError::none);
    EXPECT_EQ(len, 46u);
    EXPECT_EQ(check_header(t.data(), "APIC", len), AcpiError::bad_signature);
    put32(t, 4, 35);
    EXPECT_EQ(check_header(t.data(), nullptr, len), AcpiError::too_short);
    put32(t, 4, (1u << 20) + 1);
    EXPECT_EQ(check_header(t.data(), nullptr, len), AcpiError::too_long);
    t[20] ^= 0xFF;
    EXPECT_FALSE(checksum_ok(t.data(), 36));
}

TEST(AcpiScan, FindsTablesThroughXsdt) {
    Platform p = standard();
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    EXPECT_TRUE(dir->used_xsdt);
    EXPECT_EQ(dir->count, 4u);   // FACP, APIC, HPET + DSDT from the FADT
    EXPECT_EQ(dir->corrupt, 0u);
    TableEntry e;
    ASSERT_EQ(dir->find("HPET", e), AcpiError::none);
    EXPECT_EQ(e.phys, 0x22000u);
    EXPECT_EQ(e.length, 56u);
    ASSERT_EQ(dir->find("DSDT", e), AcpiError::none);
    EXPECT_EQ(e.phys, 0x30000u);
    EXPECT_EQ(dir->find("SRAT", e), AcpiError::not_found);
}

TEST(AcpiScan, UsesRsdtForAcpi1) {
    Platform p = standard();
    p.finish(0);
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    EXPECT_FALSE(dir->used_xsdt);
    TableEntry e;
    EXPECT_EQ(dir->find("APIC", e), AcpiError::none);
}

TEST(AcpiScan, FallsBackToRsdtWhenXsdtCorrupt) {
    Platform p = standard();
    p.mem.at(0x10000 + 20)[0] ^= 0x55;   // break the XSDT checksum
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    EXPECT_FALSE(dir->used_xsdt);
    EXPECT_EQ(dir->root_status, AcpiError::bad_checksum);
    TableEntry e;
    EXPECT_EQ(dir->find("FACP", e), AcpiError::none);
}

TEST(AcpiScan, FailsWhenNoRootUsable) {
    Platform p = standard();
    p.mem.at(0x10000 + 20)[0] ^= 0x55;
    p.mem.at(0x11000 + 20)[0] ^= 0x55;
    auto dir = std::make_unique<Directory>();
    EXPECT_EQ(p.scan(*dir), AcpiError::bad_checksum);
    Platform q = standard();
    q.rsdp = make_rsdp(2, 0, 0);
    EXPECT_EQ(q.scan(*dir), AcpiError::rsdp_no_root);
    q.rsdp = make_rsdp(2, 0x99000, 0x98000);   // both unmapped
    EXPECT_EQ(q.scan(*dir), AcpiError::unmappable);
}

TEST(AcpiScan, CorruptUnneededTableIsRecordedAndSkipped) {
    Platform p = standard();
    p.mem.at(0x22000 + 40)[0] ^= 1;   // HPET checksum
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    EXPECT_EQ(dir->corrupt, 1u);
    TableEntry e;
    EXPECT_EQ(dir->find("HPET", e), AcpiError::bad_checksum);
    EXPECT_EQ(dir->find("APIC", e), AcpiError::none);
    auto madt = std::make_unique<Madt>();
    EXPECT_EQ(read_madt(p.mem, *dir, *madt), AcpiError::none);
}

TEST(AcpiScan, OverlongAndUnmappableTablesRecorded) {
    Platform p;
    Bytes big = make_table("SSDT", Bytes(10, 0));
    put32(big, 4, 0x2000000);   // 32 MiB: absurd
    p.add(big);
    Bytes runs_off = make_table("BERT", Bytes(10, 0));
    put32(runs_off, 4, 0x1800);  // within limits, but beyond the readable page
    p.add(runs_off);
    p.addrs.push_back(0x7777000);   // points at nothing
    p.addrs.push_back(0);           // null entry
    p.add(MadtBuilder().lapic(0, 0, 1).build());
    p.finish();
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    ASSERT_EQ(dir->count, 5u);
    EXPECT_EQ(dir->tables[0].status, AcpiError::too_long);
    EXPECT_EQ(std::string(dir->tables[0].signature, 4), "SSDT");
    EXPECT_EQ(dir->tables[1].status, AcpiError::unmappable);
    EXPECT_EQ(std::string(dir->tables[1].signature, 4), "BERT");
    EXPECT_EQ(dir->tables[2].status, AcpiError::unmappable);
    EXPECT_EQ(dir->tables[3].status, AcpiError::unmappable);
    EXPECT_EQ(dir->tables[4].status, AcpiError::none);
    EXPECT_EQ(dir->corrupt, 4u);
}

TEST(AcpiScan, FindSecondInstance) {
    Platform p;
    p.add(make_table("SSDT", Bytes(4, 1)));
    p.add(make_table("SSDT", Bytes(8, 2)));
    p.finish();
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    TableEntry e;
    ASSERT_EQ(dir->find("SSDT", e, 1), AcpiError::none);
    EXPECT_EQ(e.length, 44u);
    EXPECT_EQ(dir->find("SSDT", e, 2), AcpiError::not_found);
}

TEST(AcpiScan, DirectoryOverflowCountsDropped) {
    Platform p;
    for (size_t i = 0; i < Directory::capacity + 3; ++i) {
        p.add(make_table("SSDT", Bytes(1, static_cast<uint8_t>(i))));
    }
    p.finish();
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    EXPECT_EQ(dir->count, Directory::capacity);
    EXPECT_EQ(dir->dropped, 3u);
}

TEST(AcpiScan, RootTableWithWrongSignatureRejected) {
    Platform p = standard();
    p.mem.put(0x10000, make_table("RSDT", root_body(p.addrs, 8)));   // XSDT slot holds an RSDT
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    EXPECT_EQ(dir->root_status, AcpiError::bad_signature);
    EXPECT_FALSE(dir->used_xsdt);
}

TEST(AcpiMadt, ParsesProcessorsAndControllers) {
    Platform p;
    p.add(MadtBuilder()
              .lapic(0, 0, 1)
              .lapic(1, 1, 2)          // online capable, not enabled
              .lapic(2, 2, 0)          // unusable: ignored
              .x2apic(300, 1, 7)
              .x2apic(1, 1, 9)         // duplicate APIC id of a type 0 entry
              .ioapic(4, 0xFEC00000, 0)
              .ioapic(5, 0xFEC01000, 24)
              .iso(0, 2, 0)
              .iso(9, 9, 0xD)
              .entry(4, {0xFF, 5, 0, 1})                       // LAPIC NMI, all CPUs, LINT1
              .entry(10, {5, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0})   // x2APIC NMI
              .entry(5, {0, 0, 0, 0, 0xD0, 0xFE, 0, 0, 0, 0})   // LAPIC address override
              .entry(0x7F, {1, 2, 3})                          // unknown type skipped
              .build());
    p.finish();
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    auto m = std::make_unique<Madt>();
    ASSERT_EQ(read_madt(p.mem, *dir, *m), AcpiError::none);
    EXPECT_EQ(m->lapic_address, 0xFED00000u);
    EXPECT_EQ(m->flags, 1u);
    ASSERT_EQ(m->processor_count, 3u);
    EXPECT_TRUE(m->processors[0].enabled);
    EXPECT_FALSE(m->processors[1].enabled);
    EXPECT_TRUE(m->processors[1].online_capable);
    EXPECT_EQ(m->processors[2].apic_id, 300u);
    EXPECT_EQ(m->processors[2].uid, 7u);
    EXPECT_TRUE(m->processors[2].x2apic);
    ASSERT_EQ(m->ioapic_count, 2u);
    EXPECT_EQ(m->ioapics[1].gsi_base, 24u);
    EXPECT_EQ(m->ioapics[1].address, 0xFEC01000u);
    ASSERT_EQ(m->override_count, 2u);
    EXPECT_EQ(m->overrides[0].gsi, 2u);
    EXPECT_EQ(m->overrides[1].flags, 0xDu);
    ASSERT_EQ(m->nmi_count, 2u);
    EXPECT_EQ(m->nmis[0].uid, 0xFFu);
    EXPECT_EQ(m->nmis[0].lint, 1);
    EXPECT_EQ(m->nmis[1].uid, 0xFFFFFFFFu);
    EXPECT_EQ(m->nmis[1].flags, 5u);
    EXPECT_FALSE(m->truncated);
}

TEST(AcpiMadt, RejectsZeroLengthEntry) {
    Bytes t = MadtBuilder().lapic(0, 0, 1).entry(0x7F, {}).build();
    t[36 + 8 + 8 + 1] = 0;
    fix_checksum(t, 9, 0, t.size());
    auto m = std::make_unique<Madt>();
    EXPECT_EQ(parse_madt(t.data(), t.size(), *m), AcpiError::madt_entry_too_short);
}

TEST(AcpiMadt, RejectsEntryOverrun) {
    Bytes t = MadtBuilder().lapic(0, 0, 1).build();
    t[36 + 8 + 1] = 20;
    auto m = std::make_unique<Madt>();
    EXPECT_EQ(parse_madt(t.data(), t.size(), *m), AcpiError::madt_entry_overrun);
    Bytes odd = MadtBuilder().lapic(0, 0, 1).build();
    odd.push_back(0);   // one stray byte: not even an entry header
    EXPECT_EQ(parse_madt(odd.data(), odd.size(), *m), AcpiError::madt_entry_overrun);
}

TEST(AcpiMadt, RejectsEntryShorterThanType) {
    Bytes t = MadtBuilder().entry(9, Bytes(6, 0)).build();   // x2APIC needs 16
    auto m = std::make_unique<Madt>();
    EXPECT_EQ(parse_madt(t.data(), t.size(), *m), AcpiError::madt_entry_too_short);
    Bytes tiny = make_table("APIC", Bytes(4, 0));
    EXPECT_EQ(parse_madt(tiny.data(), tiny.size(), *m), AcpiError::too_short);
}

TEST(AcpiMadt, TruncatesBeyondCapacity) {
    MadtBuilder b;
    for (uint32_t i = 0; i < Madt::max_processors + 10; ++i) {
        b.x2apic(i, 1, i);
    }
    Bytes t = b.build();
    auto m = std::make_unique<Madt>();
    ASSERT_EQ(parse_madt(t.data(), t.size(), *m), AcpiError::none);
    EXPECT_EQ(m->processor_count, Madt::max_processors);
    EXPECT_TRUE(m->truncated);
}

TEST(AcpiMadt, CorruptMadtReportedByReadMadt) {
    Platform p = standard();
    p.mem.at(0x21000 + 50)[0] ^= 1;
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    auto m = std::make_unique<Madt>();
    EXPECT_EQ(read_madt(p.mem, *dir, *m), AcpiError::bad_checksum);
}

TEST(AcpiFadt, ExtendedFieldsPreferred) {
    Platform p = standard();
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    Fadt f;
    ASSERT_EQ(read_fadt(p.mem, *dir, f), AcpiError::none);
    EXPECT_EQ(f.dsdt, 0x30000u);
    EXPECT_EQ(f.pm_timer.address, 0x1808u);
    EXPECT_EQ(f.pm_timer.space, 1);
    EXPECT_EQ(f.pm_timer_bits, 32);
    EXPECT_TRUE(f.reset_supported);
    EXPECT_EQ(f.reset_reg.address, 0xCF9u);
    EXPECT_EQ(f.reset_value, 6);
    EXPECT_EQ(f.century, 0x32);
    EXPECT_EQ(f.boot_arch, 3);
}

TEST(AcpiFadt, Acpi1LayoutUsesLegacyFields) {
    Bytes t = make_fadt(116, 0, 0, 0x7000);
    Fadt f;
    ASSERT_EQ(parse_fadt(t.data(), t.size(), f), AcpiError::none);
    EXPECT_EQ(f.dsdt, 0x7000u);
    EXPECT_EQ(f.pm_timer.address, 0x608u);
    EXPECT_EQ(f.pm_timer.space, 1);
    EXPECT_EQ(f.pm_timer_bits, 24);
    EXPECT_FALSE(f.reset_supported);
    Bytes x = make_fadt(244, 0, 0x123456789ull, 0x7000);
    ASSERT_EQ(parse_fadt(x.data(), x.size(), f), AcpiError::none);
    EXPECT_EQ(f.dsdt, 0x123456789ull);
}

TEST(AcpiFadt, HardwareReducedHasNoPmTimer) {
    Bytes t = make_fadt(276, Fadt::flag_hw_reduced, 0, 0);
    Fadt f;
    ASSERT_EQ(parse_fadt(t.data(), t.size(), f), AcpiError::none);
    EXPECT_EQ(f.pm_timer_bits, 0);
    EXPECT_EQ(f.pm_timer.address, 0u);
    EXPECT_FALSE(f.reset_supported);   // RESET_REG_SUP not set
}

TEST(AcpiFadt, RejectsShortFadt) {
    Bytes t = make_table("FACP", Bytes(60, 0));
    Fadt f;
    EXPECT_EQ(parse_fadt(t.data(), t.size(), f), AcpiError::fadt_too_short);
}

TEST(AcpiFadt, DsdtCorruptionRecorded) {
    Platform p = standard();
    p.mem.at(0x30000 + 60)[0] ^= 1;
    auto dir = std::make_unique<Directory>();
    ASSERT_EQ(p.scan(*dir), AcpiError::none);
    TableEntry e;
    EXPECT_EQ(dir->find("DSDT", e), AcpiError::bad_checksum);
}

TEST(Acpi, DescribeNamesEveryError) {
    for (uint32_t i = 0; i <= static_cast<uint32_t>(AcpiError::fadt_too_short); ++i) {
        std::string s = describe(static_cast<AcpiError>(i));
        EXPECT_EQ(s.rfind("acpi: ", 0), 0u);
        EXPECT_EQ(s.find("unknown"), std::string::npos) << i;
    }
}
