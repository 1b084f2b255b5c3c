// The storvsc guest end (vmbus/storvsc_client.hpp) against the real target (vmbus/storvsc.hpp):
// each packet the client writes is handed to a StorageTarget over a fake guest memory, and its
// completion comes back through the client's receive, so both ends' wire layouts must agree.
// Covered: the initialisation (and the fall-back to an older version when one is refused), the
// capacity, a write/read round trip across page boundaries at an odd sector-aligned offset,
// several requests outstanding with completions in another order, and refusals (past the end,
// a PFN not the child's, another LUN, an unknown opcode, a stray completion).
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <deque>
#include <memory>
#include <vector>

#include "vmbus/storvsc.hpp"
#include "vmbus/storvsc_client.hpp"

using namespace vmbus;
using namespace vmbus::storvsc;

namespace {

constexpr uint64_t base_pfn = 0x300;
constexpr uint32_t guest_pages = 80;   // room for a full 256 KiB transfer at an offset
constexpr uint32_t disk_sectors = 2048;   // 1 MiB

struct Guest {
    std::vector<uint8_t> ram = std::vector<uint8_t>(size_t{guest_pages} * page_size, 0xee);
    static bool owns(void*, uint64_t pfn) { return pfn >= base_pfn && pfn < base_pfn + guest_pages; }
    static uint8_t* map(void* c, uint64_t pfn) {
        return static_cast<Guest*>(c)->ram.data() + (pfn - base_pfn) * page_size;
    }
    GuestMemory memory() { return GuestMemory{Platform{this, owns}, this, map, nullptr}; }
    uint64_t gpa(uint32_t offset) const { return base_pfn * page_size + offset; }
    uint8_t* at(uint32_t offset) { return ram.data() + offset; }
};

// The channel: the client's packets go to the target at once; its completions queue up until the
// client receives them (optionally in reverse order, or with a version refused on the way).
struct Channel {
    Guest guest;
    std::vector<uint8_t> disk = std::vector<uint8_t>(size_t{disk_sectors} * 512);
    MemoryDisk image{disk.data(), disk.size()};
    StorageTarget target{memory_backend(&image), guest.memory(), TargetConfig{"UNIT"}};
    std::deque<std::vector<uint8_t>> inbound;   // descriptor + data, as the ring would hold it
    bool hold = false;                            // keep completions until release()
    std::vector<std::vector<uint8_t>> held;
    uint16_t refuse_version = 0;                  // answer this QUERY_PROTOCOL_VERSION with failure
    uint32_t sent = 0, gpa_packets = 0, waits = 0;

    void queue(uint64_t trans, const void* data, uint32_t size) {
        std::vector<uint8_t> b(16 + size);
        PacketDescriptor d{packet_type::completion, 2, static_cast<uint16_t>((16 + size + 7) / 8), 0, trans};
        memcpy(b.data(), &d, sizeof d);
        memcpy(b.data() + 16, data, size);
        (hold ? held.push_back(b), void() : inbound.push_back(b));
    }
    void release_reversed() {
        for (auto it = held.rbegin(); it != held.rend(); ++it)
            inbound.push_back(*it);
        held.clear();
    }

    static RingStatus send(void* c, const OutPacket& h, const Span* parts, uint32_t count) {
        auto* ch = static_cast<Channel*>(c);
        std::vector<uint8_t> bytes(16);
        for (uint32_t i = 0; i < count; i++) {
            auto* p = static_cast<const uint8_t*>(parts[i].data);
            bytes.insert(bytes.end(), p, p + parts[i].size);
        }
        const uint32_t offset = h.offset8 * 8u;
        EXPECT_GE(bytes.size(), offset);
        Packet p{h.type, h.flags, h.trans_id, static_cast<uint32_t>(bytes.size()), offset, bytes.data() + offset,
                 static_cast<uint32_t>(bytes.size() - offset)};
        ch->sent++;
        ch->gpa_packets += h.type == packet_type::data_using_gpa_direct ? 1 : 0;
        VstorPacket request{};
        memcpy(&request, p.data, std::min<size_t>(p.data_size, sizeof request));
        if (ch->refuse_version != 0 && request.operation == uint32_t(Operation::query_protocol_version) &&
            request.version.major_minor == ch->refuse_version) {
            VstorPacket no{};
            no.operation = uint32_t(Operation::complete_io);
            no.status = status_failure;
            ch->queue(h.trans_id, &no, sizeof no);
            return RingStatus::ok;
        }
        Reply r;
        ch->target.handle(p, r);
        if (r.send)
            ch->queue(r.trans_id, &r.packet, sizeof r.packet);
        return RingStatus::ok;
    }
    static RingStatus receive(void* c, uint8_t* buffer, uint32_t capacity, Packet& out) {
        auto* ch = static_cast<Channel*>(c);
        if (ch->inbound.empty())
            return RingStatus::empty;
        std::vector<uint8_t> b = ch->inbound.front();
        ch->inbound.pop_front();
        if (b.size() > capacity)
            return RingStatus::too_large_for_buffer;
        memcpy(buffer, b.data(), b.size());
        PacketDescriptor d;
        memcpy(&d, b.data(), sizeof d);
        out = Packet{d.type, d.flags, d.trans_id, static_cast<uint32_t>(b.size()), 16u, buffer + 16,
                     static_cast<uint32_t>(b.size() - 16)};
        return RingStatus::ok;
    }
    // Every completion is queued inside send: nothing more comes from waiting, so a few rounds.
    static bool wait(void* c, uint32_t round) {
        static_cast<Channel*>(c)->waits++;
        return round < 3;
    }
    StorvscTransport transport() { return StorvscTransport{this, send, receive, nullptr, wait}; }
};

struct VmbusStorvscClient : ::testing::Test {
    std::unique_ptr<Channel> ch = std::make_unique<Channel>();
    StorvscClient client{ch->transport()};

