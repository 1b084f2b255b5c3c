// The root's VMBus server (vmbus/server.hpp) driven message by message as a child would, and as a
// hostile child would: every refusal carries the protocol's answer or a log entry, never a crash.
#include "tests/unit/vmbus_fake_transport.hpp"

using namespace vmbus_test;

namespace {

struct VmbusServerProtocol : ::testing::Test {
    GuestMemory memory{64};
    FakeServerTransport fake{memory};
    EchoDevice echo{0x10}, other{0x20};
    std::unique_ptr<VmbusServer> server;

    VmbusServerProtocol() { make(); }
    void make(ServerConfig config = {.vp_count = 2}) {
        server = std::make_unique<VmbusServer>(fake.transport(), memory.platform(), config);
    }

    template <class T> void child(const T& m, uint32_t conn = connection::message_v5) {
        server->receive(conn, &m, sizeof m);
    }
    void child_bytes(const std::vector<uint8_t>& m, uint32_t conn = connection::message_v5) {
        server->receive(conn, m.data(), static_cast<uint32_t>(m.size()));
    }
    InitiateContact contact(uint32_t v, uint32_t vp = 0, uint8_t sint = 2) {
        auto m = make_message<InitiateContact>();
        m.version_requested = v;
        m.target_vcpu = vp;
        m.interrupt_page_or_sint = sint;
        return m;
    }
    void connect(uint32_t v = version::v5_3) {
        child(contact(v), connection::message_for(v));
        ASSERT_EQ(server->state(), VmbusServer::State::connected);
    }
    // Connected, echo (relid 1) and other (relid 2) offered.
    void offered() {
        ASSERT_EQ(server->add_device(&echo.provider), 1u);
        ASSERT_EQ(server->add_device(&other.provider), 2u);
        connect();
        child(make_message<RequestOffers>());
        fake.posted.clear();
    }
    // A GPADL of `pages` pages from `first`, as Linux sends it: a header and bodies.
    std::vector<std::vector<uint8_t>> gpadl_messages(uint32_t relid, uint32_t id, uint64_t first, uint32_t pages) {
        std::vector<std::vector<uint8_t>> out;
        const uint32_t in_header = pages < 26 ? pages : 26;
        std::vector<uint8_t> h(28 + 8 * in_header);
        auto hdr = make_message<GpadlHeader>();
        hdr.child_relid = relid;
        hdr.gpadl = id;
        hdr.range_buflen = static_cast<uint16_t>(8 + 8 * pages);
        hdr.range_count = 1;
        memcpy(h.data(), &hdr, sizeof hdr);
        const uint32_t count = pages * page_size;
        memcpy(&h[20], &count, 4);
        uint32_t sent = 0;
        for (; sent < in_header; sent++) {
            const uint64_t pfn = first + sent;
            memcpy(&h[28 + 8 * sent], &pfn, 8);
        }
        out.push_back(h);
        while (sent < pages) {
            const uint32_t n = pages - sent < 28 ? pages - sent : 28;
            std::vector<uint8_t> b(16 + 8 * n);
            auto body = make_message<GpadlBody>();
            body.gpadl = id;
            memcpy(b.data(), &body, sizeof body);
            for (uint32_t i = 0; i < n; i++, sent++) {
                const uint64_t pfn = first + sent;
                memcpy(&b[16 + 8 * i], &pfn, 8);
            }
            out.push_back(b);
        }
        return out;
    }
    void gpadl(uint32_t relid, uint32_t id, uint64_t first, uint32_t pages) {
        for (const auto& m : gpadl_messages(relid, id, first, pages))
            child_bytes(m);
    }
    OpenChannel open_message(uint32_t relid, uint32_t gpadl_id, uint32_t downstream, uint32_t vp = 0) {
        auto o = make_message<OpenChannel>();
        o.child_relid = relid;
        o.open_id = 0x5a00 + relid;
        o.ring_gpadl = gpadl_id;
        o.downstream_offset = downstream;
        o.target_vp = vp;
        return o;
    }
    // The last answer, which must be an OpenResult; its status.
    uint32_t open_status() {
        EXPECT_FALSE(fake.posted.empty());
        return fake.posted.empty() ? 0 : fake.posted.back().as<OpenResult>().status;
    }
    // Channel 1 open on 4 + 4 pages at the start of guest memory (GPADL 7).
    void open_echo() {
        offered();
        gpadl(1, 7, GuestMemory::base, 8);
        child(open_message(1, 7, 4));
        ASSERT_EQ(open_status(), 0u);
        fake.posted.clear();
    }
};

} // namespace

