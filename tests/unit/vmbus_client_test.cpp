// The child's VMBus client (vmbus/client.hpp) against a scripted root: what it posts for each
// step, in Linux's order and layout, and how it takes (or ignores) the root's answers.
#include "tests/unit/vmbus_fake_transport.hpp"

#include "vmbus/gpadl.hpp"

using namespace vmbus_test;

namespace {

struct VmbusClientProtocol : ::testing::Test {
    FakeClientTransport fake;
    VmbusClient client{fake.transport(), 1};
    GuestMemory memory{16};

    template <class T> void root(const T& m) { client.on_message(&m, sizeof m); }
    template <class T> T last(uint32_t conn = connection::message_v5) {
        EXPECT_FALSE(fake.posted.empty());
        T m{};
        if (fake.posted.empty())
            return m;
        EXPECT_EQ(fake.posted.back().first, conn);
        const auto& b = fake.posted.back().second;
        EXPECT_EQ(b.size(), sizeof m);
        uint32_t type;
        memcpy(&type, b.data(), 4);
        EXPECT_EQ(static_cast<MessageType>(type), T::kind);
        memcpy(&m, b.data(), b.size() < sizeof m ? b.size() : sizeof m);
        return m;
    }
    void version(bool ok, uint32_t conn = connection::message_v5) {
        auto r = make_message<VersionResponse>();
        r.version_supported = ok;
        r.msg_conn_id = conn;
        root(r);
    }
    void offer(uint32_t relid, uint8_t cls) {
        auto o = make_message<OfferChannel>();
        o.child_relid = relid;
        o.interface_type = guid(cls);
        o.connection_id = 0x100 + relid;
        root(o);
    }
    // Connected at 5.3 with offers 3 (class 0xa0) and 4 (class 0xb0).
    void offered() {
        ASSERT_TRUE(client.connect());
        version(true);
        ASSERT_TRUE(client.request_offers());
        offer(3, 0xa0);
        offer(4, 0xb0);
        root(make_message<AllOffersDelivered>());
        fake.posted.clear();
    }
    void created(uint32_t relid, uint32_t id, uint32_t status = 0) {
        auto c = make_message<GpadlCreated>();
        c.child_relid = relid;
        c.gpadl = id;
        c.status = status;
        root(c);
    }
    // Channel 3 open over 3 + 2 pages of memory.
    ClientChannel& open_channel() {
        offered();
        const uint32_t id = client.create_gpadl(3, GuestMemory::base, 5);
        created(3, id);
        EXPECT_TRUE(client.open(3, id, memory.page(GuestMemory::base), 3, 2));
        auto r = make_message<OpenResult>();
        r.child_relid = 3;
        r.open_id = 3;
        root(r);
        fake.posted.clear();
        return *client.channel(3);
    }
};

} // namespace

TEST_F(VmbusClientProtocol, ConnectTriesLinuxVersionsInOrder) {
    ASSERT_TRUE(client.connect());
    EXPECT_FALSE(client.connect()) << "already contacting";
    for (uint32_t v : version::linux_offers) {
        const auto c = last<InitiateContact>(connection::message_for(v));
        EXPECT_EQ(c.version_requested, v);
        EXPECT_EQ(c.target_vcpu, 1u);
        EXPECT_EQ(c.msg_sint(), v >= version::v5_0 ? message_sint : 0);
        if (v == version::win10)
            break;
        version(false);
    }
    version(true);
    EXPECT_EQ(client.state(), VmbusClient::State::connected);
    EXPECT_EQ(client.version(), version::win10);
    EXPECT_EQ(client.message_connection(), connection::message_legacy) << "before 5.0 always connection 1";
}

TEST_F(VmbusClientProtocol, FromVersion5TheRootNamesTheConnection) {
    ASSERT_TRUE(client.connect());
    version(true, 0x44);
    EXPECT_EQ(client.version(), version::v5_3);
    ASSERT_TRUE(client.request_offers());
    EXPECT_EQ(fake.posted.back().first, 0x44u);
}

