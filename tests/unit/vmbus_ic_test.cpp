// The IC utility protocol (vmbus/ic.hpp): IcHost against IcGuest on buffers (version choice,
// heartbeats, shutdown), every refusal of a hostile answer or request, and both ends over real
// rings: a root provider wrapping IcHost and a child wrapping IcGuest through VmbusServer and
// VmbusClient.
#include "vmbus/ic.hpp"

#include "tests/unit/vmbus_fake_transport.hpp"

using namespace vmbus_test;
using namespace vmbus::ic;

namespace {

// A buffer holding one IC packet's data, viewed as the ring hands it over.
struct Bytes {
    alignas(8) uint8_t b[max_request_size + 64] = {};
    uint32_t size = 0;
    uint64_t trans = 0;
    uint16_t type = packet_type::data_inband;
    Packet packet() const {
        return Packet{type, 0, trans, 16 + ((size + 7) & ~7u), 16, b, size};
    }
    template <class T> T at(uint32_t offset) const {
        T v;
        memcpy(&v, b + offset, sizeof v);
        return v;
    }
    template <class T> void put(uint32_t offset, T v) { memcpy(b + offset, &v, sizeof v); }
    IcMessageHeader header() const { return at<IcMessageHeader>(8); }
    void set_header(const IcMessageHeader& m) { put(8, m); }
};

struct Pair {
    IcHost host;
    IcGuest guest;
    Bytes request, answer;
    explicit Pair(Kind k) : host(k), guest(k) {}
    Pair(IcHost h, IcGuest g) : host(h), guest(g) {}

    void take(const Request& r) {
        request.size = r.size;
        request.trans = r.packet.trans_id;
        request.type = r.packet.type;
    }
    // The guest answers the request; returns whether it did.
    bool answer_it() {
        const Answer a = guest.answer(request.packet(), answer.b, sizeof answer.b);
        answer.size = a.size;
        answer.trans = a.packet.trans_id;
        answer.type = a.packet.type;
        return a.size != 0;
    }
    HostEvent negotiate() {
        take(host.build_negotiate(request.b, sizeof request.b));
        EXPECT_NE(request.size, 0u);
        EXPECT_TRUE(answer_it());
        return host.on_response(answer.packet());
    }
    HostEvent beat(uint64_t seq) {
        take(host.build_heartbeat(seq, request.b, sizeof request.b));
        EXPECT_NE(request.size, 0u);
        EXPECT_TRUE(answer_it());
        return host.on_response(answer.packet());
    }
};

constexpr uint32_t v(uint16_t major, uint16_t minor) { return make_version(major, minor); }

} // namespace

// ---- Negotiation -------------------------------------------------------------------------

TEST(VmbusIc, ClassGuidsInWireOrder) {
    // 57164f39-9115-4e78-ab55-382f3bd5422d and 0e0b6031-5213-4934-818b-38d90ced39db.
    EXPECT_EQ(heartbeat_class.bytes[0], 0x39);
    EXPECT_EQ(heartbeat_class.bytes[3], 0x57);
    EXPECT_EQ(heartbeat_class.bytes[4], 0x15);
    EXPECT_EQ(heartbeat_class.bytes[7], 0x4e);
    EXPECT_EQ(heartbeat_class.bytes[8], 0xab);
    EXPECT_EQ(shutdown_class.bytes[0], 0x31);
    EXPECT_EQ(shutdown_class.bytes[3], 0x0e);
    EXPECT_EQ(shutdown_class.bytes[15], 0xdb);
}

TEST(VmbusIc, TheNegotiateRequestOffersOurLists) {
    IcHost host(Kind::shutdown);
    Bytes r;
    const Request q = host.build_negotiate(r.b, sizeof r.b);
    // 28 header bytes, 8 of negotiate body, 2 framework and 4 shutdown versions.
    ASSERT_EQ(q.size, 28u + 8 + 4 * 6);
    EXPECT_EQ(q.packet.type, packet_type::data_inband);
    EXPECT_EQ(r.at<uint32_t>(0), pipe_type_data);
    EXPECT_EQ(r.at<uint32_t>(4), q.size - 8);
    EXPECT_EQ(r.header().type, message_type::negotiate);
    EXPECT_EQ(r.header().size, 8 + 4 * 6);
    EXPECT_EQ(r.header().flags, header_flag::transaction | header_flag::request);
    EXPECT_EQ(r.header().transaction, static_cast<uint8_t>(q.packet.trans_id));
    EXPECT_EQ(r.at<uint16_t>(28), 2);
    EXPECT_EQ(r.at<uint16_t>(30), 4);
    const uint32_t expect[] = {v(3, 0), v(1, 0), v(3, 2), v(3, 1), v(3, 0), v(1, 0)};
    for (uint32_t i = 0; i < 6; i++) {
        const IcVersion got = r.at<IcVersion>(36 + 4 * i);
        EXPECT_EQ(make_version(got.major, got.minor), expect[i]) << i;
    }
    EXPECT_EQ(host.state(), IcHost::State::negotiating);
    EXPECT_TRUE(host.outstanding());
    Bytes small;
    EXPECT_EQ(IcHost(Kind::shutdown).build_negotiate(small.b, 30).size, 0u) << "no room";
}