TEST_F(VmbusServerProtocol, ContactAcceptsEveryVersionLinuxOffers) {
    for (uint32_t v : version::linux_offers) {
        make();
        fake.posted.clear();
        const bool v5 = v >= version::v5_0;
        child(contact(v, 1, 5), connection::message_for(v));
        ASSERT_EQ(fake.posted.size(), 1u) << std::hex << v;
        const auto r = fake.posted[0].as<VersionResponse>();
        EXPECT_EQ(r.version_supported, 1);
        EXPECT_EQ(r.msg_conn_id, v5 ? connection::message_v5 : connection::message_legacy);
        EXPECT_EQ(fake.posted[0].vp, 1u);
        EXPECT_EQ(fake.posted[0].sint, v5 ? 5 : message_sint) << "before 5.0 the SINT is fixed at 2";
        EXPECT_EQ(server->version(), v);
        EXPECT_EQ(server->state(), VmbusServer::State::connected);
    }
}

TEST_F(VmbusServerProtocol, ContactRefusesOtherVersionsAndStaysDown) {
    for (uint32_t v : {version::make(0, 13), version::make(1, 1), version::make(5, 4), version::make(6, 0)}) {
        fake.posted.clear();
        child(contact(v), connection::message_for(v));
        ASSERT_EQ(fake.posted.size(), 1u);
        EXPECT_EQ(fake.posted[0].as<VersionResponse>().version_supported, 0);
        EXPECT_EQ(server->state(), VmbusServer::State::disconnected);
    }
    EXPECT_TRUE(server->log().contains(Fault::version_refused));
    // A VTL other than 0 is refused too.
    fake.posted.clear();
    auto c = contact(version::v5_3);
    c.interrupt_page_or_sint = 2 | 1 << 8;
    child(c);
    EXPECT_EQ(fake.posted.at(0).as<VersionResponse>().version_supported, 0);
    // Linux's fallback: the next offer is accepted.
    connect(version::v5_2);
}

TEST_F(VmbusServerProtocol, ContactOnTheWrongConnectionOrToNowhereIsDropped) {
    child(contact(version::v5_3), connection::message_legacy);
    child(contact(version::win10), connection::message_v5);
    child(contact(version::v5_3, 2), connection::message_v5);        // vp_count is 2
    child(contact(version::v5_3, 0, 16), connection::message_v5);    // 16 SINTs
    EXPECT_TRUE(fake.posted.empty());
    EXPECT_EQ(server->state(), VmbusServer::State::disconnected);
    EXPECT_TRUE(server->log().contains(Fault::wrong_connection));
    EXPECT_TRUE(server->log().contains(Fault::bad_target));
}

TEST_F(VmbusServerProtocol, NothingButContactBeforeContact) {
    ASSERT_EQ(server->add_device(&echo.provider), 1u);
    child(make_message<RequestOffers>());
    child(open_message(1, 7, 4));
    child(make_message<Unload>());
    EXPECT_TRUE(fake.posted.empty());
    EXPECT_EQ(server->log().size(), 3u);
    EXPECT_EQ(server->log().at(0).fault, Fault::before_contact);
}

