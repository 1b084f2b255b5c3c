// The storvsc target (vmbus/storvsc.hpp) driven packet by packet as Linux's storvsc drives it, and
// as a hostile child would: each SCSI command's data and status over a fake guest memory of a few
// pages, and every refusal with its answer, its log entry and the disk and guest bytes untouched.
#include <gtest/gtest.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <initializer_list>
#include <memory>
#include <set>
#include <vector>

#include "vmbus/storvsc.hpp"

using namespace vmbus;
using namespace vmbus::storvsc;

namespace {

constexpr uint64_t base_pfn = 0x200;
constexpr uint32_t guest_pages = 8;
constexpr uint32_t disk_sectors = 64;

// The child's pages, each its own allocation so that ASan catches a copy running off a page.
struct FakeGuest {
    std::vector<std::unique_ptr<uint8_t[]>> pages;
    std::set<uint64_t> not_owned, unmappable;
    uint32_t maps = 0, unmaps = 0;
    FakeGuest() {
        for (uint32_t i = 0; i < guest_pages; i++) {
            pages.emplace_back(new uint8_t[page_size]);
            memset(pages.back().get(), 0xee, page_size);
        }
    }
    uint8_t* page(uint64_t pfn) { return pages[pfn - base_pfn].get(); }
    static bool owns(void* c, uint64_t pfn) {
        auto* g = static_cast<FakeGuest*>(c);
        return pfn >= base_pfn && pfn < base_pfn + guest_pages && !g->not_owned.count(pfn);
    }
    static uint8_t* map(void* c, uint64_t pfn) {
        auto* g = static_cast<FakeGuest*>(c);
        EXPECT_TRUE(owns(c, pfn));   // the target asks only for pages it checked
        if (g->unmappable.count(pfn))
            return nullptr;
        g->maps++;
        return g->page(pfn);
    }
    static void unmap(void* c, uint64_t pfn, uint8_t* page) {
        auto* g = static_cast<FakeGuest*>(c);
        EXPECT_EQ(page, g->page(pfn));
        g->unmaps++;
    }
    GuestMemory memory() { return GuestMemory{Platform{this, owns}, this, map, unmap}; }
    std::vector<uint8_t> snapshot() const {
        std::vector<uint8_t> all;
        for (auto& p : pages)
            all.insert(all.end(), p.get(), p.get() + page_size);
        return all;
    }
};

// An in-memory disk with a recognisable pattern and a flush counter.
struct FakeDisk {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(disk_sectors * 512);
    MemoryDisk image{nullptr, 0};
    uint32_t flushes = 0;
    bool fail_io = false, fail_flush = false;
    FakeDisk() {
        for (size_t i = 0; i < bytes.size(); i++)
            bytes[i] = static_cast<uint8_t>(i * 7 + i / 512);
        image = MemoryDisk{bytes.data(), bytes.size()};
    }
    static bool read(void* c, uint64_t off, uint8_t* dst, uint32_t n) {
        auto* d = static_cast<FakeDisk*>(c);
        EXPECT_LE(off + n, d->bytes.size());
        if (d->fail_io)
            return false;
        memcpy(dst, d->bytes.data() + off, n);
        return true;
    }
    static bool write(void* c, uint64_t off, const uint8_t* src, uint32_t n) {
        auto* d = static_cast<FakeDisk*>(c);
        EXPECT_LE(off + n, d->bytes.size());
        if (d->fail_io)
            return false;
        memcpy(d->bytes.data() + off, src, n);
        return true;
    }
    static bool flush(void* c) {
        auto* d = static_cast<FakeDisk*>(c);
        d->flushes++;
        return !d->fail_flush;
    }
    // A backend with a write cache to flush (memory_backend has none).
    BlockBackend cached() {
        BlockBackend b;
        b.context = this;
        b.sectors = disk_sectors;
        b.read = read;
        b.write = write;
        b.flush = flush;
        return b;
    }
};

// A packet as RingReader returns it: the descriptor, for GPA direct the range header and PFNs,
// then the vstor packet; the Packet's fields point into `bytes`.
struct Built {
    std::vector<uint8_t> bytes;
    Packet p{};
};

Built inband(const void* data, uint32_t size, uint64_t trans = 42, uint16_t flags = flag_completion_requested,
             uint16_t type = packet_type::data_inband) {
    Built b;
    b.bytes.resize(16 + size);
    memcpy(b.bytes.data() + 16, data, size);
    b.p = Packet{type, flags, trans, static_cast<uint32_t>(b.bytes.size()), 16, b.bytes.data() + 16, size};
    return b;
}

Built gpa(const VstorPacket& v, uint32_t offset, uint32_t len, const std::vector<uint64_t>& pfns,
          uint32_t range_count = 1, uint64_t trans = 43) {
    Built b;
    const uint32_t header = 32 + 8 * static_cast<uint32_t>(pfns.size());
    b.bytes.resize(header + sizeof v);
    const GpaRangeHeader h{0, range_count, len, offset};
    memcpy(b.bytes.data() + 16, &h, sizeof h);
    memcpy(b.bytes.data() + 32, pfns.data(), 8 * pfns.size());
    memcpy(b.bytes.data() + header, &v, sizeof v);
    b.p = Packet{packet_type::data_using_gpa_direct, flag_completion_requested, trans,
                 static_cast<uint32_t>(b.bytes.size()), header, b.bytes.data() + header, sizeof v};
    return b;
}

VstorPacket op(Operation o) {
    VstorPacket v{};
    v.operation = static_cast<uint32_t>(o);
    v.flags = 1;
    return v;
}

VstorPacket srb(std::initializer_list<uint8_t> cdb, uint8_t direction, uint32_t length, uint8_t lun = 0,
                uint8_t target = 0, uint8_t path = 0) {
    VstorPacket v = op(Operation::execute_srb);
    v.srb.length = sizeof(ScsiRequest);
    v.srb.cdb_length = static_cast<uint8_t>(cdb.size());
    memcpy(v.srb.cdb, cdb.begin(), cdb.size());
    v.srb.sense_info_length = sense_buffer_size;
    v.srb.data_in = direction;
    v.srb.data_transfer_length = length;
    v.srb.lun = lun;
    v.srb.target_id = target;
    v.srb.path_id = path;
    v.srb.port_number = 3;
    return v;
}

// CDB builders (big-endian fields, SBC-3).
std::vector<uint8_t> rw10(uint8_t opcode, uint32_t lba, uint16_t blocks) {
    return {opcode, 0, uint8_t(lba >> 24), uint8_t(lba >> 16), uint8_t(lba >> 8), uint8_t(lba), 0,
            uint8_t(blocks >> 8), uint8_t(blocks), 0};
}
std::vector<uint8_t> rw16(uint8_t opcode, uint64_t lba, uint32_t blocks) {
    std::vector<uint8_t> c(16);
    c[0] = opcode;
    for (int i = 0; i < 8; i++)
        c[2 + i] = uint8_t(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        c[10 + i] = uint8_t(blocks >> (24 - 8 * i));
    return c;
}
VstorPacket srbv(const std::vector<uint8_t>& cdb, uint8_t direction, uint32_t length, uint8_t lun = 0) {
    VstorPacket v = srb({0}, direction, length, lun);
    v.srb.cdb_length = static_cast<uint8_t>(cdb.size());
    memcpy(v.srb.cdb, cdb.data(), cdb.size());
    return v;
}

struct VmbusStorvsc : ::testing::Test {
    FakeGuest guest;
    FakeDisk disk;
    std::unique_ptr<StorageTarget> target;

    VmbusStorvsc() { make(memory_backend(&disk.image)); }
    void make(BlockBackend b, TargetConfig c = {"SERIAL42"}) {
        target = std::make_unique<StorageTarget>(b, guest.memory(), c);
    }
    Reply send(const Built& b) {
        Reply r;
        target->handle(b.p, r);
        return r;
    }
    Reply send_op(const VstorPacket& v) { return send(inband(&v, sizeof v)); }
    void init(uint16_t wanted = proto::win10) {
        for (auto o : {Operation::begin_initialization, Operation::query_protocol_version,
                       Operation::query_properties, Operation::end_initialization}) {
            VstorPacket v = op(o);
            v.version.major_minor = wanted;
            const Reply r = send_op(v);
            ASSERT_TRUE(r.send);
            ASSERT_EQ(r.packet.operation, uint32_t(Operation::complete_io));
            ASSERT_EQ(r.packet.status, status_success);
        }
        ASSERT_EQ(target->state(), StorageTarget::State::ready);
    }
    // An SRB with a data buffer in guest pages [first, first + count) from `offset`.
    Reply io(const VstorPacket& v, uint32_t offset, uint32_t len, uint64_t first, uint32_t count) {
        std::vector<uint64_t> pfns;
        for (uint32_t i = 0; i < count; i++)
            pfns.push_back(first + i);
        return send(gpa(v, offset, len, pfns));
    }
    // Reads `len` bytes at `offset` of the guest buffer starting at page `first`.
    std::vector<uint8_t> guest_bytes(uint64_t first, uint32_t offset, uint32_t len) {
        std::vector<uint8_t> out;
        for (uint32_t i = 0; i < len; i++) {
            const uint32_t at = offset + i;
            out.push_back(guest.page(first + at / page_size)[at % page_size]);
        }
        return out;
    }
    void expect_check(const Reply& r, uint8_t key, uint8_t asc) {
        EXPECT_EQ(r.packet.srb.scsi_status, 0x02);
        EXPECT_EQ(r.packet.srb.srb_status, srb_status::error | srb_status::autosense_valid);
        EXPECT_EQ(r.packet.srb.sense_info_length, 18);
        EXPECT_EQ(r.packet.srb.sense_data[0], 0x70);
        EXPECT_EQ(r.packet.srb.sense_data[2], key);
        EXPECT_EQ(r.packet.srb.sense_data[7], 10);
        EXPECT_EQ(r.packet.srb.sense_data[12], asc);
        EXPECT_EQ(r.packet.srb.data_transfer_length, 0u);
    }
    void expect_invalid(const Reply& r, Refusal why) {
        EXPECT_EQ(r.packet.operation, uint32_t(Operation::complete_io));
        EXPECT_NE(r.packet.status, status_success);
        EXPECT_EQ(r.packet.srb.srb_status, srb_status::invalid_request);
        EXPECT_EQ(r.packet.srb.data_transfer_length, 0u);
        ASSERT_NE(target->log().last(), nullptr);
        EXPECT_EQ(target->log().last()->refusal, why) << to_string(target->log().last()->refusal);
    }
    void expect_good(const Reply& r, uint32_t moved) {
        EXPECT_EQ(r.packet.operation, uint32_t(Operation::complete_io));
        EXPECT_EQ(r.packet.status, status_success);
        EXPECT_EQ(r.packet.srb.srb_status, srb_status::success);
        EXPECT_EQ(r.packet.srb.scsi_status, 0);
        EXPECT_EQ(r.packet.srb.data_transfer_length, moved);
    }
};

TEST(VmbusStorvscWire, ClassGuidAndLayout) {
    const uint8_t expected[16] = {0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
                                  0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f};
    EXPECT_EQ(memcmp(class_id.bytes, expected, 16), 0);
    EXPECT_EQ(sizeof(VstorPacket), 64u);
    EXPECT_EQ(sizeof(ScsiRequest) - win8_extension_size, 36u);   // the Windows 7 size
    EXPECT_EQ(storvsc_limits::max_packet_size, 32u + 8 * 65 + 64);
}

TEST_F(VmbusStorvsc, InitSequenceAnswersEachStep) {
    Reply r = send_op(op(Operation::begin_initialization));
    EXPECT_TRUE(r.send);
    EXPECT_EQ(r.trans_id, 42u);
    EXPECT_EQ(completion_header(r).type, packet_type::completion);
    EXPECT_EQ(completion_header(r).trans_id, 42u);
    EXPECT_EQ(r.packet.status, status_success);
    EXPECT_EQ(target->state(), StorageTarget::State::initializing);
    VstorPacket v = op(Operation::query_protocol_version);
    v.version.major_minor = proto::win10;
    r = send_op(v);
    EXPECT_EQ(r.packet.status, status_success);
    EXPECT_EQ(r.packet.version.major_minor, proto::win10);
    EXPECT_EQ(target->protocol_version(), proto::win10);
    r = send_op(op(Operation::query_properties));
    EXPECT_EQ(r.packet.status, status_success);
    EXPECT_EQ(r.packet.properties.max_transfer_bytes, 256u * 1024);
    EXPECT_EQ(r.packet.properties.max_channel_count, 0);
    EXPECT_EQ(r.packet.properties.flags, 0u);
    r = send_op(op(Operation::end_initialization));
    EXPECT_EQ(r.packet.status, status_success);
    EXPECT_EQ(target->state(), StorageTarget::State::ready);
    EXPECT_EQ(target->log().total(), 0u);
}

TEST_F(VmbusStorvsc, VersionNegotiationFallsBackAndRefusesOld) {
    send_op(op(Operation::begin_initialization));
    for (uint16_t old : {uint16_t{0x0402}, uint16_t{0x0200}, uint16_t{0x0603}, uint16_t{0}}) {
        VstorPacket v = op(Operation::query_protocol_version);
        v.version.major_minor = old;
        const Reply r = send_op(v);
        EXPECT_EQ(r.packet.operation, uint32_t(Operation::complete_io));   // Linux requires it
        EXPECT_NE(r.packet.status, status_success);
        EXPECT_EQ(target->state(), StorageTarget::State::initializing);
        EXPECT_EQ(target->log().last()->refusal, Refusal::version_refused);
        EXPECT_EQ(target->log().last()->value, old);
    }
    VstorPacket v = op(Operation::query_protocol_version);
    v.version.major_minor = proto::win8;
    EXPECT_EQ(send_op(v).packet.status, status_success);
    EXPECT_EQ(target->protocol_version(), proto::win8);
}

TEST_F(VmbusStorvsc, Win7SizedPacketsOnlyBeforeAVersionIsAgreed) {
    // Older Linux sends 64 - 16 bytes until the version is agreed.
    VstorPacket v = op(Operation::begin_initialization);
    EXPECT_EQ(send(inband(&v, 48)).packet.status, status_success);
    v = op(Operation::query_protocol_version);
    v.version.major_minor = proto::win8_1;
    EXPECT_EQ(send(inband(&v, 48)).packet.status, status_success);
    v = op(Operation::query_properties);
    EXPECT_NE(send(inband(&v, 48)).packet.status, status_success);
    EXPECT_EQ(target->log().last()->refusal, Refusal::truncated);
    EXPECT_EQ(target->state(), StorageTarget::State::versioned);
    EXPECT_EQ(send(inband(&v, 64)).packet.status, status_success);
}

TEST_F(VmbusStorvsc, OperationsOutOfOrderAreRefused) {
    const VstorPacket read = srbv(rw10(0x28, 0, 1), data_direction::read, 512);
    expect_invalid(io(read, 0, 512, base_pfn, 1), Refusal::out_of_order);
    EXPECT_NE(send_op(op(Operation::query_properties)).packet.status, status_success);
    EXPECT_NE(send_op(op(Operation::end_initialization)).packet.status, status_success);
    EXPECT_NE(send_op(op(Operation::reset_bus)).packet.status, status_success);
    EXPECT_EQ(target->log().last()->refusal, Refusal::out_of_order);
    VstorPacket v = op(Operation::query_protocol_version);
    v.version.major_minor = proto::win10;
    EXPECT_NE(send_op(v).packet.status, status_success);   // before BEGIN
    send_op(op(Operation::begin_initialization));
    EXPECT_NE(send_op(op(Operation::begin_initialization)).packet.status, status_success);
    EXPECT_NE(send_op(op(Operation::end_initialization)).packet.status, status_success);
    EXPECT_EQ(target->state(), StorageTarget::State::initializing);
    EXPECT_EQ(target->log().total(), 7u);
    EXPECT_EQ(guest.maps, 0u);
}

TEST_F(VmbusStorvsc, ResetClearsTheState) {
    init();
    target->reset();
    EXPECT_EQ(target->state(), StorageTarget::State::fresh);
    init(proto::win8_1);
    EXPECT_EQ(target->protocol_version(), proto::win8_1);
}

TEST_F(VmbusStorvsc, UnsupportedAndHostOperationsAreRefused) {
    init();
    const struct {
        uint32_t op;
        Refusal why;
    } cases[] = {{12, Refusal::not_supported}, {13, Refusal::not_supported}, {1, Refusal::host_operation},
                 {2, Refusal::host_operation}, {11, Refusal::host_operation}, {0, Refusal::unknown_operation},
                 {14, Refusal::unknown_operation}, {0xffffffff, Refusal::unknown_operation}};
    for (const auto& c : cases) {
        VstorPacket v{};
        v.operation = c.op;
        const Reply r = send_op(v);
        EXPECT_EQ(r.packet.operation, uint32_t(Operation::complete_io));
        EXPECT_NE(r.packet.status, status_success);
        EXPECT_EQ(target->log().last()->refusal, c.why) << c.op;
    }
    EXPECT_EQ(send_op(op(Operation::reset_bus)).packet.status, status_success);   // nothing outstanding
    EXPECT_EQ(target->state(), StorageTarget::State::ready);
}

TEST_F(VmbusStorvsc, MalformedPacketsAreRefused) {
    init();
    VstorPacket v = srb({0x00, 0, 0, 0, 0, 0}, data_direction::none, 0);
    Reply r = send(inband(&v, 63));
    EXPECT_NE(r.packet.status, status_success);
    EXPECT_EQ(target->log().last()->refusal, Refusal::truncated);
    r = send(inband(&v, 0));
    EXPECT_EQ(target->log().last()->refusal, Refusal::truncated);
    r = send(inband(&v, sizeof v, 5, flag_completion_requested, packet_type::completion));
    EXPECT_EQ(target->log().last()->refusal, Refusal::packet_type);
    EXPECT_EQ(target->log().last()->operation, 0);   // refused before the operation was read
    EXPECT_EQ(target->log().last()->value, packet_type::completion);
    EXPECT_EQ(r.trans_id, 5u);
    EXPECT_EQ(r.packet.operation, uint32_t(Operation::complete_io));
    r = send(inband(&v, sizeof v, 5, flag_completion_requested, packet_type::data_using_xfer_pages));
    EXPECT_EQ(target->log().last()->refusal, Refusal::packet_type);
    Built b = inband(&v, sizeof v);
    b.p.data_size = 200;   // inconsistent with length
    r = send(b);
    EXPECT_EQ(target->log().last()->refusal, Refusal::bad_descriptor);
    b = inband(&v, sizeof v);
    b.p.data_offset = 8;
    send(b);
    EXPECT_EQ(target->log().last()->refusal, Refusal::bad_descriptor);
    // A GPA-direct packet too short for its range header.
    b = inband(&v, sizeof v, 5, flag_completion_requested, packet_type::data_using_gpa_direct);
    r = send(b);
    expect_invalid(r, Refusal::bad_descriptor);
    EXPECT_EQ(target->log().last()->operation, uint8_t(Operation::execute_srb));
    EXPECT_EQ(target->log().last()->opcode, 0x00);
    // Extra bytes after the vstor packet are ignored.
    std::vector<uint8_t> longer(sizeof v + 16);
    memcpy(longer.data(), &v, sizeof v);
    expect_good(send(inband(longer.data(), static_cast<uint32_t>(longer.size()))), 0);
}

TEST_F(VmbusStorvsc, NoCompletionWhenNotAsked) {
    init();
    VstorPacket v = srbv(rw10(0x2a, 1, 1), data_direction::write, 512);
    memset(guest.page(base_pfn), 0x5a, page_size);
    Built b = gpa(v, 0, 512, {base_pfn});
    b.p.flags = 0;
    const Reply r = send(b);
    EXPECT_FALSE(r.send);
    EXPECT_EQ(disk.bytes[512], 0x5a);   // the write still happened
    EXPECT_EQ(disk.bytes[1023], 0x5a);
}

TEST_F(VmbusStorvsc, InquiryStandardDataAndAllocationLength) {
    init();
    Reply r = io(srb({0x12, 0, 0, 0, 96, 0}, data_direction::read, 96), 0, 96, base_pfn, 1);
    expect_good(r, 36);
    const auto d = guest_bytes(base_pfn, 0, 37);
    EXPECT_EQ(d[0], 0x00);   // connected direct-access device
    EXPECT_EQ(d[2], 0x05);
    EXPECT_EQ(d[3], 0x02);
    EXPECT_EQ(d[4], 31);
    EXPECT_EQ(memcmp(&d[8], "HV      Virtual Disk    1.0 ", 28), 0);
    EXPECT_EQ(d[36], 0xee);   // nothing past the data
    memset(guest.page(base_pfn), 0xee, page_size);
    r = io(srb({0x12, 0, 0, 0, 5, 0}, data_direction::read, 96), 0, 96, base_pfn, 1);
    expect_good(r, 5);
    EXPECT_EQ(guest.page(base_pfn)[4], 31);
    EXPECT_EQ(guest.page(base_pfn)[5], 0xee);
    // A buffer smaller than the allocation length bounds the transfer too.
    r = io(srb({0x12, 0, 0, 0, 96, 0}, data_direction::read, 8), 0, 8, base_pfn, 1);
    expect_good(r, 8);
}

TEST_F(VmbusStorvsc, InquiryVitalProductData) {
    init();
    Reply r = io(srb({0x12, 1, 0x00, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1);
    expect_good(r, 7);
    EXPECT_EQ(guest_bytes(base_pfn, 0, 7), (std::vector<uint8_t>{0, 0, 0, 3, 0x00, 0x80, 0x83}));
    r = io(srb({0x12, 1, 0x80, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1);
    expect_good(r, 4 + 8);
    EXPECT_EQ(guest.page(base_pfn)[1], 0x80);
    EXPECT_EQ(guest.page(base_pfn)[3], 8);
    EXPECT_EQ(memcmp(guest.page(base_pfn) + 4, "SERIAL42", 8), 0);
    r = io(srb({0x12, 1, 0x83, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1);
    expect_good(r, 4 + 4 + 16);
    const auto d = guest_bytes(base_pfn, 0, 24);
    EXPECT_EQ(d[1], 0x83);
    EXPECT_EQ(d[3], 20);
    EXPECT_EQ(d[4], 0x02);
    EXPECT_EQ(d[5], 0x01);
    EXPECT_EQ(d[7], 16);
    EXPECT_EQ(memcmp(&d[8], "HV      SERIAL42", 16), 0);
    // An unsupported page, a page code without EVPD, CMDDT: invalid field in CDB.
    for (auto cdb : {std::vector<uint8_t>{0x12, 1, 0xb0, 0, 255, 0}, std::vector<uint8_t>{0x12, 0, 0x80, 0, 255, 0},
                     std::vector<uint8_t>{0x12, 2, 0, 0, 255, 0}}) {
        memset(guest.page(base_pfn), 0xee, page_size);
        r = io(srbv(cdb, data_direction::read, 255), 0, 255, base_pfn, 1);
        expect_check(r, 5, 0x24);
        EXPECT_EQ(guest.page(base_pfn)[0], 0xee);
        EXPECT_EQ(target->log().last()->refusal, Refusal::invalid_field);
    }
}

TEST_F(VmbusStorvsc, ReportLunsTestUnitReady) {
    init();
    Reply r = io(srb({0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, data_direction::read, 256), 0, 256, base_pfn, 1);
    expect_good(r, 16);
    EXPECT_EQ(guest_bytes(base_pfn, 0, 16), (std::vector<uint8_t>{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    r = io(srb({0xa0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0}, data_direction::read, 256), 0, 256, base_pfn, 1);
    expect_good(r, 8);
    EXPECT_EQ(guest.page(base_pfn)[3], 0);
    r = io(srb({0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0}, data_direction::read, 256), 0, 256, base_pfn, 1);
    expect_check(r, 5, 0x24);
    r = io(srb({0xa0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0}, data_direction::read, 256), 0, 256, base_pfn, 1);
    expect_check(r, 5, 0x24);
    expect_good(send_op(srb({0, 0, 0, 0, 0, 0}, data_direction::none, 0)), 0);
}

TEST_F(VmbusStorvsc, ReadCapacity) {
    init();
    Reply r = io(srb({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, data_direction::read, 8), 0, 8, base_pfn, 1);
    expect_good(r, 8);
    EXPECT_EQ(guest_bytes(base_pfn, 0, 8), (std::vector<uint8_t>{0, 0, 0, 63, 0, 0, 2, 0}));
    r = io(srb({0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0}, data_direction::read, 8), 0, 8, base_pfn, 1);
    expect_check(r, 5, 0x24);   // an LBA without PMI
    r = io(srb({0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, data_direction::read, 32), 0, 32, base_pfn, 1);
    expect_good(r, 32);
    const auto d = guest_bytes(base_pfn, 0, 32);
    EXPECT_EQ(d, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 63, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0, 0, 0, 0, 0, 0, 0, 0}));
    r = io(srb({0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, data_direction::read, 32), 0, 32, base_pfn, 1);
    expect_check(r, 5, 0x24);   // another service action
}

TEST_F(VmbusStorvsc, ReadCapacity10SaturatesOnAHugeDisk) {
    BlockBackend huge = disk.cached();
    huge.sectors = (1ull << 33) + 5;   // never read: only capacity is asked
    make(huge);
    init();
    Reply r = io(srb({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, data_direction::read, 8), 0, 8, base_pfn, 1);
    expect_good(r, 8);
    EXPECT_EQ(guest_bytes(base_pfn, 0, 8), (std::vector<uint8_t>{0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0}));
    r = io(srb({0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0}, data_direction::read, 32), 0, 32, base_pfn, 1);
    expect_good(r, 12);
    EXPECT_EQ(guest_bytes(base_pfn, 0, 8), (std::vector<uint8_t>{0, 0, 0, 2, 0, 0, 0, 4}));
}

TEST_F(VmbusStorvsc, WriteThenReadAcrossPageBoundaries) {
    init();
    // 16 sectors (8 KiB) from offset 0x300 of page 0: three pages.
    const uint32_t len = 16 * 512;
    for (uint32_t i = 0; i < len; i++) {
        const uint32_t at = 0x300 + i;
        guest.page(base_pfn + at / page_size)[at % page_size] = static_cast<uint8_t>(i * 13 + 1);
    }
    Reply r = io(srbv(rw10(0x2a, 10, 16), data_direction::write, len), 0x300, len, base_pfn, 3);
    expect_good(r, len);
    for (uint32_t i = 0; i < len; i++)
        ASSERT_EQ(disk.bytes[10 * 512 + i], static_cast<uint8_t>(i * 13 + 1)) << i;
    EXPECT_EQ(disk.bytes[10 * 512 - 1], static_cast<uint8_t>((10 * 512 - 1) * 7 + 9));   // neighbours kept
    EXPECT_EQ(disk.bytes[26 * 512], static_cast<uint8_t>(26 * 512 * 7 + 26));
    EXPECT_EQ(target->bytes_written(), len);
    // Read it back into pages 4..6 at another offset, with READ(16).
    r = io(srbv(rw16(0x88, 10, 16), data_direction::read, len), 0xa00, len, base_pfn + 4, 3);
    expect_good(r, len);
    const auto back = guest_bytes(base_pfn + 4, 0xa00, len);
    for (uint32_t i = 0; i < len; i++)
        ASSERT_EQ(back[i], static_cast<uint8_t>(i * 13 + 1)) << i;
    EXPECT_EQ(guest.page(base_pfn + 4)[0x9ff], 0xee);
    EXPECT_EQ(guest_bytes(base_pfn + 4, 0xa00 + len, 1)[0], 0xee);
    EXPECT_EQ(target->bytes_read(), len);
    EXPECT_EQ(guest.maps, guest.unmaps);
    // WRITE(16) of the last sector, read with READ(10).
    memset(guest.page(base_pfn + 7), 0x77, page_size);
    expect_good(io(srbv(rw16(0x8a, 63, 1), data_direction::write, 512), 0, 512, base_pfn + 7, 1), 512);
    EXPECT_EQ(disk.bytes.back(), 0x77);
    memset(guest.page(base_pfn), 0, page_size);
    expect_good(io(srbv(rw10(0x28, 63, 1), data_direction::read, 512), 0xe00, 512, base_pfn, 1), 512);
    EXPECT_EQ(guest.page(base_pfn)[0xfff], 0x77);
}

TEST_F(VmbusStorvsc, PastTheEndIsLbaOutOfRangeAndTouchesNothing) {
    init();
    const auto disk_before = disk.bytes;
    const auto guest_before = guest.snapshot();
    expect_check(io(srbv(rw10(0x28, 63, 2), data_direction::read, 1024), 0, 1024, base_pfn, 1), 5, 0x21);
    expect_check(io(srbv(rw10(0x2a, 64, 1), data_direction::write, 512), 0, 512, base_pfn, 1), 5, 0x21);
    expect_check(io(srbv(rw16(0x88, ~0ull, 2), data_direction::read, 1024), 0, 1024, base_pfn, 1), 5, 0x21);
    expect_check(io(srbv(rw16(0x8a, 1, 0xffffffff), data_direction::write, 1024), 0, 1024, base_pfn, 1), 5, 0x21);
    expect_check(send_op(srbv(rw10(0x28, 64, 0), data_direction::read, 0)), 5, 0x21);
    EXPECT_EQ(target->log().last()->refusal, Refusal::lba_out_of_range);
    EXPECT_EQ(disk.bytes, disk_before);
    EXPECT_EQ(guest.snapshot(), guest_before);
    EXPECT_EQ(guest.maps, 0u);
    // No blocks at a valid LBA is not an error (SBC-3).
    expect_good(send_op(srbv(rw10(0x28, 63, 0), data_direction::read, 0)), 0);
}

TEST_F(VmbusStorvsc, UnknownOpcodeIsInvalidOpcode) {
    init();
    for (auto cdb : {std::vector<uint8_t>{0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0}, std::vector<uint8_t>{0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                     std::vector<uint8_t>{0xff, 0, 0, 0, 0, 0}}) {
        const Reply r = send_op(srbv(cdb, data_direction::none, 0));
        expect_check(r, 5, 0x20);
        EXPECT_EQ(target->log().last()->refusal, Refusal::invalid_opcode);
        EXPECT_EQ(target->log().last()->opcode, cdb[0]);
    }
}

TEST_F(VmbusStorvsc, OtherLunsAndTargetsAreNoDevice) {
    init();
    Reply r = send_op(srb({0, 0, 0, 0, 0, 0}, data_direction::none, 0, 1));
    EXPECT_EQ(r.packet.srb.srb_status, srb_status::invalid_lun);
    EXPECT_EQ(r.packet.srb.scsi_status, 0);
    EXPECT_EQ(target->log().last()->refusal, Refusal::no_such_lun);
    EXPECT_EQ(target->log().last()->value, 1u);
    r = send_op(srb({0, 0, 0, 0, 0, 0}, data_direction::none, 0, 0, 1));
    EXPECT_EQ(r.packet.srb.srb_status, srb_status::invalid_lun);
    EXPECT_EQ(target->log().last()->value, 0x100u);
    r = io(srbv(rw10(0x28, 0, 1), data_direction::read, 512, 0), 0, 512, base_pfn, 1);
    expect_good(r, 512);
    VstorPacket v = srbv(rw10(0x28, 0, 1), data_direction::read, 512);
    v.srb.path_id = 2;
    memset(guest.page(base_pfn), 0xee, page_size);
    r = io(v, 0, 512, base_pfn, 1);
    EXPECT_EQ(r.packet.srb.srb_status, srb_status::invalid_lun);
    EXPECT_EQ(guest.page(base_pfn)[0], 0xee);
    // INQUIRY elsewhere: "no logical unit" (qualifier 3, type 1Fh), successfully.
    r = io(srb({0x12, 0, 0, 0, 36, 0}, data_direction::read, 36, 5), 0, 36, base_pfn, 1);
    expect_good(r, 36);
    EXPECT_EQ(guest.page(base_pfn)[0], 0x7f);
    // REPORT LUNS through another LUN of target 0 still lists LUN 0.
    r = io(srb({0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}, data_direction::read, 16, 7), 0, 16, base_pfn, 1);
    expect_good(r, 16);
    EXPECT_EQ(guest.page(base_pfn)[3], 8);
}

TEST_F(VmbusStorvsc, ModeSense) {
    init();
    // MODE SENSE(6), caching page: header 4 bytes, no block descriptors, the page; RAM: no WCE.
    Reply r = io(srb({0x1a, 0, 0x08, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1);
    expect_good(r, 24);
    auto d = guest_bytes(base_pfn, 0, 24);
    EXPECT_EQ(d[0], 23);
    EXPECT_EQ(d[2], 0x00);
    EXPECT_EQ(d[3], 0);
    EXPECT_EQ(d[4], 0x08);
    EXPECT_EQ(d[5], 0x12);
    EXPECT_EQ(d[6], 0x00);
    // MODE SENSE(10), all pages, allocation 10.
    r = io(srb({0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 10, 0}, data_direction::read, 255), 0, 255, base_pfn, 1);
    expect_good(r, 10);
    d = guest_bytes(base_pfn, 0, 10);
    EXPECT_EQ(d[0], 0);
    EXPECT_EQ(d[1], 26);
    EXPECT_EQ(d[7], 0);
    EXPECT_EQ(d[8], 0x08);
    // Saved values, an unknown page (1Ch, which Linux knows hosts refuse), a subpage.
    expect_check(io(srb({0x1a, 0, 0xc8, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1), 5, 0x39);
    expect_check(io(srb({0x1a, 0, 0x1c, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1), 5, 0x24);
    expect_check(io(srb({0x1a, 0, 0x08, 1, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1), 5, 0x24);
    // A cached, read-only backend: WCE, DPOFUA and WP.
    BlockBackend b = disk.cached();
    b.read_only = true;
    make(b);
    init();
    r = io(srb({0x1a, 0, 0x08, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1);
    expect_good(r, 24);
    EXPECT_EQ(guest.page(base_pfn)[2], 0x90);
    EXPECT_EQ(guest.page(base_pfn)[6], 0x04);
    r = io(srb({0x1a, 0, 0x48, 0, 255, 0}, data_direction::read, 255), 0, 255, base_pfn, 1);   // changeable
    expect_good(r, 24);
    EXPECT_EQ(guest.page(base_pfn)[6], 0x00);
}

TEST_F(VmbusStorvsc, SynchronizeCacheAndFua) {
    make(disk.cached());
    init();
    expect_good(send_op(srb({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, data_direction::none, 0)), 0);
    EXPECT_EQ(disk.flushes, 1u);
    expect_good(send_op(srbv(rw16(0x91, 60, 4), data_direction::none, 0)), 0);
    EXPECT_EQ(disk.flushes, 2u);
    expect_check(send_op(srbv(rw16(0x91, 60, 5), data_direction::none, 0)), 5, 0x21);
    expect_check(send_op(srb({0x35, 0, 0, 0, 0, 64, 0, 0, 0, 0}, data_direction::none, 0)), 5, 0x21);
    EXPECT_EQ(disk.flushes, 2u);
    disk.fail_flush = true;
    expect_check(send_op(srb({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, data_direction::none, 0)), 3, 0x0c);
    disk.fail_flush = false;
    auto fua = rw10(0x2a, 0, 1);
    fua[1] = 0x08;
    expect_good(io(srbv(fua, data_direction::write, 512), 0, 512, base_pfn, 1), 512);
    EXPECT_EQ(disk.flushes, 4u);
    // Protection information is not supported.
    auto prot = rw10(0x28, 0, 1);
    prot[1] = 0x20;
    expect_check(io(srbv(prot, data_direction::read, 512), 0, 512, base_pfn, 1), 5, 0x24);
}

TEST_F(VmbusStorvsc, PageListRefusalsLeaveDataUntouched) {
    init();
    const auto disk_before = disk.bytes;
    const auto guest_before = guest.snapshot();
    const VstorPacket w = srbv(rw10(0x2a, 0, 2), data_direction::write, 1024);
    const VstorPacket rd = srbv(rw10(0x28, 0, 2), data_direction::read, 1024);
    for (const VstorPacket& v : {w, rd}) {
        // A page not the child's, in the middle of the list.
        guest.not_owned.insert(base_pfn + 1);
        expect_invalid(io(v, 3584, 1024, base_pfn, 2), Refusal::pfn_not_owned);
        EXPECT_EQ(target->log().last()->value, uint32_t(base_pfn + 1));
        guest.not_owned.clear();
        expect_invalid(send(gpa(v, 0, 1024, {0x10})), Refusal::pfn_not_owned);
        expect_invalid(send(gpa(v, 0, 1024, {~0ull})), Refusal::pfn_not_owned);
        // Offset beyond the first page; more pages needed than listed; two ranges.
        expect_invalid(io(v, 4096, 1024, base_pfn, 2), Refusal::range_offset);
        expect_invalid(io(v, 3584, 1024, base_pfn, 1), Refusal::range_pages);
        expect_invalid(send(gpa(v, 0, 1024, {base_pfn}, 2)), Refusal::range_count);
        expect_invalid(send(gpa(v, 0, 1024, {base_pfn}, 0)), Refusal::range_count);
        // Longer than announced.
        expect_invalid(io(v, 0, 256 * 1024 + 512, base_pfn, 8), Refusal::too_long);
        // data_transfer_length disagrees with the page list.
        VstorPacket m = v;
        m.srb.data_transfer_length = 512;
        expect_invalid(io(m, 0, 1024, base_pfn, 1), Refusal::length_mismatch);
        // The CDB asks more than the buffer holds; a transfer without any page list.
        expect_invalid(io(v, 0, 512, base_pfn, 1), Refusal::length_mismatch);
        VstorPacket none = v;
        none.srb.data_transfer_length = 0;
        expect_invalid(send_op(none), Refusal::length_mismatch);
        // Direction disagrees with the command.
        VstorPacket dir = v;
        dir.srb.data_in = v.srb.data_in == data_direction::read ? data_direction::write : data_direction::read;
        expect_invalid(io(dir, 0, 1024, base_pfn, 1), Refusal::wrong_direction);
        dir.srb.data_in = 3;
        expect_invalid(io(dir, 0, 1024, base_pfn, 1), Refusal::wrong_direction);
    }
    EXPECT_EQ(disk.bytes, disk_before);
    EXPECT_EQ(guest.snapshot(), guest_before);
    EXPECT_EQ(guest.maps, 0u);
}

TEST_F(VmbusStorvsc, CdbLengthMustFitTheCommand) {
    init();
    VstorPacket v = srbv(rw10(0x28, 0, 1), data_direction::read, 512);
    v.srb.cdb_length = 0;
    expect_invalid(io(v, 0, 512, base_pfn, 1), Refusal::bad_cdb_length);
    v.srb.cdb_length = 17;
    expect_invalid(io(v, 0, 512, base_pfn, 1), Refusal::bad_cdb_length);
    v.srb.cdb_length = 6;   // READ(10) is a 10-byte command
    expect_invalid(io(v, 0, 512, base_pfn, 1), Refusal::bad_cdb_length);
    // Bytes past cdb_length are not read: READ(16) cut to 10 is invalid, the tail ignored.
    v = srbv(rw16(0x88, 0, 1), data_direction::read, 512);
    v.srb.cdb_length = 10;
    expect_invalid(io(v, 0, 512, base_pfn, 1), Refusal::bad_cdb_length);
    EXPECT_EQ(guest.maps, 0u);
}

TEST_F(VmbusStorvsc, MapFailureAndBackendFailure) {
    init();
    guest.unmappable.insert(base_pfn + 1);
    Reply r = io(srbv(rw10(0x28, 0, 2), data_direction::read, 1024), 3584, 1024, base_pfn, 2);
    EXPECT_EQ(r.packet.srb.srb_status, srb_status::error);
    EXPECT_EQ(r.packet.srb.data_transfer_length, 0u);
    EXPECT_EQ(target->log().last()->refusal, Refusal::map_failed);
    guest.unmappable.clear();
    make(disk.cached());
    init();
    disk.fail_io = true;
    expect_check(io(srbv(rw10(0x28, 0, 1), data_direction::read, 512), 0, 512, base_pfn, 1), 3, 0x11);
    expect_check(io(srbv(rw10(0x2a, 0, 1), data_direction::write, 512), 0, 512, base_pfn, 1), 3, 0x0c);
    EXPECT_EQ(target->log().last()->refusal, Refusal::medium_error);
}

TEST_F(VmbusStorvsc, ReadOnlyDiskRefusesWrites) {
    make(memory_backend(&disk.image, 512, true));
    init();
    const auto before = disk.bytes;
    expect_check(io(srbv(rw10(0x2a, 0, 1), data_direction::write, 512), 0, 512, base_pfn, 1), 7, 0x27);
    EXPECT_EQ(disk.bytes, before);
    expect_good(io(srbv(rw10(0x28, 0, 1), data_direction::read, 512), 0, 512, base_pfn, 1), 512);
}

TEST_F(VmbusStorvsc, ShortSenseRoomIsRespected) {
    init();
    VstorPacket v = srbv({0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0}, data_direction::none, 0);
    v.srb.sense_info_length = 14;
    Reply r = send_op(v);
    EXPECT_EQ(r.packet.srb.sense_info_length, 14);
    EXPECT_EQ(r.packet.srb.sense_data[12], 0x20);
    v.srb.sense_info_length = 0;
    r = send_op(v);
    EXPECT_EQ(r.packet.srb.scsi_status, 0x02);
    EXPECT_EQ(r.packet.srb.srb_status, srb_status::error);   // no room: no autosense
}

TEST_F(VmbusStorvsc, UnusableBackendIsNoDevice) {
    BlockBackend b = disk.cached();
    b.sector_size = 1000;
    make(b);
    EXPECT_FALSE(target->disk_usable());
    init();
    EXPECT_EQ(send_op(srb({0, 0, 0, 0, 0, 0}, data_direction::none, 0)).packet.srb.srb_status, srb_status::invalid_lun);
    const Reply r = io(srb({0x12, 0, 0, 0, 36, 0}, data_direction::read, 36), 0, 36, base_pfn, 1);
    expect_good(r, 36);
    EXPECT_EQ(guest.page(base_pfn)[0], 0x7f);
    b = disk.cached();
    b.sectors = 0;
    make(b);
    EXPECT_FALSE(target->disk_usable());
}

TEST_F(VmbusStorvsc, LogIsBounded) {
    VstorPacket v{};
    v.operation = 99;
    for (int i = 0; i < 100; i++)
        send_op(v);
    EXPECT_EQ(target->log().total(), 100u);
    EXPECT_EQ(target->log().size(), storvsc_limits::log_entries);
    EXPECT_EQ(target->log().at(0).value, 99u);
    EXPECT_TRUE(target->log().contains(Refusal::unknown_operation));
    EXPECT_FALSE(target->log().contains(Refusal::truncated));
}

} // namespace
