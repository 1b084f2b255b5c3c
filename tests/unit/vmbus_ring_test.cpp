// The VMBus ring (vmbus/ring.hpp): round trips, wrap-around, the one-slot gap, Linux's two
// signalling rules, and every way a hostile peer can break the ring producing its own error.
// The data area is allocated to its exact size, so ASan fails a test that reads past it.
#include "vmbus/ring.hpp"

#include <gtest/gtest.h>
#include <memory>
#include <string.h>
#include <vector>

using namespace vmbus;

namespace {

struct Ring {
    explicit Ring(uint32_t size) : control(std::make_unique<RingControl>()), data(size) {}
    RingMemory memory() { return {control.get(), data.data(), static_cast<uint32_t>(data.size())}; }
    RingControl& c() { return *control; }
    // Places bytes at a data-area position the way a peer would, wrapping at the end.
    void poke(uint32_t pos, const void* src, uint32_t n) {
        for (uint32_t i = 0; i < n; i++)
            data[(pos + i) % data.size()] = static_cast<const uint8_t*>(src)[i];
    }
    std::unique_ptr<RingControl> control;
    std::vector<uint8_t> data;
};

// A fresh ring with this end's writer (init) and reader (attached) on it.
struct Channel {
    explicit Channel(uint32_t size) : r(size), w(r.memory()), rd(r.memory()) {
        EXPECT_EQ(w.init(), RingStatus::ok);
        EXPECT_EQ(rd.attach(), RingStatus::ok);
    }
    Ring r;
    RingWriter w;
    RingReader rd;
};

// Three 32-byte packets (descriptor, 8 bytes, trailer).
void write_three(RingWriter& w) {
    const uint64_t v = 1;
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(w.write(OutPacket{}, &v, 8).status, RingStatus::ok) << i;
}

std::vector<uint8_t> pattern(uint32_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (uint32_t i = 0; i < n; i++)
        v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

// A peer-written packet at `pos`: descriptor with the given lengths, write index after it.
void plant(Ring& r, uint32_t pos, uint16_t len8, uint16_t offset8, uint32_t write_index) {
    const PacketDescriptor d{packet_type::data_inband, offset8, len8, 0, 0x55};
    r.poke(pos, &d, sizeof d);
    r.c().read_index = pos;
    r.c().write_index = write_index;
}

RingStatus peek_status(Ring& r, uint32_t capacity = 4096) {
    RingReader reader(r.memory());
    EXPECT_EQ(reader.attach(), RingStatus::ok);
    std::vector<uint8_t> buf(capacity);
    Packet p{};
    return reader.peek(buf.data(), capacity, p);
}

} // namespace

TEST(VmbusRing, ControlPageIsLinuxLayout) {
    EXPECT_EQ(sizeof(RingControl), 4096u);
    EXPECT_EQ(offsetof(RingControl, read_index), 4u);
    EXPECT_EQ(offsetof(RingControl, interrupt_mask), 8u);
    EXPECT_EQ(offsetof(RingControl, feature_bits), 64u);
}

TEST(VmbusRing, RoundTripKeepsFieldsPaddingAndTrailer) {
    Ring r(4096);
    RingWriter w(r.memory());
    RingReader rd(r.memory());
    ASSERT_EQ(w.init(), RingStatus::ok);
    EXPECT_EQ(r.c().feature_bits, feat_pending_send_sz);
    ASSERT_EQ(rd.attach(), RingStatus::ok);
    const auto payload = pattern(13, 1);
    const OutPacket out{packet_type::completion, flag_completion_requested, 0x1122334455667788ull};
    const WriteResult wr = w.write(out, payload.data(), 13);
    ASSERT_EQ(wr.status, RingStatus::ok);
    EXPECT_EQ(r.c().write_index, 16u + 16u + 8u) << "descriptor, 13 bytes padded to 16, trailer";
    uint64_t trailer;
    memcpy(&trailer, &r.data[32], 8);
    EXPECT_EQ(trailer, 0u) << "previous write index (0) in the high half";

    uint8_t buf[64];
    Packet p{};
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    EXPECT_EQ(p.type, packet_type::completion);
    EXPECT_EQ(p.flags, flag_completion_requested);
    EXPECT_EQ(p.trans_id, 0x1122334455667788ull);
    EXPECT_EQ(p.length, 32u);
    EXPECT_EQ(p.data_offset, 16u);
    EXPECT_EQ(p.data, buf + 16);
    EXPECT_EQ(p.data_size, 16u);
    EXPECT_EQ(0, memcmp(p.data, payload.data(), 13));
    EXPECT_EQ(p.data[13], 0) << "padding is zero";
    EXPECT_EQ(rd.read(buf, sizeof buf, p), RingStatus::empty);

    ASSERT_EQ(w.write(out, payload.data(), 8).status, RingStatus::ok);
    memcpy(&trailer, &r.data[40 + 24], 8);
    EXPECT_EQ(trailer, uint64_t{40} << 32);
}

TEST(VmbusRing, PeekDoesNotConsumeAndCommitPublishes) {
    Channel ch(256);
    auto& [r, w, rd] = ch;
    const uint64_t v = 42;
    ASSERT_EQ(w.write(OutPacket{}, &v, 8).status, RingStatus::ok);
    uint8_t buf[64];
    Packet p{};
    ASSERT_EQ(rd.peek(buf, sizeof buf, p), RingStatus::ok);
    ASSERT_EQ(rd.peek(buf, sizeof buf, p), RingStatus::ok);
    rd.skip();
    EXPECT_EQ(r.c().read_index, 0u) << "private until commit";
    EXPECT_EQ(rd.peek(buf, sizeof buf, p), RingStatus::empty);
    (void)rd.commit();
    EXPECT_EQ(r.c().read_index, 32u);
}

TEST(VmbusRing, GatherAndTypeSpecificHeader) {
    Channel ch(512);
    auto& [r, w, rd] = ch;
    const uint64_t header = 0xabcdef;
    const auto body = pattern(20, 3);
    const Span parts[] = {{&header, 8}, {body.data(), 10}, {body.data() + 10, 10}};
    OutPacket out;
    out.type = packet_type::data_using_gpa_direct;
    out.offset8 = 3;
    ASSERT_EQ(w.write(out, parts, 3).status, RingStatus::ok);
    uint8_t buf[128];
    Packet p{};
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    EXPECT_EQ(p.data_offset, 24u);
    EXPECT_EQ(p.length, 48u);
    EXPECT_EQ(0, memcmp(buf + 16, &header, 8));
    EXPECT_EQ(0, memcmp(p.data, body.data(), 20));
}

// Every start position and payload length (every padding), each packet crossing the end of
// the data area at a different point.
TEST(VmbusRing, WrapAroundAtEveryAlignment) {
    constexpr uint32_t size = 256;
    for (uint32_t start = 0; start < size; start += 8) {
        for (uint32_t len = 0; len <= 48; len++) {
            Ring r(size);
            r.c().read_index = r.c().write_index = start;
            r.c().feature_bits = feat_pending_send_sz;
            RingWriter w(r.memory());
            RingReader rd(r.memory());
            ASSERT_EQ(w.attach(), RingStatus::ok);
            ASSERT_EQ(rd.attach(), RingStatus::ok);
            for (uint32_t k = 0; k < 3; k++) {
                const auto payload = pattern(len, static_cast<uint8_t>(start + k));
                ASSERT_EQ(w.write(OutPacket{packet_type::data_inband, 0, k}, payload.data(), len).status,
                          RingStatus::ok)
                    << "start " << start << " len " << len << " packet " << k;
                uint8_t buf[128];
                Packet p{};
                ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok) << "start " << start << " len " << len;
                EXPECT_EQ(p.trans_id, k);
                EXPECT_EQ(p.data_size, (len + 7) / 8 * 8);
                if (len > 0) {
                    EXPECT_EQ(0, memcmp(p.data, payload.data(), len)) << "start " << start << " len " << len;
                }
                (void)rd.commit();
            }
            const uint32_t step = 16 + (len + 7) / 8 * 8 + 8;
            EXPECT_EQ(r.c().write_index, (start + 3 * step) % size);
            EXPECT_EQ(r.c().read_index, r.c().write_index);
        }
    }
}