TEST_F(VmbusServerProtocol, AfterContactOnlyTheNegotiatedConnection) {
    connect(version::win10);
    child(make_message<RequestOffers>(), connection::message_v5);
    EXPECT_TRUE(server->log().contains(Fault::wrong_connection));
    EXPECT_EQ(fake.posted.size(), 1u) << "only the VersionResponse";
    child(make_message<RequestOffers>(), connection::message_legacy);
    EXPECT_EQ(fake.posted.back().type(), MessageType::all_offers_delivered);
}

TEST_F(VmbusServerProtocol, OffersEveryDeviceOnceThenAllOffersDelivered) {
    ASSERT_EQ(server->add_device(&echo.provider), 1u);
    ASSERT_EQ(server->add_device(&other.provider), 2u);
    connect();
    fake.posted.clear();
    child(make_message<RequestOffers>());
    ASSERT_EQ(fake.posted.size(), 3u);
    for (uint32_t i = 0; i < 2; i++) {
        const auto o = fake.posted[i].as<OfferChannel>();
        EXPECT_EQ(o.child_relid, i + 1);
        EXPECT_EQ(o.connection_id, server->connection_for(i + 1));
        EXPECT_EQ(server->relid_for_connection(o.connection_id), i + 1);
        EXPECT_EQ(o.interface_type.bytes[0], i == 0 ? 0x10 : 0x20);
        EXPECT_EQ(o.monitor_allocated, 0);
    }
    EXPECT_EQ(fake.posted[2].type(), MessageType::all_offers_delivered);
    child(make_message<RequestOffers>());
    EXPECT_EQ(fake.posted.size(), 3u);
    EXPECT_TRUE(server->log().contains(Fault::offers_again));
    // A device added now is offered at once.
    EchoDevice late{0x30};
    EXPECT_EQ(server->add_device(&late.provider), 3u);
    EXPECT_EQ(fake.posted.back().as<OfferChannel>().child_relid, 3u);
    EXPECT_EQ(server->relid_for_connection(server->connection_for(0)), 0u);
}

TEST_F(VmbusServerProtocol, DeviceTableIsFixed) {
    std::vector<EchoDevice> devices(server_limits::max_channels + 1);
    for (uint32_t i = 0; i < server_limits::max_channels; i++)
        EXPECT_EQ(server->add_device(&devices[i].provider), i + 1);
    EXPECT_EQ(server->add_device(&devices.back().provider), 0u);
    EXPECT_EQ(server->add_device(nullptr), 0u);
}

TEST_F(VmbusServerProtocol, GpadlAcrossBodiesIsCreated) {
    offered();
    gpadl(1, 0xe1e10, GuestMemory::base, 60);   // header + 2 bodies
    ASSERT_EQ(fake.posted.size(), 1u);
    const auto c = fake.posted[0].as<GpadlCreated>();
    EXPECT_EQ(c.child_relid, 1u);
    EXPECT_EQ(c.gpadl, 0xe1e10u);
    EXPECT_EQ(c.status, 0u);
}

TEST_F(VmbusServerProtocol, GpadlRefusalsAnswerWithAFailureStatus) {
    offered();
    gpadl(9, 1, GuestMemory::base, 2);                  // no such channel
    memory.not_owned.insert(GuestMemory::base + 40);
    gpadl(1, 2, GuestMemory::base + 30, 20);            // a page not the child's
    gpadl(1, 3, GuestMemory::base, 2);
    gpadl(2, 3, GuestMemory::base + 2, 2);              // duplicate id
    ASSERT_EQ(fake.posted.size(), 4u);
    EXPECT_NE(fake.posted[0].as<GpadlCreated>().status, 0u);
    EXPECT_EQ(fake.posted[0].as<GpadlCreated>().child_relid, 9u);
    EXPECT_NE(fake.posted[1].as<GpadlCreated>().status, 0u);
    EXPECT_EQ(fake.posted[2].as<GpadlCreated>().status, 0u);
    EXPECT_NE(fake.posted[3].as<GpadlCreated>().status, 0u);
    EXPECT_EQ(fake.posted[3].as<GpadlCreated>().gpadl, 3u);
    EXPECT_TRUE(server->log().contains(Fault::unknown_relid));
    EXPECT_TRUE(server->log().contains(Fault::gpadl_refused));
    // A body for nothing being assembled has no header to answer.
    child_bytes(gpadl_messages(1, 77, GuestMemory::base, 30)[1]);
    EXPECT_EQ(fake.posted.size(), 4u);
    EXPECT_TRUE(server->log().contains(Fault::unknown_gpadl));
}