    ScsiResult run(ScsiCommand c, uint32_t offset, uint32_t length) {
        c.gpa = ch->guest.gpa(offset);
        c.length = length;
        return client.execute(c);
    }
};

TEST_F(VmbusStorvscClient, InitialisesWithTheNewestVersionAndReadsTheProperties) {
    ASSERT_TRUE(client.initialize());
    EXPECT_TRUE(client.ready());
    EXPECT_EQ(client.protocol_version(), proto::win10);
    EXPECT_EQ(client.versions_refused(), 0u);
    EXPECT_EQ(client.max_transfer_bytes(), storvsc_limits::max_transfer_bytes);
    EXPECT_EQ(ch->target.state(), StorageTarget::State::ready);
    EXPECT_EQ(ch->target.protocol_version(), proto::win10);
    EXPECT_EQ(ch->sent, 4u);
}

TEST_F(VmbusStorvscClient, FallsBackToTheNextVersionWhenOneIsRefused) {
    ch->refuse_version = proto::win10;
    ASSERT_TRUE(client.initialize());
    EXPECT_EQ(client.protocol_version(), proto::win8_1);
    EXPECT_EQ(client.versions_refused(), 1u);
    EXPECT_EQ(ch->target.protocol_version(), proto::win8_1);
}

TEST_F(VmbusStorvscClient, InitialisationOutOfOrderFailsAtItsStep) {
    ASSERT_TRUE(client.initialize());
    // A second BEGIN_INITIALIZATION on a ready channel is out of order for the target.
    EXPECT_FALSE(client.initialize());
    EXPECT_EQ(client.failed_step(), StorvscClient::InitStep::begin);
}

TEST_F(VmbusStorvscClient, CapacityInquiryAndReportLuns) {
    ASSERT_TRUE(client.initialize());
    ScsiResult r = run(cdb::read_capacity10(), 0, 8);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.transferred, 8u);
    EXPECT_EQ(be32_at(ch->guest.at(0)), disk_sectors - 1);
    EXPECT_EQ(be32_at(ch->guest.at(4)), 512u);
    r = run(cdb::read_capacity16(32), 4096 - 16, 32);   // across a page boundary
    ASSERT_TRUE(r.good());
    EXPECT_EQ(be64_at(ch->guest.at(4096 - 16)), disk_sectors - 1u);
    EXPECT_EQ(be32_at(ch->guest.at(4096 - 8)), 512u);
    r = run(cdb::inquiry(36), 0, 36);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.transferred, 36u);
    EXPECT_EQ(ch->guest.at(0)[0] & 0x1f, 0);
    r = run(cdb::report_luns(64), 0, 64);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(be32_at(ch->guest.at(0)), 8u);
    EXPECT_TRUE(client.execute(cdb::test_unit_ready()).good());
    EXPECT_TRUE(client.execute(cdb::synchronize_cache10()).good());
}

TEST_F(VmbusStorvscClient, WriteThenReadRoundTripsAtAnOddOffsetAcrossPages) {
    ASSERT_TRUE(client.initialize());
    const uint32_t offset = 3 * 512;   // sector-aligned, not page-aligned: one page more
    const uint32_t bytes = storvsc_limits::max_transfer_bytes;
    for (uint32_t i = 0; i < bytes; i++)
        ch->guest.at(offset)[i] = static_cast<uint8_t>(i * 13 + i / 512);
    const std::vector<uint8_t> pattern(ch->guest.at(offset), ch->guest.at(offset) + bytes);
    ScsiResult r = run(cdb::write10(100, bytes / 512), offset, bytes);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(r.transferred, bytes);
    EXPECT_EQ(memcmp(ch->disk.data() + 100 * 512, pattern.data(), bytes), 0);
    EXPECT_EQ(ch->gpa_packets, 1u);
    memset(ch->guest.at(offset), 0, bytes);
    r = run(cdb::read16(100, bytes / 512), offset, bytes);
    ASSERT_TRUE(r.good());
    EXPECT_EQ(memcmp(ch->guest.at(offset), pattern.data(), bytes), 0);
    EXPECT_EQ(ch->target.bytes_written(), bytes);
    EXPECT_EQ(ch->target.bytes_read(), bytes);
}