TEST_F(VmbusClientProtocol, RefusedWhenNoVersionIsAccepted) {
    ASSERT_TRUE(client.connect());
    for (size_t i = 0; i < std::size(version::linux_offers); i++)
        version(false);
    EXPECT_EQ(client.state(), VmbusClient::State::refused);
    EXPECT_EQ(fake.posted.size(), std::size(version::linux_offers));
    EXPECT_FALSE(client.request_offers());
    ASSERT_TRUE(client.connect()) << "a refused client may start over";
}

TEST_F(VmbusClientProtocol, CollectsOffersAndIgnoresImpossibleOnes) {
    offered();
    EXPECT_TRUE(client.offers_complete());
    EXPECT_EQ(client.offer_count(), 2u);
    ASSERT_NE(client.find(guid(0xb0)), nullptr);
    EXPECT_EQ(client.find(guid(0xb0))->relid(), 4u);
    EXPECT_EQ(client.find(guid(0xb0))->connection_id(), 0x104u);
    EXPECT_EQ(client.find(guid(0xc0)), nullptr);
    offer(0, 0xc0);
    offer(client_limits::max_relid, 0xc0);
    offer(3, 0xc0);   // a relid already taken
    EXPECT_EQ(client.offer_count(), 2u);
    EXPECT_EQ(client.ignored_messages(), 3u);
    for (uint32_t i = 0; i < client_limits::max_channels; i++)
        offer(100 + i, 0xd0);
    EXPECT_EQ(client.offer_count(), client_limits::max_channels);
    EXPECT_EQ(client.dropped_offers(), 2u);
}

TEST_F(VmbusClientProtocol, GpadlMessagesAssembleInTheRootsTable) {
    offered();
    // 100 pages: a header with 26 PFNs and bodies of 28, 28, 18.
    const uint32_t id = client.create_gpadl(3, 0x5000, 100);
    EXPECT_EQ(id, first_gpadl_id);
    ASSERT_EQ(fake.posted.size(), 4u);
    EXPECT_EQ(fake.posted[0].second.size(), 28u + 26 * 8);
    EXPECT_EQ(fake.posted[3].second.size(), 16u + 18 * 8);
    static uint64_t pfns[128];
    Gpadl slot{};
    slot.pfns = pfns;
    slot.capacity = 128;
    GpadlTable table(&slot, 1, Platform{nullptr, [](void*, uint64_t) { return true; }});
    GpadlResult r{};
    for (const auto& [conn, bytes] : fake.posted) {
        EXPECT_EQ(conn, connection::message_v5);
        Parsed m;
        ASSERT_EQ(parse(bytes.data(), static_cast<uint32_t>(bytes.size()), m), MessageError::ok);
        r = table.add(m);
    }
    ASSERT_EQ(r.status, GpadlStatus::complete);
    EXPECT_EQ(r.child_relid, 3u);
    EXPECT_EQ(r.entry->byte_count, 100u * page_size);
    for (uint32_t i = 0; i < 100; i++)
        EXPECT_EQ(pfns[i], 0x5000u + i);
    EXPECT_EQ(client.create_gpadl(3, 0x5000, 1), first_gpadl_id + 1) << "ids count up";
    EXPECT_EQ(client.create_gpadl(9, 0x5000, 1), 0u) << "no such channel";
    EXPECT_EQ(client.create_gpadl(3, 0x5000, 0), 0u);
    EXPECT_EQ(client.create_gpadl(3, 0x5000, max_gpadl_pages + 1), 0u);
}

TEST_F(VmbusClientProtocol, GpadlCreatedMustMatch) {
    offered();
    const uint32_t id = client.create_gpadl(3, 0x5000, 2);
    created(4, id);   // another channel's
    created(3, id + 1);
    EXPECT_EQ(client.gpadl(id)->state, ClientGpadl::State::pending);
    EXPECT_EQ(client.ignored_messages(), 2u);
    created(3, id, status_unsuccessful);
    EXPECT_EQ(client.gpadl(id)->state, ClientGpadl::State::failed);
    EXPECT_EQ(client.gpadl(id)->status, status_unsuccessful);
    EXPECT_TRUE(client.teardown_gpadl(id)) << "a refused GPADL is forgotten without a message";
    EXPECT_EQ(client.gpadl(id), nullptr);
}