TEST_F(VmbusServerProtocol, GpadlSlotsRunOut) {
    offered();
    const uint32_t slots = server_limits::small_gpadls + server_limits::large_gpadls;
    for (uint32_t i = 0; i < slots + 1; i++)
        gpadl(1, 100 + i, GuestMemory::base, 1);
    ASSERT_EQ(fake.posted.size(), slots + 1);
    EXPECT_EQ(fake.posted[slots - 1].as<GpadlCreated>().status, 0u);
    EXPECT_NE(fake.posted[slots].as<GpadlCreated>().status, 0u);
}

TEST_F(VmbusServerProtocol, OpenMapsBothRingsAndHandsThemToTheProvider) {
    offered();
    gpadl(1, 7, GuestMemory::base, 8);
    fake.posted.clear();
    child(open_message(1, 7, 3, 1));
    ASSERT_EQ(fake.posted.size(), 1u);
    const auto r = fake.posted[0].as<OpenResult>();
    EXPECT_EQ(r.child_relid, 1u);
    EXPECT_EQ(r.open_id, 0x5a01u);
    EXPECT_EQ(r.status, 0u);
    EXPECT_EQ(echo.opened, 1);
    EXPECT_EQ(memory.mapped, 1u);
    const ServerChannel* ch = server->channel(1);
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(ch->state(), ServerChannel::State::open);
    EXPECT_EQ(ch->target_vp(), 1u);
}

TEST_F(VmbusServerProtocol, OpenRefusalsAnswerWithAFailureStatus) {
    offered();
    gpadl(1, 7, GuestMemory::base, 8);
    gpadl(2, 8, GuestMemory::base + 8, 8);
    gpadl(1, 9, GuestMemory::base + 16, 1);
    // A non-contiguous GPADL: pages 30, 31, 33, 34.
    auto nc = gpadl_messages(1, 10, GuestMemory::base + 30, 4);
    const uint64_t p33 = GuestMemory::base + 33, p34 = GuestMemory::base + 34;
    memcpy(&nc[0][28 + 16], &p33, 8);
    memcpy(&nc[0][28 + 24], &p34, 8);
    child_bytes(nc[0]);
    gpadl(1, 11, GuestMemory::base + 40, 4);
    memory.unmappable.insert(GuestMemory::base + 41);
    gpadl(1, 12, GuestMemory::base + 50, 4);
    // Written ring indices the root cannot accept: the inbound ring's write index past its end.
    const uint32_t bad_index = 0x7fff0000;
    memcpy(memory.page(GuestMemory::base + 52), &bad_index, 4);
    for (const auto& m : fake.posted)
        ASSERT_EQ(m.as<GpadlCreated>().status, 0u);

    struct Case {
        OpenChannel open;
        Fault fault;
    } cases[] = {
        {open_message(5, 7, 4), Fault::unknown_relid},
        {open_message(1, 99, 4), Fault::unknown_gpadl},
        {open_message(1, 8, 4), Fault::gpadl_other_channel},
        {open_message(1, 7, 4, 2), Fault::bad_vp},
        {open_message(1, 7, 1), Fault::ring_geometry},    // outbound ring without a data page
        {open_message(1, 7, 7), Fault::ring_geometry},    // inbound ring without a data page
        {open_message(1, 7, 9), Fault::ring_geometry},    // beyond the GPADL
        {open_message(1, 9, 0), Fault::ring_geometry},    // one page for two rings
        {open_message(1, 10, 2), Fault::ring_not_contiguous},
        {open_message(1, 11, 2), Fault::map_refused},
        {open_message(1, 12, 2), Fault::ring_attach_failed},
    };
    for (const Case& c : cases) {
        fake.posted.clear();
        child(c.open);
        EXPECT_EQ(open_status(), status_unsuccessful) << to_string(c.fault);
        EXPECT_EQ(server->log().at(server->log().size() - 1).fault, c.fault) << to_string(c.fault);
    }
    EXPECT_EQ(echo.opened, 0);
    EXPECT_EQ(memory.mapped, 0u);

    echo.refuse_open = true;
    child(open_message(1, 7, 4));
    EXPECT_EQ(open_status(), status_unsuccessful);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_EQ(echo.closed, 0) << "a refused open is not closed";
    echo.refuse_open = false;
    child(open_message(1, 7, 4));
    EXPECT_EQ(open_status(), 0u);
    child(open_message(1, 7, 4));
    EXPECT_EQ(open_status(), status_unsuccessful);
    EXPECT_TRUE(server->log().contains(Fault::already_open));
    // Channel 2 over pages that overlap channel 1's rings.
    gpadl(2, 13, GuestMemory::base + 6, 4);
    child(open_message(2, 13, 2));
    EXPECT_EQ(open_status(), status_unsuccessful);
    EXPECT_EQ(server->log().at(server->log().size() - 1).fault, Fault::ring_overlap);
    EXPECT_EQ(memory.mapped, 1u);
}