TEST(VmbusRing, FullRingKeepsOneSlotGap) {
    Channel ch(128);
    auto& [r, w, rd] = ch;
    // 32 bytes a packet: 128 free, 96, 64, 32; the fourth would fill the ring exactly.
    write_three(w);
    const uint64_t v = 1;
    EXPECT_EQ(w.write(OutPacket{}, &v, 8).status, RingStatus::full);
    EXPECT_NE(r.c().write_index, r.c().read_index);
    uint8_t buf[64];
    Packet p{};
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    EXPECT_EQ(w.write(OutPacket{}, &v, 8).status, RingStatus::full) << "not committed yet";
    (void)rd.commit();
    EXPECT_EQ(w.write(OutPacket{}, &v, 8).status, RingStatus::ok);
    int n = 0;
    while (rd.read(buf, sizeof buf, p) == RingStatus::ok)
        n++;
    EXPECT_EQ(n, 3);
}

TEST(VmbusRing, WriterRefusesMalformedPackets) {
    Ring r(128);
    RingWriter w(r.memory());
    ASSERT_EQ(w.init(), RingStatus::ok);
    std::vector<uint8_t> big(104);
    OutPacket bad_offset;
    bad_offset.offset8 = 1;
    EXPECT_EQ(w.write(bad_offset, big.data(), 8).status, RingStatus::bad_packet) << "inside the descriptor";
    bad_offset.offset8 = 4;
    EXPECT_EQ(w.write(bad_offset, big.data(), 8).status, RingStatus::bad_packet) << "past the packet";
    bad_offset.offset8 = 3;
    EXPECT_EQ(w.write(bad_offset, big.data(), 8).status, RingStatus::ok) << "no data after the header";
    EXPECT_EQ(w.write(OutPacket{}, big.data(), 104).status, RingStatus::bad_packet)
        << "16 + 104 + trailer fills the whole ring: never fits";
}