TEST(VmbusIc, HeartbeatNegotiatesTheNewestCommonVersions) {
    Pair p(Kind::heartbeat);
    ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
    EXPECT_EQ(p.host.state(), IcHost::State::ready);
    EXPECT_EQ(p.host.framework_version(), v(3, 0));
    EXPECT_EQ(p.host.message_version(), v(3, 0));
    EXPECT_TRUE(p.guest.negotiated());
    EXPECT_EQ(p.guest.message_version(), v(3, 0));
    // Linux's answer: same size, counts 1 and 1, icmsgsize 0x10, the request's transaction.
    EXPECT_EQ(p.answer.size, p.request.size);
    EXPECT_EQ(p.answer.trans, p.request.trans);
    EXPECT_EQ(p.answer.at<uint16_t>(28), 1);
    EXPECT_EQ(p.answer.at<uint16_t>(30), 1);
    EXPECT_EQ(p.answer.header().size, 0x10);
    EXPECT_EQ(p.answer.header().flags, header_flag::transaction | header_flag::response);
    EXPECT_EQ(p.answer.at<uint32_t>(0), pipe_type_data) << "pipe header echoed";
    EXPECT_FALSE(p.host.outstanding());
    EXPECT_EQ(p.host.log().total(), 0u);
    EXPECT_EQ(p.guest.log().total(), 0u);
}

TEST(VmbusIc, ShutdownNegotiates32) {
    Pair p(Kind::shutdown);
    ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
    EXPECT_EQ(p.host.message_version(), v(3, 2));
    EXPECT_EQ(p.guest.message_version(), v(3, 2));
}

TEST(VmbusIc, TheGuestTakesItsPreferredVersionAmongTheHostsOffers) {
    // The host lists old versions first; the guest still picks its own newest that is offered.
    static const uint32_t fw[] = {v(1, 0)};
    static const uint32_t msg[] = {v(1, 0), v(3, 0), v(3, 1)};
    Pair p(IcHost(Kind::shutdown, {fw, 1}, {msg, 3}), IcGuest(Kind::shutdown));
    ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
    EXPECT_EQ(p.host.framework_version(), v(1, 0));
    EXPECT_EQ(p.host.message_version(), v(3, 1));
}

TEST(VmbusIc, NoCommonVersionLeavesTheChannelUnusable) {
    static const uint32_t fw[] = {v(3, 0)};
    static const uint32_t msg[] = {v(9, 9), v(2, 0)};
    Pair p(IcHost(Kind::heartbeat, {fw, 1}, {msg, 2}), IcGuest(Kind::heartbeat));
    EXPECT_EQ(p.negotiate(), HostEvent::no_common_version);
    EXPECT_EQ(p.answer.at<uint16_t>(28), 0);
    EXPECT_EQ(p.answer.at<uint16_t>(30), 0);
    EXPECT_FALSE(p.guest.negotiated());
    EXPECT_TRUE(p.guest.log().contains(IcFault::no_common_version));
    EXPECT_EQ(p.host.state(), IcHost::State::failed);
    EXPECT_TRUE(p.host.log().contains(IcFault::no_common_version));
    Bytes r;
    EXPECT_EQ(p.host.build_heartbeat(1, r.b, sizeof r.b).size, 0u);
    EXPECT_TRUE(p.host.log().contains(IcFault::not_negotiated));
    // No common framework version either way.
    static const uint32_t old_fw[] = {v(2, 0)};
    Pair q(IcHost(Kind::heartbeat, {old_fw, 1}, versions::message_list(Kind::heartbeat)), IcGuest(Kind::heartbeat));
    EXPECT_EQ(q.negotiate(), HostEvent::no_common_version);
    // After reset the host negotiates again (and a host with an empty list never starts).
    p.host.reset();
    EXPECT_EQ(p.host.state(), IcHost::State::idle);
    EXPECT_EQ(IcHost(Kind::heartbeat, {fw, 0}, {msg, 2}).state(), IcHost::State::failed);
    EXPECT_EQ(IcHost(Kind::heartbeat, {fw, 0}, {msg, 2}).build_negotiate(r.b, sizeof r.b).size, 0u);
}