TEST_F(VmbusServerProtocol, CloseAndReopen) {
    open_echo();
    auto close = make_message<CloseChannel>();
    close.child_relid = 1;
    child(close);
    EXPECT_EQ(echo.closed, 1);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_EQ(server->channel(1)->state(), ServerChannel::State::offered);
    EXPECT_TRUE(fake.posted.empty()) << "CloseChannel has no answer";
    child(close);
    EXPECT_TRUE(server->log().contains(Fault::not_open));
    close.child_relid = 31;
    child(close);
    EXPECT_TRUE(server->log().contains(Fault::unknown_relid));
    child(open_message(1, 7, 4));
    EXPECT_EQ(open_status(), 0u);
    EXPECT_EQ(echo.opened, 2);
}

TEST_F(VmbusServerProtocol, TeardownAnswersTorndown) {
    offered();
    gpadl(1, 7, GuestMemory::base, 8);
    auto t = make_message<GpadlTeardown>();
    t.child_relid = 1;
    t.gpadl = 7;
    child(t);
    EXPECT_EQ(fake.posted.back().as<GpadlTorndown>().gpadl, 7u);
    const size_t n = fake.posted.size();
    child(t);
    EXPECT_EQ(fake.posted.size(), n) << "an unknown GPADL is not answered";
    EXPECT_TRUE(server->log().contains(Fault::unknown_gpadl));
    gpadl(1, 7, GuestMemory::base, 8);
    EXPECT_EQ(fake.posted.back().as<GpadlCreated>().status, 0u) << "the id is free again";
}

TEST_F(VmbusServerProtocol, TeardownOfAnOpenRingClosesTheChannelFirst) {
    open_echo();
    auto t = make_message<GpadlTeardown>();
    t.child_relid = 1;
    t.gpadl = 7;
    child(t);
    EXPECT_EQ(echo.closed, 1);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_EQ(fake.posted.back().as<GpadlTorndown>().gpadl, 7u);
    EXPECT_EQ(server->channel(1)->state(), ServerChannel::State::broken);
    EXPECT_TRUE(server->log().contains(Fault::gpadl_in_use));
    // Broken until the child closes it.
    gpadl(1, 8, GuestMemory::base + 8, 4);
    child(open_message(1, 8, 2));
    EXPECT_EQ(open_status(), status_unsuccessful);
    auto close = make_message<CloseChannel>();
    close.child_relid = 1;
    child(close);
    child(open_message(1, 8, 2));
    EXPECT_EQ(open_status(), 0u);
}