TEST(VmbusRing, LargestPacketFitsAnEmptyRing) {
    Ring r(128);
    RingWriter w(r.memory());
    ASSERT_EQ(w.init(), RingStatus::ok);
    std::vector<uint8_t> big(96);
    EXPECT_EQ(w.write(OutPacket{}, big.data(), 96).status, RingStatus::ok) << "120 of 128 bytes";
    EXPECT_EQ(w.write(OutPacket{}, big.data(), 0).status, RingStatus::full);
}

TEST(VmbusRing, BadGeometryIsRefused) {
    RingControl c{};
    uint8_t d[128];
    EXPECT_EQ(RingWriter({&c, d, 100}).init(), RingStatus::bad_geometry) << "not a multiple of 8";
    EXPECT_EQ(RingWriter({&c, d, 32}).init(), RingStatus::bad_geometry) << "too small";
    EXPECT_EQ(RingWriter({nullptr, d, 128}).init(), RingStatus::bad_geometry);
    EXPECT_EQ(RingReader({&c, nullptr, 128}).attach(), RingStatus::bad_geometry);
    RingReader unattached({&c, d, 128});
    Packet p{};
    EXPECT_EQ(unattached.peek(d, 0, p), RingStatus::bad_geometry);
}

TEST(VmbusRing, WriterSignalsOnEmptyToNonEmptyWhenUnmasked) {
    Channel ch(1024);
    auto& [r, w, rd] = ch;
    const uint64_t v = 7;
    EXPECT_TRUE(w.write(OutPacket{}, &v, 8).signal) << "was empty";
    EXPECT_FALSE(w.write(OutPacket{}, &v, 8).signal) << "reader has work pending";
    uint8_t buf[64];
    Packet p{};
    while (rd.read(buf, sizeof buf, p) == RingStatus::ok) {
    }
    (void)rd.commit();
    EXPECT_TRUE(w.write(OutPacket{}, &v, 8).signal) << "drained";
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    (void)rd.commit();
    rd.mask_interrupts();
    EXPECT_FALSE(w.write(OutPacket{}, &v, 8).signal) << "masked";
    EXPECT_TRUE(rd.unmask_interrupts()) << "a packet arrived while masked";
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    (void)rd.commit();
    EXPECT_FALSE(rd.unmask_interrupts());
}

