// fw_cfg (QEMU docs/specs/fw_cfg) and isa-debug-exit driven through their port interface, as a
// guest's IN/OUT instructions would, including arbitrary hostile sequences.
#include "partitions/devices/debug_exit.hpp"
#include "partitions/devices/fw_cfg.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

using devices::DebugExit;
using devices::FwCfg;
using devices::FwCfgError;
using devices::PortEvent;

namespace {

void select(FwCfg& f, uint16_t key) {
    f.write(FwCfg::selector_port, 2, key);
}

std::vector<uint8_t> read_bytes(FwCfg& f, size_t n) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n; i++)
        out.push_back(static_cast<uint8_t>(f.read(FwCfg::data_port, 1)));
    return out;
}

std::vector<uint8_t> read_item(FwCfg& f, uint16_t key, size_t n) {
    select(f, key);
    return read_bytes(f, n);
}

uint64_t le(const std::vector<uint8_t>& b) {
    uint64_t v = 0;
    for (size_t i = b.size(); i-- > 0;)
        v = v << 8 | b[i];
    return v;
}

uint32_t be(const uint8_t* p, size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

struct DirEntry {
    uint32_t size;
    uint16_t select;
    std::string name;
};

// Parses the directory as a guest (SeaBIOS, Linux's qemu_fw_cfg) does.
std::vector<DirEntry> read_dir(FwCfg& f) {
    select(f, FwCfg::key_file_dir);
    auto head = read_bytes(f, 4);
    uint32_t count = be(head.data(), 4);
    std::vector<DirEntry> out;
    for (uint32_t i = 0; i < count; i++) {
        auto e = read_bytes(f, 64);
        out.push_back({be(e.data(), 4), static_cast<uint16_t>(be(e.data() + 4, 2)),
                       std::string(reinterpret_cast<const char*>(e.data() + 8))});
        EXPECT_EQ(e[6], 0);
        EXPECT_EQ(e[7], 0);
        EXPECT_EQ(e[63], 0) << "names are NUL-terminated";
    }
    return out;
}

} // namespace

TEST(FwCfg, SignatureReadsQemu) {
    FwCfg f(64 << 20, 1, 1);
    auto sig = read_item(f, FwCfg::key_signature, 4);
    EXPECT_EQ(std::string(sig.begin(), sig.end()), "QEMU");
}

TEST(FwCfg, SignatureIsSelectedAtReset) {
    FwCfg f(64 << 20, 1, 1);
    EXPECT_EQ(f.read(FwCfg::data_port, 1), uint32_t{'Q'});
}

TEST(FwCfg, IdOffersTraditionalInterfaceOnly) {
    FwCfg f(64 << 20, 1, 1);
    EXPECT_EQ(le(read_item(f, FwCfg::key_id, 4)), 1u);
}

TEST(FwCfg, RamSizeIsLittleEndian64) {
    FwCfg f(0x123456789aull, 1, 1);
    EXPECT_EQ(le(read_item(f, FwCfg::key_ram_size, 8)), 0x123456789aull);
}

TEST(FwCfg, ProcessorCounts) {
    FwCfg f(1 << 20, 3, 8);
    EXPECT_EQ(le(read_item(f, FwCfg::key_nb_cpus, 2)), 3u);
    EXPECT_EQ(le(read_item(f, FwCfg::key_max_cpus, 2)), 8u);
    FwCfg g(1 << 20, 4, 2); // MAX_CPUS is never below NB_CPUS
    EXPECT_EQ(le(read_item(g, FwCfg::key_max_cpus, 2)), 4u);
}

TEST(FwCfg, UuidDefaultsToZeroAndCanBeSet) {
    FwCfg f(1 << 20, 1, 1);
    EXPECT_EQ(read_item(f, FwCfg::key_uuid, 16), std::vector<uint8_t>(16, 0));
    uint8_t uuid[16];
    for (int i = 0; i < 16; i++)
        uuid[i] = static_cast<uint8_t>(0xa0 + i);
    f.set_uuid(uuid);
    EXPECT_EQ(read_item(f, FwCfg::key_uuid, 16), std::vector<uint8_t>(uuid, uuid + 16));
}