// ---- Heartbeat and shutdown --------------------------------------------------------------

TEST(VmbusIc, HeartbeatsAreAnsweredWithSeqPlusOne) {
    Pair p(Kind::heartbeat);
    ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
    for (uint64_t seq = 1000; seq < 1010; seq++) {
        ASSERT_EQ(p.beat(seq), HostEvent::heartbeat);
        EXPECT_EQ(p.host.last_seq_answered(), seq);
        EXPECT_EQ(p.guest.last_seq(), seq);
        EXPECT_EQ(p.answer.at<uint64_t>(28), seq + 1);
        EXPECT_EQ(p.request.header().message.major, 3) << "negotiated versions in the header";
    }
    EXPECT_EQ(p.host.heartbeats_answered(), 10u);
    EXPECT_EQ(p.guest.heartbeats(), 10u);
    EXPECT_EQ(p.host.missed(), 0u);
    // The sequence number wraps like Linux's u64 increment.
    EXPECT_EQ(p.beat(~uint64_t{0}), HostEvent::heartbeat);
    EXPECT_EQ(p.answer.at<uint64_t>(28), 0u);
}

TEST(VmbusIc, UnansweredBeatsAreMissed) {
    Pair p(Kind::heartbeat);
    ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
    Bytes r;
    ASSERT_NE(p.host.build_heartbeat(1, r.b, sizeof r.b).size, 0u);
    ASSERT_NE(p.host.build_heartbeat(2, r.b, sizeof r.b).size, 0u);
    EXPECT_EQ(p.host.missed(), 1u) << "replaced while unanswered";
    EXPECT_TRUE(p.host.expire());
    EXPECT_EQ(p.host.missed(), 2u);
    EXPECT_FALSE(p.host.expire()) << "nothing outstanding";
    EXPECT_EQ(p.beat(3), HostEvent::heartbeat);
    EXPECT_EQ(p.host.missed(), 2u);
}

TEST(VmbusIc, ShutdownAndRestartAreAccepted) {
    Pair p(Kind::shutdown);
    ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
    EXPECT_FALSE(p.guest.shutdown_requested());
    p.take(p.host.build_shutdown({shutdown_flag::restart | shutdown_flag::force, 0x80020003, 30}, p.request.b,
                                 sizeof p.request.b));
    ASSERT_EQ(p.request.size, 28u + 2060);
    EXPECT_EQ(p.request.at<uint32_t>(36), shutdown_flag::restart | shutdown_flag::force);
    ASSERT_TRUE(p.answer_it());
    EXPECT_EQ(p.host.on_response(p.answer.packet()), HostEvent::shutdown_accepted);
    EXPECT_TRUE(p.host.shutdown_answered());
    EXPECT_EQ(p.host.shutdown_status(), status_ok);
    ASSERT_TRUE(p.guest.shutdown_requested());
    EXPECT_EQ(p.guest.shutdown().flags, 3u);
    EXPECT_EQ(p.guest.shutdown().reason_code, 0x80020003u);
    EXPECT_EQ(p.guest.shutdown().timeout_seconds, 30u);
    p.take(p.host.build_shutdown({}, p.request.b, sizeof p.request.b));
    ASSERT_TRUE(p.answer_it());
    EXPECT_EQ(p.host.on_response(p.answer.packet()), HostEvent::shutdown_accepted);
    EXPECT_EQ(p.guest.shutdown().flags, shutdown_flag::shutdown);
}