TEST_F(VmbusServerProtocol, SignalRunsTheProviderAndARingFaultBreaksTheChannel) {
    open_echo();
    server->signalled(2);   // offered, not open
    server->signalled(40);
    EXPECT_EQ(server->spurious_signals(), 2u);
    EXPECT_EQ(echo.signalled, 0);
    server->signalled(1);   // empty ring
    EXPECT_EQ(echo.signalled, 1);
    EXPECT_EQ(server->channel(1)->state(), ServerChannel::State::open);
    // The child's outbound ring (page 0): a write index that is not a multiple of 8.
    const uint32_t bad = 12;
    memcpy(memory.page(GuestMemory::base), &bad, 4);
    server->signalled(1);
    EXPECT_EQ(echo.last, RingStatus::write_index_misaligned);
    EXPECT_EQ(server->channel(1)->state(), ServerChannel::State::broken);
    EXPECT_EQ(echo.closed, 1);
    EXPECT_TRUE(server->log().contains(Fault::ring_protocol_error));
    server->signalled(1);
    EXPECT_EQ(echo.signalled, 2);
}

TEST_F(VmbusServerProtocol, RescindClosesAndWaitsForRelidReleased) {
    open_echo();
    gpadl(1, 20, GuestMemory::base + 20, 2);   // a buffer GPADL left on the channel
    fake.posted.clear();
    EXPECT_TRUE(server->rescind(1));
    EXPECT_FALSE(server->rescind(1));
    EXPECT_EQ(echo.closed, 1);
    EXPECT_EQ(memory.mapped, 0u);
    ASSERT_EQ(fake.posted.size(), 1u);
    EXPECT_EQ(fake.posted[0].as<RescindOffer>().child_relid, 1u);
    child(open_message(1, 7, 4));
    EXPECT_EQ(open_status(), status_unsuccessful);
    gpadl(1, 21, GuestMemory::base + 30, 2);
    EXPECT_NE(fake.posted.back().as<GpadlCreated>().status, 0u);
    auto released = make_message<RelidReleased>();
    released.child_relid = 2;
    child(released);
    EXPECT_TRUE(server->log().contains(Fault::not_rescinded));
    released.child_relid = 1;
    child(released);
    EXPECT_EQ(server->channel(1), nullptr);
    // Its GPADLs went with it: the ids are free.
    gpadl(2, 7, GuestMemory::base, 8);
    gpadl(2, 20, GuestMemory::base + 20, 2);
    EXPECT_EQ(fake.posted[fake.posted.size() - 2].as<GpadlCreated>().status, 0u);
    EXPECT_EQ(fake.posted.back().as<GpadlCreated>().status, 0u);
    // A device never offered is simply removed.
    ASSERT_TRUE(server->rescind(2));
    EchoDevice unoffered{0x40};
    server->reset();
    const uint32_t relid = server->add_device(&unoffered.provider);
    fake.posted.clear();
    EXPECT_TRUE(server->rescind(relid));
    EXPECT_TRUE(fake.posted.empty());
    EXPECT_EQ(server->channel(relid), nullptr);
}

TEST_F(VmbusServerProtocol, UnloadClosesEverythingAndAnswers) {
    open_echo();
    server->rescind(2);
    fake.posted.clear();
    child(make_message<Unload>());
    ASSERT_EQ(fake.posted.size(), 1u);
    EXPECT_EQ(fake.posted[0].type(), MessageType::unload_response);
    EXPECT_EQ(echo.closed, 1);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_EQ(server->state(), VmbusServer::State::disconnected);
    EXPECT_EQ(server->channel(1)->state(), ServerChannel::State::registered);
    EXPECT_EQ(server->channel(2), nullptr) << "a rescinded relid is free after unload";
    // The next kernel connects and gets the devices offered again, its GPADL ids are its own.
    connect();
    child(make_message<RequestOffers>());
    gpadl(1, 7, GuestMemory::base, 8);
    EXPECT_EQ(fake.posted.back().as<GpadlCreated>().status, 0u);
}