TEST(FwCfg, EmptyFileDirectory) {
    FwCfg f(1 << 20, 1, 1);
    EXPECT_TRUE(read_dir(f).empty());
    EXPECT_EQ(f.item_size(FwCfg::key_file_dir), 4u);
}

TEST(FwCfg, FileDirectoryListsFilesBigEndian) {
    FwCfg f(1 << 20, 1, 1);
    static const uint8_t a[] = {1, 2, 3}, b[300] = {};
    uint16_t ka = 0, kb = 0;
    ASSERT_EQ(f.add_file("opt/hv/a", a, sizeof a, ka), FwCfgError::ok);
    ASSERT_EQ(f.add_file("etc/boot-fail-wait", b, sizeof b, kb), FwCfgError::ok);
    EXPECT_EQ(ka, 0x20);
    EXPECT_EQ(kb, 0x21);
    auto dir = read_dir(f);
    ASSERT_EQ(dir.size(), 2u);
    EXPECT_EQ(dir[0].name, "opt/hv/a");
    EXPECT_EQ(dir[0].size, 3u);
    EXPECT_EQ(dir[0].select, 0x20);
    EXPECT_EQ(dir[1].name, "etc/boot-fail-wait");
    EXPECT_EQ(dir[1].size, 300u);
    EXPECT_EQ(dir[1].select, 0x21);
    EXPECT_EQ(f.read(FwCfg::data_port, 1), 0u) << "directory ends after the last entry";
}

TEST(FwCfg, FileContentsThroughDirectoryKey) {
    FwCfg f(1 << 20, 1, 1);
    std::vector<uint8_t> blob(1000);
    for (size_t i = 0; i < blob.size(); i++)
        blob[i] = static_cast<uint8_t>(i * 7);
    uint16_t key = 0;
    ASSERT_EQ(f.add_file("opt/blob", blob.data(), 1000, key), FwCfgError::ok);
    auto dir = read_dir(f);
    EXPECT_EQ(read_item(f, dir[0].select, 1000), blob);
}

TEST(FwCfg, ReadsPastTheEndReturnZeroAndDoNotAdvance) {
    FwCfg f(1 << 20, 1, 1);
    auto bytes = read_item(f, FwCfg::key_signature, 10);
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 4, bytes.end()), std::vector<uint8_t>(6, 0));
    EXPECT_EQ(f.offset(), 4u);
}

TEST(FwCfg, UnknownSelectorsReadZero) {
    FwCfg f(1 << 20, 1, 1);
    static const uint8_t a[] = {9};
    uint16_t key = 0;
    ASSERT_EQ(f.add_file("opt/a", a, 1, key), FwCfgError::ok);
    for (uint16_t k : {0x0004, 0x0006, 0x0018, 0x0021, 0x7fff, 0x8000, 0x8003, 0xffff}) {
        EXPECT_EQ(read_item(f, k, 4), std::vector<uint8_t>(4, 0)) << std::hex << k;
        EXPECT_EQ(f.item_size(k), 0u);
    }
}

TEST(FwCfg, SelectorWriteRewinds) {
    FwCfg f(1 << 20, 1, 1);
    read_item(f, FwCfg::key_signature, 3);
    EXPECT_EQ(f.offset(), 3u);
    select(f, FwCfg::key_signature);
    EXPECT_EQ(f.offset(), 0u);
    EXPECT_EQ(f.read(FwCfg::data_port, 1), uint32_t{'Q'});
}

TEST(FwCfg, WriteChannelBitReadsTheSameItem) {
    FwCfg f(1 << 20, 1, 1);
    auto sig = read_item(f, FwCfg::key_signature | FwCfg::key_write_channel, 4);
    EXPECT_EQ(std::string(sig.begin(), sig.end()), "QEMU");
}