TEST_F(VmbusClientProtocol, GpadlSlotsRunOut) {
    offered();
    for (uint32_t i = 0; i < client_limits::max_gpadls; i++)
        EXPECT_NE(client.create_gpadl(3, 0x5000, 1), 0u);
    EXPECT_EQ(client.create_gpadl(3, 0x5000, 1), 0u);
}

TEST_F(VmbusClientProtocol, OpenLaysOutTheRingsAsLinuxDoes) {
    offered();
    const uint32_t id = client.create_gpadl(3, GuestMemory::base, 5);
    uint8_t* ring = memory.page(GuestMemory::base);
    EXPECT_FALSE(client.open(3, id, ring, 3, 2)) << "not created yet";
    created(3, id);
    EXPECT_FALSE(client.open(3, id, ring, 3, 3)) << "more pages than the GPADL";
    EXPECT_FALSE(client.open(3, id, ring, 4, 1)) << "an inbound ring without data";
    EXPECT_FALSE(client.open(4, id, ring, 3, 2)) << "another channel's GPADL";
    memset(ring, 0xff, 5 * page_size);
    ASSERT_TRUE(client.open(3, id, ring, 3, 2, 1));
    const auto o = last<OpenChannel>();
    EXPECT_EQ(o.child_relid, 3u);
    EXPECT_EQ(o.open_id, 3u);
    EXPECT_EQ(o.ring_gpadl, id);
    EXPECT_EQ(o.downstream_offset, 3u);
    EXPECT_EQ(o.target_vp, 1u);
    for (uint32_t page : {0u, 3u}) {
        const auto* c = reinterpret_cast<const RingControl*>(memory.page(GuestMemory::base + page));
        EXPECT_EQ(c->write_index, 0u);
        EXPECT_EQ(c->read_index, 0u);
        EXPECT_EQ(c->feature_bits, feat_pending_send_sz);
    }
    EXPECT_EQ(client.channel(3)->state(), ClientChannel::State::opening);
    auto r = make_message<OpenResult>();
    r.child_relid = 3;
    r.open_id = 99;
    root(r);
    EXPECT_EQ(client.channel(3)->state(), ClientChannel::State::opening) << "open_id must match";
    r.open_id = 3;
    r.status = status_unsuccessful;
    root(r);
    EXPECT_EQ(client.channel(3)->state(), ClientChannel::State::open_failed);
    ASSERT_TRUE(client.open(3, id, ring, 3, 2));
    r.status = 0;
    root(r);
    EXPECT_EQ(client.channel(3)->state(), ClientChannel::State::open);
}

TEST_F(VmbusClientProtocol, PacketsGoThroughTheRingsAndSignalTheRoot) {
    ClientChannel& ch = open_channel();
    const char hello[] = "hello root";
    ASSERT_EQ(ch.send(OutPacket{}, hello, sizeof hello), RingStatus::ok);
    ASSERT_EQ(fake.signals.size(), 1u);
    EXPECT_EQ(fake.signals[0], 0x103u);
    ASSERT_EQ(ch.send(OutPacket{}, hello, sizeof hello), RingStatus::ok);
    EXPECT_EQ(fake.signals.size(), 1u) << "only empty to non-empty signals";
    // The root's view: read the outbound ring, write the inbound one.
    uint8_t* base = memory.page(GuestMemory::base);
    RingReader root_reader({reinterpret_cast<RingControl*>(base), base + page_size, 2 * page_size});
    ASSERT_EQ(root_reader.attach(), RingStatus::ok);
    uint8_t buffer[64];
    Packet p{};
    ASSERT_EQ(root_reader.read(buffer, sizeof buffer, p), RingStatus::ok);
    EXPECT_STREQ(reinterpret_cast<const char*>(p.data), hello);
    uint8_t* down = base + 3 * page_size;
    RingWriter root_writer({reinterpret_cast<RingControl*>(down), down + page_size, page_size});
    ASSERT_EQ(root_writer.attach(), RingStatus::ok);
    ASSERT_EQ(root_writer.write(OutPacket{packet_type::data_inband, 0, 42}, "back", 5).status, RingStatus::ok);
    client.on_event(3);
    client.on_event(77);
    EXPECT_EQ(ch.take_events(), 1u);
    EXPECT_EQ(ch.take_events(), 0u);
    ASSERT_EQ(ch.receive(buffer, sizeof buffer, p), RingStatus::ok);
    EXPECT_EQ(p.trans_id, 42u);
    EXPECT_STREQ(reinterpret_cast<const char*>(p.data), "back");
    ch.done_receiving();
    EXPECT_EQ(ch.receive(buffer, sizeof buffer, p), RingStatus::empty);
}