TEST(VmbusRing, ReaderSignalsWhenFreeSpaceCrossesPendingSendSize) {
    struct Case {
        uint32_t pending;
        bool after_first, after_second;
    };
    // 128-byte ring holding three 32-byte packets: 32 free, then 64, then 96.
    for (const Case c : {Case{40, true, false}, Case{70, false, true}, Case{64, false, true},
                         Case{0, false, false}, Case{200, false, false}}) {
        Channel ch(128);
        auto& [r, w, rd] = ch;
        write_three(w);
        w.request_space(c.pending);
        uint8_t buf[64];
        Packet p{};
        ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
        EXPECT_EQ(rd.commit(), c.after_first) << "pending " << c.pending;
        ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
        EXPECT_EQ(rd.commit(), c.after_second) << "pending " << c.pending;
    }
}

TEST(VmbusRing, ReaderSignalsOnlyWithTheFeatureBit) {
    Channel ch(128);
    auto& [r, w, rd] = ch;
    r.c().feature_bits = 0;
    write_three(w);
    w.request_space(40);
    uint8_t buf[64];
    Packet p{};
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    EXPECT_FALSE(rd.commit());
}

// --- The peer is hostile: each broken rule has its own status and nothing is read outside. ---

TEST(VmbusRingHostile, BadReadIndexAtAttachAndOnWrite) {
    Ring r(256);
    r.c().read_index = 256;
    EXPECT_EQ(RingReader(r.memory()).attach(), RingStatus::read_index_out_of_range);
    r.c().read_index = 12;
    EXPECT_EQ(RingReader(r.memory()).attach(), RingStatus::read_index_misaligned);

    r.c().read_index = 0;
    RingWriter w(r.memory());
    ASSERT_EQ(w.attach(), RingStatus::ok);
    const uint64_t v = 1;
    r.c().read_index = 0xfffffff8;
    EXPECT_EQ(w.write(OutPacket{}, &v, 8).status, RingStatus::read_index_out_of_range);
    r.c().read_index = 4;
    EXPECT_EQ(w.write(OutPacket{}, &v, 8).status, RingStatus::read_index_misaligned);
    EXPECT_EQ(r.c().write_index, 0u) << "nothing published";
}

TEST(VmbusRingHostile, BadWriteIndex) {
    Ring r(256);
    r.c().write_index = 1000;
    EXPECT_EQ(RingWriter(r.memory()).attach(), RingStatus::write_index_out_of_range);
    EXPECT_EQ(peek_status(r), RingStatus::write_index_out_of_range);
    r.c().write_index = 256;
    EXPECT_EQ(peek_status(r), RingStatus::write_index_out_of_range);
    r.c().write_index = 17;
    EXPECT_EQ(RingWriter(r.memory()).attach(), RingStatus::write_index_misaligned);
    EXPECT_EQ(peek_status(r), RingStatus::write_index_misaligned);
}

TEST(VmbusRingHostile, TruncatedPacket) {
    Ring r(256);
    plant(r, 0, 2, 2, 8);
    EXPECT_EQ(peek_status(r), RingStatus::truncated);
    plant(r, 248, 2, 2, 8);   // 16 bytes published across the end: still less than descriptor + trailer
    EXPECT_EQ(peek_status(r), RingStatus::truncated);
}

TEST(VmbusRingHostile, LengthSmallerThanDescriptor) {
    Ring r(256);
    plant(r, 0, 1, 1, 64);
    EXPECT_EQ(peek_status(r), RingStatus::length_too_small);
    plant(r, 0, 0, 2, 64);
    EXPECT_EQ(peek_status(r), RingStatus::length_too_small);
}