TEST(FwCfg, DataWritesAreIgnored) {
    FwCfg f(1 << 20, 1, 1);
    f.write(FwCfg::data_port, 1, 'X');
    f.write(FwCfg::data_port, 2, 0x0001); // not a selector write: wrong port
    EXPECT_EQ(f.selected(), FwCfg::key_signature);
    EXPECT_EQ(f.read(FwCfg::data_port, 1), uint32_t{'Q'});
}

TEST(FwCfg, WrongWidthsAreIgnored) {
    FwCfg f(1 << 20, 1, 1);
    f.write(FwCfg::selector_port, 1, FwCfg::key_id);
    f.write(FwCfg::selector_port, 4, FwCfg::key_id);
    EXPECT_EQ(f.selected(), FwCfg::key_signature);
    EXPECT_EQ(f.read(FwCfg::data_port, 2), 0xffffu);
    EXPECT_EQ(f.read(FwCfg::data_port, 4), 0xffffffffu);
    EXPECT_EQ(f.read(FwCfg::selector_port, 1), 0xffu);
    EXPECT_EQ(f.offset(), 0u) << "only 8-bit data reads advance";
}

TEST(FwCfg, ClaimsSelectorAndDataPortsOnly) {
    FwCfg f(1 << 20, 1, 1);
    EXPECT_TRUE(f.claims(0x510));
    EXPECT_TRUE(f.claims(0x511));
    EXPECT_FALSE(f.claims(0x50f));
    EXPECT_FALSE(f.claims(0x512));
    EXPECT_FALSE(f.claims(0x514)) << "no DMA interface";
    EXPECT_EQ(f.take_event().kind, PortEvent::Kind::none);
}

TEST(FwCfg, AddFileRejectsBadNames) {
    FwCfg f(1 << 20, 1, 1);
    static const uint8_t a[] = {1};
    uint16_t key = 0;
    EXPECT_EQ(f.add_file("", a, 1, key), FwCfgError::name_empty);
    EXPECT_EQ(f.add_file(nullptr, a, 1, key), FwCfgError::name_empty);
    EXPECT_EQ(f.add_file(std::string(56, 'n').c_str(), a, 1, key), FwCfgError::name_too_long);
    EXPECT_EQ(f.add_file(std::string(55, 'n').c_str(), a, 1, key), FwCfgError::ok);
    EXPECT_EQ(f.add_file(std::string(55, 'n').c_str(), a, 1, key), FwCfgError::duplicate_name);
    EXPECT_EQ(f.add_file("opt/x", nullptr, 1, key), FwCfgError::no_data);
    EXPECT_EQ(f.file_count(), 1u);
    EXPECT_STRNE(devices::describe(FwCfgError::duplicate_name), "");
}

TEST(FwCfg, FileTableFills) {
    FwCfg f(1 << 20, 1, 1);
    uint16_t key = 0;
    for (size_t i = 0; i < FwCfg::max_files; i++)
        ASSERT_EQ(f.add_file(("opt/f" + std::to_string(i)).c_str(), nullptr, 0, key), FwCfgError::ok);
    EXPECT_EQ(key, 0x20 + FwCfg::max_files - 1);
    EXPECT_EQ(f.add_file("opt/one-more", nullptr, 0, key), FwCfgError::full);
    EXPECT_EQ(read_dir(f).size(), FwCfg::max_files);
}

TEST(FwCfg, EmptyFileIsListedAndReadsZero) {
    FwCfg f(1 << 20, 1, 1);
    uint16_t key = 0;
    ASSERT_EQ(f.add_file("opt/empty", nullptr, 0, key), FwCfgError::ok);
    EXPECT_EQ(read_dir(f)[0].size, 0u);
    EXPECT_EQ(read_item(f, key, 2), std::vector<uint8_t>(2, 0));
}