TEST(VmbusIc, HibernateAndUnknownShutdownFlagsAreDeclined) {
    for (uint32_t flags : {shutdown_flag::hibernate, shutdown_flag::hibernate | shutdown_flag::force, 8u, 0xffffffffu}) {
        Pair p(Kind::shutdown);
        ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
        p.take(p.host.build_shutdown({flags, 0, 0}, p.request.b, sizeof p.request.b));
        ASSERT_TRUE(p.answer_it());
        EXPECT_EQ(p.host.on_response(p.answer.packet()), HostEvent::shutdown_declined) << flags;
        EXPECT_EQ(p.host.shutdown_status(), status_fail);
        EXPECT_FALSE(p.guest.shutdown_requested());
        EXPECT_TRUE(p.guest.log().contains(IcFault::unsupported_shutdown));
    }
}

TEST(VmbusIc, RequestsOfTheWrongKindOrStateAreNotBuilt) {
    Pair hb(Kind::heartbeat), sd(Kind::shutdown);
    Bytes r;
    EXPECT_EQ(hb.host.build_heartbeat(1, r.b, sizeof r.b).size, 0u) << "not negotiated";
    EXPECT_EQ(sd.host.build_shutdown({}, r.b, sizeof r.b).size, 0u) << "not negotiated";
    ASSERT_EQ(hb.negotiate(), HostEvent::negotiated);
    ASSERT_EQ(sd.negotiate(), HostEvent::negotiated);
    EXPECT_EQ(hb.host.build_shutdown({}, r.b, sizeof r.b).size, 0u);
    EXPECT_EQ(sd.host.build_heartbeat(1, r.b, sizeof r.b).size, 0u);
    EXPECT_EQ(sd.host.build_shutdown({}, r.b, 100).size, 0u) << "no room";
    EXPECT_EQ(hb.host.build_negotiate(r.b, sizeof r.b).size, 0u) << "already negotiated";
}

// ---- The host refuses hostile answers ----------------------------------------------------

namespace {

// A negotiated heartbeat pair with one beat (seq 7) outstanding and the guest's correct answer.
struct VmbusIcHostile : ::testing::Test {
    Pair p{Kind::heartbeat};
    void SetUp() override {
        ASSERT_EQ(p.negotiate(), HostEvent::negotiated);
        p.take(p.host.build_heartbeat(7, p.request.b, sizeof p.request.b));
        ASSERT_TRUE(p.answer_it());
    }
    void refused(IcFault f, bool still_outstanding) {
        EXPECT_EQ(p.host.on_response(p.answer.packet()), HostEvent::refused);
        ASSERT_NE(p.host.log().last(), nullptr);
        EXPECT_EQ(p.host.log().last()->fault, f) << to_string(p.host.log().last()->fault);
        EXPECT_EQ(p.host.outstanding(), still_outstanding);
        EXPECT_EQ(p.host.heartbeats_answered(), 0u);
    }
};

} // namespace

TEST_F(VmbusIcHostile, NotInband) {
    p.answer.type = packet_type::completion;
    refused(IcFault::wrong_packet_type, true);
}

TEST_F(VmbusIcHostile, ShorterThanTheHeaders) {
    for (uint32_t n : {0u, 1u, 27u}) {
        p.answer.size = n;
        refused(IcFault::too_short, true);
    }
}

TEST_F(VmbusIcHostile, PipeSizePastThePacket) {
    p.answer.put<uint32_t>(4, p.answer.size - 8 + 1);
    refused(IcFault::pipe_size, true);
}

TEST_F(VmbusIcHostile, MessageSizePastThePacket) {
    IcMessageHeader m = p.answer.header();
    m.size = static_cast<uint16_t>(p.answer.size - 28 + 1);
    p.answer.set_header(m);
    refused(IcFault::message_size, true);
}

TEST_F(VmbusIcHostile, NoResponseFlag) {
    IcMessageHeader m = p.answer.header();
    m.flags = header_flag::transaction | header_flag::request;
    p.answer.set_header(m);
    refused(IcFault::not_response, true);
}

TEST_F(VmbusIcHostile, WrongPacketOrHeaderTransaction) {
    p.answer.trans++;
    refused(IcFault::wrong_transaction, true);
    p.answer.trans--;
    IcMessageHeader m = p.answer.header();
    m.transaction++;
    p.answer.set_header(m);
    refused(IcFault::wrong_transaction, true);
    m.transaction--;
    p.answer.set_header(m);
    EXPECT_EQ(p.host.on_response(p.answer.packet()), HostEvent::heartbeat) << "the real answer still counts";
}

TEST_F(VmbusIcHostile, WrongTypeUsesUpTheBeat) {
    IcMessageHeader m = p.answer.header();
    m.type = message_type::shutdown;
    p.answer.set_header(m);
    refused(IcFault::wrong_type, false);
    EXPECT_EQ(p.host.missed(), 1u);
}

