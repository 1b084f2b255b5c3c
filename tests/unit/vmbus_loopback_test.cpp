// A child's VMBus client and the root's server talking through in-memory transports, over a real
// ring pair in the child's memory, with an echo device: the whole protocol, then its error paths.
#include "tests/unit/vmbus_fake_transport.hpp"

using namespace vmbus_test;

namespace {

struct VmbusLoopback : ::testing::Test {
    GuestMemory memory{64};
    FakeServerTransport root_side{memory};
    FakeClientTransport child_side;
    EchoDevice echo{0xec};
    VmbusServer server{root_side.transport(), memory.platform(), ServerConfig{.vp_count = 2}};
    VmbusClient client{child_side.transport()};
    uint32_t relid = 0;

    VmbusLoopback() { relid = server.add_device(&echo.provider); }

    // Delivers everything either end posted or signalled until both are quiet.
    void pump() {
        for (int round = 0; round < 100; round++) {
            auto to_root = std::move(child_side.posted);
            auto to_child = std::move(root_side.posted);
            auto root_events = std::move(child_side.signals);
            auto child_events = std::move(root_side.signals);
            child_side.posted.clear();
            root_side.posted.clear();
            child_side.signals.clear();
            root_side.signals.clear();
            if (to_root.empty() && to_child.empty() && root_events.empty() && child_events.empty())
                return;
            for (const auto& [conn, bytes] : to_root)
                server.receive(conn, bytes.data(), static_cast<uint32_t>(bytes.size()));
            for (const Posted& m : to_child) {
                EXPECT_EQ(m.sint, message_sint);
                client.on_message(m.bytes.data(), static_cast<uint32_t>(m.bytes.size()));
            }
            for (uint32_t conn : root_events)
                server.signalled(server.relid_for_connection(conn));
            for (const auto& [vp, r] : child_events)
                client.on_event(r);
        }
        ADD_FAILURE() << "the ends never went quiet";
    }
    void connect() {
        ASSERT_TRUE(client.connect());
        pump();
        ASSERT_EQ(client.state(), VmbusClient::State::connected);
        ASSERT_TRUE(client.request_offers());
        pump();
        ASSERT_TRUE(client.offers_complete());
    }
    // Creates a GPADL of `pages` from guest page base + first; returns its id once created.
    uint32_t gpadl(uint32_t channel, uint32_t first, uint32_t pages) {
        const uint32_t id = client.create_gpadl(channel, GuestMemory::base + first, pages);
        EXPECT_NE(id, 0u);
        pump();
        return id;
    }
    // Opens the channel over send + recv pages from base + first.
    ClientChannel::State open(uint32_t channel, uint32_t id, uint32_t first, uint32_t send, uint32_t recv) {
        EXPECT_TRUE(client.open(channel, id, memory.page(GuestMemory::base + first), send, recv));
        pump();
        return client.channel(channel)->state();
    }
    // Sends `count` packets of `size` bytes and checks each comes back, in order.
    void echo_round(ClientChannel& ch, uint32_t count, uint32_t size, uint64_t& trans) {
        std::vector<uint8_t> data(size);
        for (uint32_t i = 0; i < count; i++) {
            for (uint32_t b = 0; b < size; b++)
                data[b] = static_cast<uint8_t>(trans + b);
            ASSERT_EQ(ch.send(OutPacket{packet_type::data_inband, 0, trans++}, data.data(), size), RingStatus::ok);
        }
        pump();
        uint8_t buffer[4096];
        Packet p{};
        for (uint32_t i = 0; i < count; i++) {
            ASSERT_EQ(ch.receive(buffer, sizeof buffer, p), RingStatus::ok);
            const uint64_t t = trans - count + i;
            ASSERT_EQ(p.trans_id, t);
            ASSERT_GE(p.data_size, size);
            for (uint32_t b = 0; b < size; b++)
                ASSERT_EQ(p.data[b], static_cast<uint8_t>(t + b));
        }
        EXPECT_EQ(ch.receive(buffer, sizeof buffer, p), RingStatus::empty);
        ch.done_receiving();
        pump();
    }
};

} // namespace

TEST_F(VmbusLoopback, TheWholeProtocolAndEchoedPackets) {
    connect();
    EXPECT_EQ(client.version(), version::v5_3);
    EXPECT_EQ(server.version(), version::v5_3);
    ClientChannel* ch = client.find(echo.provider.class_id);
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(ch->relid(), relid);
    EXPECT_EQ(ch->connection_id(), server.connection_for(relid));

    // The ring GPADL (4 + 4 pages, 40 PFNs: header and a body) and a separate buffer GPADL.
    const uint32_t ring = gpadl(relid, 0, 8);
    const uint32_t buffer = gpadl(relid, 8, 40);
    ASSERT_EQ(client.gpadl(ring)->state, ClientGpadl::State::created);
    ASSERT_EQ(client.gpadl(buffer)->state, ClientGpadl::State::created);
    ASSERT_EQ(open(relid, ring, 0, 4, 4), ClientChannel::State::open);
    EXPECT_EQ(echo.opened, 1);

    // Enough rounds of odd sizes that both rings wrap many times.
    uint64_t trans = 1;
    for (uint32_t round = 0; round < 200; round++)
        echo_round(*ch, 1 + round % 7, 1 + (round * 37) % 1500, trans);
    EXPECT_GT(echo.signalled, 0);

    ASSERT_TRUE(client.close(relid));
    pump();
    EXPECT_EQ(echo.closed, 1);
    ASSERT_TRUE(client.teardown_gpadl(ring));
    ASSERT_TRUE(client.teardown_gpadl(buffer));
    pump();
    EXPECT_EQ(client.gpadl(ring), nullptr);
    EXPECT_EQ(client.gpadl(buffer), nullptr);
    ASSERT_TRUE(client.unload());
    pump();
    EXPECT_EQ(client.state(), VmbusClient::State::unloaded);
    EXPECT_EQ(server.state(), VmbusServer::State::disconnected);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_EQ(server.log().total(), 0u) << to_string(server.log().at(0).fault);
    EXPECT_EQ(client.ignored_messages(), 0u);
}