TEST_F(VmbusServerProtocol, ContactOnALiveConnectionStartsOver) {
    open_echo();
    fake.posted.clear();
    child(contact(version::v5_0));
    EXPECT_EQ(echo.closed, 1);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_TRUE(server->log().contains(Fault::contact_while_connected));
    EXPECT_EQ(server->version(), version::v5_0);
    EXPECT_FALSE(server->offers_sent());
}

TEST_F(VmbusServerProtocol, MessagesQueueWhileTheChildIsBusyAndOverflowClosesTheConnection) {
    offered();
    fake.busy = true;
    gpadl(1, 7, GuestMemory::base, 8);
    EXPECT_EQ(server->queued(), 1u);
    fake.busy = false;
    server->flush();
    EXPECT_EQ(server->queued(), 0u);
    EXPECT_EQ(fake.posted.at(0).as<GpadlCreated>().gpadl, 7u);
    child(open_message(1, 7, 4));
    fake.posted.clear();
    fake.busy = true;
    auto t = make_message<GpadlTeardown>();
    for (uint32_t i = 0; server->queued() < server_limits::outbox; i++) {
        gpadl(2, 100 + i, GuestMemory::base + 40, 1);
        t.gpadl = 100 + i;
        if (server->queued() < server_limits::outbox)
            child(t);
    }
    EXPECT_EQ(server->state(), VmbusServer::State::connected);
    gpadl(2, 1000, GuestMemory::base + 40, 1);
    EXPECT_EQ(server->state(), VmbusServer::State::faulted);
    EXPECT_TRUE(server->log().contains(Fault::outbox_overflow));
    EXPECT_EQ(echo.closed, 1);
    EXPECT_EQ(memory.mapped, 0u);
    EXPECT_EQ(server->queued(), 0u);
    // Nothing more until the root resets it.
    fake.busy = false;
    child(contact(version::v5_3));
    EXPECT_TRUE(fake.posted.empty());
    server->reset();
    connect();
}

TEST_F(VmbusServerProtocol, MalformedAndWrongDirectionMessagesAreLoggedAndDropped) {
    connect();
    fake.posted.clear();
    const uint8_t junk[4] = {1, 2, 3, 4};
    server->receive(connection::message_v5, junk, sizeof junk);
    uint8_t big[300] = {};
    big[0] = 3;
    server->receive(connection::message_v5, big, sizeof big);
    child(make_message<OpenResult>());
    child(make_message<OfferChannel>());
    child(make_message<UnloadResponse>());
    EXPECT_TRUE(fake.posted.empty());
    EXPECT_EQ(server->log().at(0).fault, Fault::malformed_message);
    EXPECT_EQ(server->log().at(0).detail, static_cast<uint8_t>(MessageError::too_short));
    EXPECT_EQ(server->log().at(1).detail, static_cast<uint8_t>(MessageError::too_long));
    EXPECT_EQ(server->log().at(2).fault, Fault::wrong_direction);
    EXPECT_EQ(server->log().at(2).message_type, static_cast<uint8_t>(MessageType::open_result));
}

TEST_F(VmbusServerProtocol, TheLogKeepsTheLastEntries) {
    for (uint32_t i = 0; i < 100; i++) {
        auto c = make_message<CloseChannel>();
        c.child_relid = i;
        child(c);
    }
    EXPECT_EQ(server->log().total(), 100u);
    ASSERT_EQ(server->log().size(), server_limits::log_entries);
    EXPECT_EQ(server->log().at(0).fault, Fault::before_contact);
    for (uint32_t i = 0; i <= static_cast<uint32_t>(Fault::outbox_overflow); i++)
        EXPECT_STRNE(to_string(static_cast<Fault>(i)), "?");
}