TEST_F(VmbusIcHostile, StaleOrForgedSequence) {
    p.answer.put<uint64_t>(28, 7);   // the request's own seq, not seq + 1
    refused(IcFault::wrong_sequence, false);
    EXPECT_EQ(p.host.missed(), 1u);
    // The answer once more: nothing is outstanding any more.
    p.answer.put<uint64_t>(28, 8);
    refused(IcFault::unexpected, false);
    // A replay of an old answer against a new beat: its transaction id is old.
    const Bytes old = p.answer;
    p.take(p.host.build_heartbeat(8, p.request.b, sizeof p.request.b));
    p.answer = old;
    refused(IcFault::wrong_transaction, true);
}

TEST_F(VmbusIcHostile, HeartbeatWithoutItsSequenceOrWithAFailure) {
    p.answer.size = 28 + 7;
    IcMessageHeader m = p.answer.header();
    m.size = 0;
    p.answer.set_header(m);
    p.answer.put<uint32_t>(4, 0);
    refused(IcFault::too_short_for_type, false);
    p.take(p.host.build_heartbeat(9, p.request.b, sizeof p.request.b));
    ASSERT_TRUE(p.answer_it());
    m = p.answer.header();
    m.status = status_fail;
    p.answer.set_header(m);
    refused(IcFault::failure_status, false);
    EXPECT_EQ(p.host.missed(), 2u);
}

namespace {

// A host with a negotiate outstanding and the guest's correct answer to edit.
struct VmbusIcHostileNegotiate : ::testing::Test {
    Pair p{Kind::shutdown};
    void SetUp() override {
        p.take(p.host.build_negotiate(p.request.b, sizeof p.request.b));
        ASSERT_TRUE(p.answer_it());
    }
    void refused(IcFault f) {
        EXPECT_EQ(p.host.on_response(p.answer.packet()), HostEvent::refused);
        ASSERT_NE(p.host.log().last(), nullptr);
        EXPECT_EQ(p.host.log().last()->fault, f) << to_string(p.host.log().last()->fault);
        EXPECT_EQ(p.host.state(), IcHost::State::failed);
    }
};

} // namespace

TEST_F(VmbusIcHostileNegotiate, AVersionWeDidNotOffer) {
    p.answer.put(40, IcVersion{3, 3});
    refused(IcFault::version_not_offered);
    EXPECT_EQ(p.host.log().last()->value, v(3, 3));
}

TEST_F(VmbusIcHostileNegotiate, AFrameworkWeDidNotOffer) {
    p.answer.put(36, IcVersion{2, 0});
    refused(IcFault::version_not_offered);
}

TEST_F(VmbusIcHostileNegotiate, MoreThanOneVersionPerList) {
    p.answer.put<uint16_t>(30, 2);
    refused(IcFault::bad_version_count);
}

TEST_F(VmbusIcHostileNegotiate, CountsOverflowingTheMessage) {
    // Two versions claimed, icmsgsize holding one.
    IcMessageHeader m = p.answer.header();
    m.size = 12;
    p.answer.set_header(m);
    refused(IcFault::message_size);
}

TEST_F(VmbusIcHostileNegotiate, NoRoomForTheCounts) {
    p.answer.size = 32;
    IcMessageHeader m = p.answer.header();
    m.size = 4;
    p.answer.set_header(m);
    p.answer.put<uint32_t>(4, 24);
    refused(IcFault::too_short_for_type);
}

TEST_F(VmbusIcHostileNegotiate, AFailureStatusIsNoCommonVersion) {
    IcMessageHeader m = p.answer.header();
    m.status = status_fail;
    p.answer.set_header(m);
    EXPECT_EQ(p.host.on_response(p.answer.packet()), HostEvent::no_common_version);
    EXPECT_EQ(p.host.state(), IcHost::State::failed);
}

TEST(VmbusIc, EveryFaultHasItsOwnName) {
    const auto last = static_cast<uint8_t>(IcFault::unsupported_shutdown);
    for (uint8_t a = 0; a <= last; a++) {
        EXPECT_STRNE(to_string(static_cast<IcFault>(a)), "?") << int{a};
        for (uint8_t b = 0; b < a; b++)
            EXPECT_STRNE(to_string(static_cast<IcFault>(a)), to_string(static_cast<IcFault>(b)));
    }
}