TEST_F(VmbusLoopback, AGpadlOfPagesTheChildDoesNotOwnIsRefused) {
    connect();
    memory.not_owned.insert(GuestMemory::base + 3);
    const uint32_t id = gpadl(relid, 0, 8);
    EXPECT_EQ(client.gpadl(id)->state, ClientGpadl::State::failed);
    EXPECT_FALSE(client.open(relid, id, memory.page(GuestMemory::base), 4, 4));
    EXPECT_TRUE(server.log().contains(Fault::gpadl_refused));
}

TEST_F(VmbusLoopback, ARefusedOpenCanBeRetried) {
    connect();
    const uint32_t id = gpadl(relid, 0, 8);
    echo.refuse_open = true;
    EXPECT_EQ(open(relid, id, 0, 4, 4), ClientChannel::State::open_failed);
    EXPECT_EQ(client.channel(relid)->open_status(), status_unsuccessful);
    echo.refuse_open = false;
    EXPECT_EQ(open(relid, id, 0, 4, 4), ClientChannel::State::open);
}

TEST_F(VmbusLoopback, AChildThatBreaksItsRingLosesTheChannelUntilItCloses) {
    connect();
    const uint32_t id = gpadl(relid, 0, 8);
    ASSERT_EQ(open(relid, id, 0, 4, 4), ClientChannel::State::open);
    ClientChannel& ch = *client.channel(relid);
    ASSERT_EQ(ch.send(OutPacket{}, "ok", 3), RingStatus::ok);
    // A descriptor whose length reaches past the write index.
    uint8_t* data = memory.page(GuestMemory::base) + page_size;
    const uint16_t huge = 0x200;
    memcpy(data + 4, &huge, 2);
    pump();
    EXPECT_EQ(echo.last, RingStatus::length_exceeds_available);
    EXPECT_EQ(server.channel(relid)->state(), ServerChannel::State::broken);
    EXPECT_EQ(memory.mapped, 0u);
    ASSERT_TRUE(client.close(relid));
    pump();
    EXPECT_EQ(open(relid, id, 0, 4, 4), ClientChannel::State::open);
    uint64_t trans = 1;
    echo_round(*client.channel(relid), 3, 100, trans);
}

TEST_F(VmbusLoopback, TwoChannelsCannotShareRingPages) {
    EchoDevice second{0x50};
    const uint32_t relid2 = server.add_device(&second.provider);
    connect();
    const uint32_t a = gpadl(relid, 0, 8);
    const uint32_t b = gpadl(relid2, 4, 8);
    ASSERT_EQ(open(relid, a, 0, 4, 4), ClientChannel::State::open);
    EXPECT_EQ(open(relid2, b, 4, 4, 4), ClientChannel::State::open_failed);
    EXPECT_TRUE(server.log().contains(Fault::ring_overlap));
    const uint32_t c = gpadl(relid2, 8, 4);
    EXPECT_EQ(open(relid2, c, 8, 2, 2), ClientChannel::State::open);
}

TEST_F(VmbusLoopback, TearingDownAnOpenRingBreaksTheChannel) {
    connect();
    const uint32_t id = gpadl(relid, 0, 8);
    ASSERT_EQ(open(relid, id, 0, 4, 4), ClientChannel::State::open);
    ASSERT_TRUE(client.teardown_gpadl(id));
    pump();
    EXPECT_EQ(client.gpadl(id), nullptr) << "answered";
    EXPECT_EQ(echo.closed, 1);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_EQ(server.channel(relid)->state(), ServerChannel::State::broken);
}

TEST_F(VmbusLoopback, RescindReleaseAndReconnect) {
    connect();
    const uint32_t id = gpadl(relid, 0, 8);
    ASSERT_EQ(open(relid, id, 0, 4, 4), ClientChannel::State::open);
    ASSERT_TRUE(server.rescind(relid));
    pump();
    EXPECT_EQ(client.channel(relid)->state(), ClientChannel::State::rescinded);
    EXPECT_EQ(echo.closed, 1);
    ASSERT_TRUE(client.release(relid));
    pump();
    EXPECT_EQ(server.channel(relid), nullptr);
    EXPECT_EQ(client.channel(relid), nullptr);
    // The device comes back; after an unload a new connection sees it offered.
    relid = server.add_device(&echo.provider);
    pump();
    ASSERT_NE(client.channel(relid), nullptr) << "hot-added";
    ASSERT_TRUE(client.unload());
    pump();
    connect();
    ASSERT_NE(client.find(echo.provider.class_id), nullptr);
    const uint32_t again = gpadl(relid, 0, 8);
    EXPECT_EQ(open(relid, again, 0, 4, 4), ClientChannel::State::open);
}

TEST_F(VmbusLoopback, AnswersWaitWhileTheChildsQueueIsFull) {
    connect();
    root_side.busy = true;
    const uint32_t id = client.create_gpadl(relid, GuestMemory::base, 8);
    pump();
    EXPECT_EQ(client.gpadl(id)->state, ClientGpadl::State::pending);
    EXPECT_EQ(server.queued(), 1u);
    root_side.busy = false;
    server.flush();
    pump();
    EXPECT_EQ(client.gpadl(id)->state, ClientGpadl::State::created);
}