TEST(VmbusRingHostile, LengthBeyondWriteIndex) {
    Ring r(256);
    plant(r, 0, 9, 2, 64);   // 72 bytes, 64 published
    EXPECT_EQ(peek_status(r), RingStatus::length_exceeds_available);
    plant(r, 240, 0xffff, 2, 232);   // wraps: 248 published, length far beyond the ring
    EXPECT_EQ(peek_status(r), RingStatus::length_exceeds_available);
}

TEST(VmbusRingHostile, TrailerCrossesWriteIndex) {
    Ring r(256);
    plant(r, 0, 8, 2, 64);   // 64-byte packet fills all 64 published bytes: no room for its trailer
    EXPECT_EQ(peek_status(r), RingStatus::overlaps_write_index);
    plant(r, 200, 8, 2, 8);  // the same across the end
    EXPECT_EQ(peek_status(r), RingStatus::overlaps_write_index);
    plant(r, 200, 7, 2, 8);
    EXPECT_EQ(peek_status(r), RingStatus::ok) << "56 + trailer = 64 published";
}

TEST(VmbusRingHostile, OffsetOutsidePacket) {
    Ring r(256);
    plant(r, 0, 4, 1, 64);
    EXPECT_EQ(peek_status(r), RingStatus::offset_outside_packet) << "inside the descriptor";
    plant(r, 0, 4, 5, 64);
    EXPECT_EQ(peek_status(r), RingStatus::offset_outside_packet) << "past the packet";
    plant(r, 0, 4, 4, 64);
    EXPECT_EQ(peek_status(r), RingStatus::ok) << "empty data at the end is fine";
}

TEST(VmbusRingHostile, PacketLongerThanCallersBuffer) {
    Ring r(256);
    plant(r, 0, 4, 2, 64);
    EXPECT_EQ(peek_status(r, 31), RingStatus::too_large_for_buffer);
    EXPECT_EQ(peek_status(r, 32), RingStatus::ok);
}

TEST(VmbusRingHostile, EachStatusIsDistinctAndNamed) {
    const RingStatus errors[] = {RingStatus::read_index_out_of_range, RingStatus::read_index_misaligned,
                                 RingStatus::write_index_out_of_range, RingStatus::write_index_misaligned,
                                 RingStatus::truncated,               RingStatus::length_too_small,
                                 RingStatus::length_exceeds_available, RingStatus::overlaps_write_index,
                                 RingStatus::offset_outside_packet,   RingStatus::too_large_for_buffer};
    for (size_t i = 0; i < std::size(errors); i++) {
        EXPECT_TRUE(is_protocol_error(errors[i]));
        for (size_t j = 0; j < i; j++)
            EXPECT_STRNE(to_string(errors[i]), to_string(errors[j]));
    }
    EXPECT_FALSE(is_protocol_error(RingStatus::full));
    EXPECT_FALSE(is_protocol_error(RingStatus::empty));
}

// The indices each end owns are kept privately: a peer rewriting them cannot move our reads or writes.
TEST(VmbusRingHostile, PeerRewritingOurIndexIsIgnored) {
    Channel ch(256);
    auto& [r, w, rd] = ch;
    const uint64_t a = 0xaaaa, b = 0xbbbb;
    ASSERT_EQ(w.write(OutPacket{}, &a, 8).status, RingStatus::ok);
    r.c().write_index = 128;   // scribbled by the reading peer: our writer goes on after its packet
    ASSERT_EQ(w.write(OutPacket{}, &b, 8).status, RingStatus::ok);
    EXPECT_EQ(r.c().write_index, 64u);
    r.c().read_index = 200;   // scribbled by the writing peer: the reader's own index stands
    uint8_t buf[64];
    Packet p{};
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    EXPECT_EQ(0, memcmp(p.data, &a, 8));
    ASSERT_EQ(rd.read(buf, sizeof buf, p), RingStatus::ok);
    EXPECT_EQ(0, memcmp(p.data, &b, 8));
}