TEST_F(VmbusClientProtocol, CloseTeardownAndUnload) {
    open_channel();
    const uint32_t id = first_gpadl_id;
    EXPECT_FALSE(client.close(4)) << "not open";
    ASSERT_TRUE(client.close(3));
    EXPECT_EQ(last<CloseChannel>().child_relid, 3u);
    EXPECT_EQ(client.channel(3)->state(), ClientChannel::State::offered);
    EXPECT_EQ(client.channel(3)->send(OutPacket{}, "x", 1), RingStatus::bad_geometry);
    ASSERT_TRUE(client.teardown_gpadl(id));
    EXPECT_EQ(last<GpadlTeardown>().gpadl, id);
    EXPECT_FALSE(client.teardown_gpadl(id)) << "already tearing down";
    auto t = make_message<GpadlTorndown>();
    t.gpadl = id;
    root(t);
    EXPECT_EQ(client.gpadl(id), nullptr);
    root(t);
    EXPECT_EQ(client.ignored_messages(), 1u);
    ASSERT_TRUE(client.unload());
    EXPECT_EQ(fake.posted.back().second.size(), sizeof(Unload));
    EXPECT_EQ(client.state(), VmbusClient::State::unloading);
    root(make_message<UnloadResponse>());
    EXPECT_EQ(client.state(), VmbusClient::State::unloaded);
    EXPECT_EQ(client.offer_count(), 0u);
    ASSERT_TRUE(client.connect());
}

TEST_F(VmbusClientProtocol, RescindStopsTheChannelUntilReleased) {
    ClientChannel& ch = open_channel();
    EXPECT_FALSE(client.release(3)) << "not rescinded";
    auto r = make_message<RescindOffer>();
    r.child_relid = 3;
    root(r);
    EXPECT_EQ(ch.state(), ClientChannel::State::rescinded);
    EXPECT_EQ(ch.send(OutPacket{}, "x", 1), RingStatus::bad_geometry);
    EXPECT_EQ(client.find(guid(0xa0)), nullptr);
    EXPECT_EQ(client.create_gpadl(3, 0x5000, 1), 0u);
    ASSERT_TRUE(client.release(3));
    EXPECT_EQ(last<RelidReleased>().child_relid, 3u);
    EXPECT_EQ(client.channel(3), nullptr);
    EXPECT_EQ(client.gpadl(first_gpadl_id), nullptr);
}

TEST_F(VmbusClientProtocol, PostFailuresAreReported) {
    fake.busy = true;
    EXPECT_FALSE(client.connect());
    EXPECT_EQ(client.state(), VmbusClient::State::idle);
    fake.busy = false;
    offered();
    fake.busy = true;
    EXPECT_EQ(client.create_gpadl(3, 0x5000, 40), 0u);
    EXPECT_FALSE(client.request_offers());
    EXPECT_FALSE(client.unload());
    EXPECT_EQ(client.state(), VmbusClient::State::connected);
}

TEST_F(VmbusClientProtocol, UnexpectedMessagesAreIgnored) {
    const uint8_t junk[3] = {};
    client.on_message(junk, sizeof junk);
    version(true);   // not contacting
    offer(3, 0xa0);  // not connected
    EXPECT_EQ(client.ignored_messages(), 3u);
    EXPECT_EQ(client.offer_count(), 0u);
    offered();
    root(make_message<InitiateContact>());
    root(make_message<UnloadResponse>());   // not unloading
    auto r = make_message<RescindOffer>();
    r.child_relid = 50;
    root(r);
    EXPECT_EQ(client.ignored_messages(), 6u);
    EXPECT_EQ(client.state(), VmbusClient::State::connected);
}