TEST(VmbusIc, TheHostLogIsBounded) {
    IcHost host(Kind::heartbeat);
    Bytes junk;
    junk.size = 3;
    for (int i = 0; i < 40; i++)
        EXPECT_EQ(host.on_response(junk.packet()), HostEvent::refused);
    EXPECT_EQ(host.log().total(), 40u);
    EXPECT_EQ(host.log().size(), IcLog::log_entries);
    EXPECT_EQ(host.log().at(0).fault, IcFault::too_short);
    EXPECT_EQ(host.log().at(0).value, 3u);
}

// ---- The guest refuses hostile requests the way Linux does ------------------------------

namespace {

struct VmbusIcGuest : ::testing::Test {
    IcHost host{Kind::heartbeat};
    IcGuest guest{Kind::heartbeat};
    Bytes request, answer;
    void SetUp() override {
        const Request r = host.build_negotiate(request.b, sizeof request.b);
        request.size = r.size;
        request.trans = r.packet.trans_id;
    }
    uint32_t answer_it(uint32_t capacity = sizeof(Bytes::b)) {
        const Answer a = guest.answer(request.packet(), answer.b, capacity);
        answer.size = a.size;
        EXPECT_EQ(a.packet.trans_id, request.trans);
        EXPECT_EQ(a.packet.type, packet_type::data_inband);
        return a.size;
    }
    IcFault last() const { return guest.log().last() ? guest.log().last()->fault : IcFault::too_short_for_type; }
};

} // namespace

TEST_F(VmbusIcGuest, TooShortOrTooLargeIsDroppedUnanswered) {
    request.size = 27;
    EXPECT_EQ(answer_it(), 0u);
    EXPECT_EQ(last(), IcFault::too_short);
    request.size = 60;
    EXPECT_EQ(answer_it(59), 0u);
    EXPECT_EQ(last(), IcFault::too_large);
    EXPECT_FALSE(guest.negotiated());
}

TEST_F(VmbusIcGuest, ANegotiateWithoutItsCountsIsEchoed) {
    request.size = 30;
    ASSERT_EQ(answer_it(), 30u);
    EXPECT_EQ(last(), IcFault::too_short_for_type);
    EXPECT_EQ(answer.header().flags, header_flag::transaction | header_flag::response);
    EXPECT_EQ(memcmp(answer.b + 28, request.b + 28, 2), 0) << "body untouched";
    EXPECT_FALSE(guest.negotiated());
}

TEST_F(VmbusIcGuest, VersionCountsPastThePacketOrLinuxsLimitGetCountsZero) {
    request.put<uint16_t>(30, 3);   // one version more than the packet holds
    ASSERT_EQ(answer_it(), request.size);
    EXPECT_EQ(last(), IcFault::bad_negotiate);
    EXPECT_EQ(answer.at<uint16_t>(28), 0);
    EXPECT_EQ(answer.at<uint16_t>(30), 0);
    EXPECT_FALSE(guest.negotiated());
    // 101 framework versions in a packet that holds them: over IC_VERSION_NEGOTIATION_MAX_VER_COUNT.
    request.size = 36 + 4 * 102;
    request.put<uint16_t>(28, 101);
    request.put<uint16_t>(30, 1);
    for (uint32_t i = 0; i < 102; i++)
        request.put(36 + 4 * i, IcVersion{3, 0});
    ASSERT_EQ(answer_it(), request.size);
    EXPECT_EQ(last(), IcFault::bad_negotiate);
    EXPECT_EQ(answer.at<uint16_t>(28), 0);
    request.put<uint16_t>(28, 100);
    request.put<uint16_t>(30, 2);
    ASSERT_EQ(answer_it(), request.size);
    EXPECT_TRUE(guest.negotiated()) << "100 is allowed";
}

TEST_F(VmbusIcGuest, UnknownTypesAreAnsweredWithAFailure) {
    for (uint16_t t : {message_type::shutdown, message_type::kvp_exchange, uint16_t{0xffff}}) {
        IcMessageHeader m = request.header();
        m.type = t;
        m.status = status_ok;
        request.set_header(m);
        ASSERT_EQ(answer_it(), request.size);
        EXPECT_EQ(answer.header().status, status_fail) << t;
        EXPECT_EQ(answer.header().flags, header_flag::transaction | header_flag::response);
        EXPECT_EQ(last(), IcFault::unknown_type);
    }
}