TEST_F(VmbusStorvscClient, SeveralOutstandingCompleteInAnyOrder) {
    ASSERT_TRUE(client.initialize());
    for (uint32_t s = 0; s < 8; s++)
        memset(ch->disk.data() + s * 512, 0x40 + s, 512);
    ch->hold = true;
    uint64_t ids[8];
    for (uint32_t i = 0; i < 8; i++) {
        ScsiCommand c = cdb::read10(i, 1);
        c.gpa = ch->guest.gpa(i * 512);
        c.length = 512;
        ids[i] = client.submit(c);
        ASSERT_NE(ids[i], 0u);
    }
    EXPECT_EQ(client.outstanding(), 8u);
    ch->release_reversed();
    EXPECT_TRUE(client.poll());
    for (uint32_t i = 0; i < 8; i++) {
        ScsiResult r;
        ASSERT_TRUE(client.take(ids[i], r));
        EXPECT_TRUE(r.good());
        EXPECT_EQ(ch->guest.at(i * 512)[0], 0x40 + i);
        EXPECT_EQ(ch->guest.at(i * 512)[511], 0x40 + i);
    }
    EXPECT_EQ(client.outstanding(), 0u);
    EXPECT_EQ(client.stray_completions(), 0u);
}

TEST_F(VmbusStorvscClient, PastTheEndIsIllegalRequestAndLeavesTheBufferAlone) {
    ASSERT_TRUE(client.initialize());
    memset(ch->guest.at(0), 0x5a, 8192);
    ScsiResult r = run(cdb::read10(disk_sectors, 1), 0, 512);
    EXPECT_FALSE(r.good());
    EXPECT_TRUE(r.check_condition(sense_illegal_request, 0x21));
    EXPECT_EQ(r.transferred, 0u);
    r = run(cdb::read16(disk_sectors - 2, 4), 0, 2048);   // straddles the end
    EXPECT_TRUE(r.check_condition(sense_illegal_request, 0x21));
    for (uint32_t i = 0; i < 8192; i++)
        ASSERT_EQ(ch->guest.at(0)[i], 0x5a) << i;
}

TEST_F(VmbusStorvscClient, RefusalsAnotherLunAnUnknownOpcodeAForeignPage) {
    ASSERT_TRUE(client.initialize());
    ScsiCommand c = cdb::test_unit_ready();
    c.lun = 1;
    ScsiResult r = client.execute(c);
    EXPECT_TRUE(r.completed);
    EXPECT_EQ(r.srb_status, srb_status::invalid_lun);
    const uint8_t unknown[10] = {0xea};   // vendor-specific group 7: not a command the target knows
    r = client.execute(cdb::raw(unknown, 10));
    EXPECT_TRUE(r.check_condition(sense_illegal_request, 0x20));
    // A page list naming a page outside the guest: INVALID_REQUEST, a failure status, nothing moved.
    const uint64_t pfns[2] = {base_pfn, base_pfn + guest_pages + 5};
    c = cdb::write10(0, 8);
    c.gpa = ch->guest.gpa(0);
    c.length = 4096;
    c.gpa += 2048;   // spans two pages: the second is foreign
    c.pfns = pfns;
    memset(ch->disk.data(), 0x11, 4096);
    r = client.execute(c);
    EXPECT_TRUE(r.completed);
    EXPECT_EQ(r.srb_status, srb_status::invalid_request);
    EXPECT_NE(r.status, status_success);
    EXPECT_EQ(ch->disk[0], 0x11);
    EXPECT_TRUE(ch->target.log().contains(Refusal::pfn_not_owned));
}

TEST_F(VmbusStorvscClient, AStrayCompletionIsCountedNotTaken) {
    ASSERT_TRUE(client.initialize());
    VstorPacket v{};
    v.operation = uint32_t(Operation::complete_io);
    ch->queue(999, &v, sizeof v);
    EXPECT_TRUE(client.poll());
    EXPECT_EQ(client.stray_completions(), 1u);
    ScsiResult r;
    EXPECT_FALSE(client.take(999, r));
}

TEST_F(VmbusStorvscClient, NoCompletionEndsTheWaitAndFreesTheSlot) {
    ASSERT_TRUE(client.initialize());
    ch->hold = true;   // the target answers, but the answer never reaches the client
    ScsiResult r = client.execute(cdb::test_unit_ready());
    EXPECT_FALSE(r.completed);
    EXPECT_EQ(client.outstanding(), 0u);
    ch->release_reversed();
    client.poll();
    EXPECT_EQ(client.stray_completions(), 1u);
}

TEST_F(VmbusStorvscClient, APageListLongerThanTheTargetTakesIsNotSent) {
    ASSERT_TRUE(client.initialize());
    ScsiCommand c = cdb::read10(0, 1);
    c.gpa = ch->guest.gpa(512);
    c.length = storvsc_limits::max_transfer_bytes + 4096;
    EXPECT_EQ(client.submit(c), 0u);
}

} // namespace