// Any port, width and value in any order: nothing reads out of bounds (ASan) and the offset
// never passes the selected item's end.
TEST(FwCfg, HostileSequencesAreSafe) {
    FwCfg f(1 << 20, 2, 4);
    std::vector<uint8_t> blob(77, 0x5a);
    uint16_t key = 0;
    ASSERT_EQ(f.add_file("opt/blob", blob.data(), 77, key), FwCfgError::ok);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint16_t port = static_cast<uint16_t>(0x50e + (x & 7));
        uint8_t size = static_cast<uint8_t>(1u << ((x >> 3) % 3));
        uint32_t value = static_cast<uint32_t>(x >> 8);
        if ((x >> 40) % 8 == 0)
            value &= 0x3f; // hit the real keys often
        if ((x >> 44) & 1)
            f.write(port, size, value);
        else
            (void)f.read(port, size);
        ASSERT_LE(f.offset(), f.item_size(f.selected()));
    }
}

TEST(DebugExit, WriteEndsTheChildWithQemuStatus) {
    DebugExit d;
    EXPECT_FALSE(d.exited());
    d.write(0xf4, 4, 0x10);
    EXPECT_TRUE(d.exited());
    EXPECT_EQ(d.exit_value(), 0x10u);
    EXPECT_EQ(d.exit_status(), 0x21u);
    EXPECT_EQ(d.host_exit_code(), 0x21);
    PortEvent e = d.take_event();
    EXPECT_EQ(e.kind, PortEvent::Kind::exit);
    EXPECT_EQ(e.value, 0x10u);
    EXPECT_EQ(e.status, 0x21u);
}

TEST(DebugExit, EventIsTakenOnce) {
    DebugExit d;
    EXPECT_EQ(d.take_event().kind, PortEvent::Kind::none);
    d.write(0xf4, 1, 0);
    EXPECT_EQ(d.take_event().status, 1u);
    EXPECT_EQ(d.take_event().kind, PortEvent::Kind::none);
}

TEST(DebugExit, FirstWriteWins) {
    DebugExit d;
    d.write(0xf5, 2, 3);
    d.write(0xf4, 4, 9);
    EXPECT_EQ(d.exit_value(), 3u);
    EXPECT_EQ(d.exit_status(), 7u);
}

TEST(DebugExit, ValueIsMaskedToTheAccessWidth) {
    DebugExit d;
    d.write(0xf4, 1, 0x1234);
    EXPECT_EQ(d.exit_value(), 0x34u);
    DebugExit w;
    w.write(0xf4, 2, 0xabcdef);
    EXPECT_EQ(w.exit_value(), 0xcdefu);
}

TEST(DebugExit, StatusWrapsAsQemusInt) {
    DebugExit d;
    d.write(0xf4, 4, 0x80000001u);
    EXPECT_EQ(d.exit_status(), 3u);
    EXPECT_EQ(d.host_exit_code(), 3);
    DebugExit e;
    e.write(0xf4, 4, 0x7f);
    EXPECT_EQ(e.exit_status(), 0xffu);
}

TEST(DebugExit, ClaimsItsRangeAndReadsZero) {
    DebugExit d;
    EXPECT_FALSE(d.claims(0xf3));
    EXPECT_TRUE(d.claims(0xf4));
    EXPECT_TRUE(d.claims(0xf7));
    EXPECT_FALSE(d.claims(0xf8));
    EXPECT_EQ(d.read(0xf4, 4), 0u);
    DebugExit qemu_default(0x501, 2);
    EXPECT_TRUE(qemu_default.claims(0x502));
    EXPECT_FALSE(qemu_default.claims(0x503));
    EXPECT_FALSE(qemu_default.claims(0xf4));
}

TEST(DebugExit, IgnoresForeignPortsAndBadWidths) {
    DebugExit d;
    d.write(0xf8, 1, 1);
    d.write(0xf4, 3, 1);
    d.write(0xf4, 8, 1);
    EXPECT_FALSE(d.exited());
    EXPECT_EQ(d.take_event().kind, PortEvent::Kind::none);
}