TEST_F(VmbusIcGuest, ShortHeartbeatAndShutdownRequestsAreDropped) {
    IcMessageHeader m = request.header();
    m.type = message_type::heartbeat;
    request.set_header(m);
    request.size = 28 + 7;
    EXPECT_EQ(answer_it(), 0u);
    EXPECT_EQ(last(), IcFault::too_short_for_type);
    request.size = 28 + 8;   // Linux needs the sequence number only
    request.put<uint64_t>(28, 41);
    ASSERT_EQ(answer_it(), 36u);
    EXPECT_EQ(answer.at<uint64_t>(28), 42u);
    IcGuest sd(Kind::shutdown);
    m.type = message_type::shutdown;
    request.set_header(m);
    request.size = 28 + 2059;
    EXPECT_EQ(sd.answer(request.packet(), answer.b, sizeof answer.b).size, 0u);
    EXPECT_TRUE(sd.log().contains(IcFault::too_short_for_type));
    EXPECT_FALSE(sd.shutdown_requested());
}

// ---- Over real rings ---------------------------------------------------------------------

namespace {

// The root's provider for one IC channel, as partitions/root would wrap IcHost.
struct IcDevice {
    DeviceProvider provider{};
    IcHost host;
    ServerChannel* channel = nullptr;
    std::vector<HostEvent> events;
    explicit IcDevice(Kind k) : host(k) {
        provider = DeviceProvider{k == Kind::heartbeat ? heartbeat_class : shutdown_class, guid(0x77), "ic", this,
                                  on_open, on_close, on_signal};
    }
    bool send(const Request& r, const uint8_t* bytes) {
        return r.size != 0 && channel != nullptr && channel->send(r.packet, bytes, r.size) == RingStatus::ok;
    }
    static bool on_open(void* c, ServerChannel& ch) {
        auto* d = static_cast<IcDevice*>(c);
        d->channel = &ch;
        d->host.reset();
        alignas(8) uint8_t buffer[max_request_size];
        return d->send(d->host.build_negotiate(buffer, sizeof buffer), buffer);
    }
    static void on_close(void* c, ServerChannel&) { static_cast<IcDevice*>(c)->channel = nullptr; }
    static bool on_signal(void* c, ServerChannel& ch) {
        auto* d = static_cast<IcDevice*>(c);
        alignas(8) uint8_t buffer[4096];
        Packet p{};
        RingStatus s;
        while ((s = ch.receive(buffer, sizeof buffer, p)) == RingStatus::ok)
            d->events.push_back(d->host.on_response(p));
        ch.done_receiving();
        return !is_protocol_error(s);
    }
};

struct VmbusIcLoopback : ::testing::Test {
    GuestMemory memory{64};
    FakeServerTransport root_side{memory};
    FakeClientTransport child_side;
    IcDevice heartbeat{Kind::heartbeat};
    IcDevice shutdown{Kind::shutdown};
    VmbusServer server{root_side.transport(), memory.platform(), ServerConfig{}};
    VmbusClient client{child_side.transport()};
    IcGuest guest_heartbeat{Kind::heartbeat};
    IcGuest guest_shutdown{Kind::shutdown};
    uint32_t hb_relid = 0, sd_relid = 0;
    uint32_t answered = 0;
    bool silent = false;   // the child reads requests and answers none

    VmbusIcLoopback() {
        hb_relid = server.add_device(&heartbeat.provider);
        sd_relid = server.add_device(&shutdown.provider);
    }
    // The child's side of each open IC channel: answer every request in its inbound ring.
    bool serve_child() {
        bool any = false;
        for (auto [relid, guest] : {std::pair{hb_relid, &guest_heartbeat}, std::pair{sd_relid, &guest_shutdown}}) {
            ClientChannel* ch = client.channel(relid);
            if (ch == nullptr || ch->state() != ClientChannel::State::open)
                continue;
            alignas(8) uint8_t in[4096], out[4096];
            Packet p{};
            while (ch->receive(in, sizeof in, p) == RingStatus::ok) {
                const Answer a = guest->answer(p, out, sizeof out);
                if (a.size != 0 && !silent) {
                    EXPECT_EQ(ch->send(a.packet, out, a.size), RingStatus::ok);
                    answered++;
                }
                any = true;
            }
            ch->done_receiving();
        }
        return any;
    }
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
            const bool served = serve_child();
            if (to_root.empty() && to_child.empty() && root_events.empty() && child_events.empty() && !served)
                return;
            for (const auto& [conn, bytes] : to_root)
                server.receive(conn, bytes.data(), static_cast<uint32_t>(bytes.size()));
            for (const Posted& m : to_child)
                client.on_message(m.bytes.data(), static_cast<uint32_t>(m.bytes.size()));
            for (uint32_t conn : root_events)
                server.signalled(server.relid_for_connection(conn));
            for (const auto& [vp, r] : child_events)
                client.on_event(r);
        }
        ADD_FAILURE() << "the ends never went quiet";
    }
    void open(uint32_t relid, uint32_t first_page) {
        const uint32_t id = client.create_gpadl(relid, GuestMemory::base + first_page, 4);
        ASSERT_NE(id, 0u);
        pump();
        ASSERT_EQ(client.gpadl(id)->state, ClientGpadl::State::created);
        ASSERT_TRUE(client.open(relid, id, memory.page(GuestMemory::base + first_page), 2, 2));
        pump();
        ASSERT_EQ(client.channel(relid)->state(), ClientChannel::State::open);
    }
};

} // namespace

TEST_F(VmbusIcLoopback, HeartbeatsAndAShutdownOverRealRings) {
    ASSERT_TRUE(client.connect());
    pump();
    ASSERT_TRUE(client.request_offers());
    pump();
    ASSERT_NE(client.find(heartbeat_class), nullptr);
    ASSERT_NE(client.find(shutdown_class), nullptr);
    open(hb_relid, 0);
    open(sd_relid, 4);
    // Opening sent the negotiate; the child answered it.
    ASSERT_EQ(heartbeat.host.state(), IcHost::State::ready);
    ASSERT_EQ(shutdown.host.state(), IcHost::State::ready);
    EXPECT_EQ(heartbeat.host.message_version(), v(3, 0));
    EXPECT_EQ(shutdown.host.message_version(), v(3, 2));
    EXPECT_TRUE(guest_heartbeat.negotiated());

    // 300 beats of a 2-page ring: both rings wrap many times.
    alignas(8) uint8_t buffer[max_request_size];
    for (uint64_t seq = 1; seq <= 300; seq++) {
        ASSERT_TRUE(heartbeat.send(heartbeat.host.build_heartbeat(seq * 3, buffer, sizeof buffer), buffer));
        pump();
        ASSERT_EQ(heartbeat.host.last_seq_answered(), seq * 3);
    }
    EXPECT_EQ(heartbeat.host.heartbeats_answered(), 300u);
    EXPECT_EQ(heartbeat.host.missed(), 0u);
    EXPECT_EQ(guest_heartbeat.heartbeats(), 300u);

    ASSERT_TRUE(shutdown.send(shutdown.host.build_shutdown({shutdown_flag::restart, 5, 60}, buffer, sizeof buffer),
                              buffer));
    pump();
    EXPECT_TRUE(guest_shutdown.shutdown_requested());
    EXPECT_EQ(guest_shutdown.shutdown().flags, shutdown_flag::restart);
    ASSERT_FALSE(shutdown.events.empty());
    EXPECT_EQ(shutdown.events.back(), HostEvent::shutdown_accepted);
    EXPECT_EQ(heartbeat.host.log().total(), 0u);
    EXPECT_EQ(shutdown.host.log().total(), 0u);
    EXPECT_EQ(server.log().total(), 0u);
    EXPECT_EQ(answered, 2u + 300u + 1u);

    // A child that stops answering: the host counts the beats it let pass.
    silent = true;
    ASSERT_TRUE(heartbeat.send(heartbeat.host.build_heartbeat(1000, buffer, sizeof buffer), buffer));
    pump();
    ASSERT_TRUE(heartbeat.send(heartbeat.host.build_heartbeat(1001, buffer, sizeof buffer), buffer));
    pump();
    EXPECT_EQ(heartbeat.host.missed(), 1u);
    EXPECT_TRUE(heartbeat.host.expire());
    EXPECT_EQ(heartbeat.host.missed(), 2u);
    EXPECT_EQ(heartbeat.host.last_seq_answered(), 900u);
    // Closing and reopening negotiates afresh.
    silent = false;
    ASSERT_TRUE(client.close(hb_relid));
    pump();
    EXPECT_EQ(heartbeat.channel, nullptr);
}
