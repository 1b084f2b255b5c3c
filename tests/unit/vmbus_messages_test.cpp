// VMBus channel-management messages (vmbus/messages.hpp): wire offsets, the length rules of
// parse() for every type, and the version and connection constants Linux uses.
#include "vmbus/messages.hpp"

#include <gtest/gtest.h>
#include <stddef.h>
#include <string.h>
#include <vector>

using namespace vmbus;

namespace {

std::vector<uint8_t> message(uint32_t type, uint32_t size) {
    std::vector<uint8_t> m(size);
    memcpy(m.data(), &type, 4);
    return m;
}

MessageError parse_bytes(const std::vector<uint8_t>& m, Parsed& out) {
    return parse(m.data(), static_cast<uint32_t>(m.size()), out);
}

struct Fixed {
    MessageType type;
    uint32_t size;
};
// Each fixed-size type with the size Linux posts (sizeof of its struct in include/linux/hyperv.h).
constexpr Fixed fixed[] = {
    {MessageType::offer_channel, 196},   {MessageType::rescind_offer, 12},
    {MessageType::request_offers, 8},    {MessageType::all_offers_delivered, 8},
    {MessageType::open_channel, 148},    {MessageType::open_result, 20},
    {MessageType::close_channel, 12},    {MessageType::gpadl_created, 20},
    {MessageType::gpadl_teardown, 16},   {MessageType::gpadl_torndown, 12},
    {MessageType::relid_released, 12},   {MessageType::initiate_contact, 40},
    {MessageType::version_response, 16}, {MessageType::unload, 8},
    {MessageType::unload_response, 8},
};

} // namespace

TEST(VmbusMessages, WireOffsets) {
    EXPECT_EQ(offsetof(OfferChannel, interface_type), 8u);
    EXPECT_EQ(offsetof(OfferChannel, interface_instance), 24u);
    EXPECT_EQ(offsetof(OfferChannel, channel_flags), 56u);
    EXPECT_EQ(offsetof(OfferChannel, user_defined), 60u);
    EXPECT_EQ(offsetof(OfferChannel, sub_channel_index), 180u);
    EXPECT_EQ(offsetof(OfferChannel, child_relid), 184u);
    EXPECT_EQ(offsetof(OfferChannel, monitor_id), 188u);
    EXPECT_EQ(offsetof(OfferChannel, connection_id), 192u);
    EXPECT_EQ(offsetof(OpenChannel, downstream_offset), 24u);
    EXPECT_EQ(offsetof(OpenChannel, user_data), 28u);
    EXPECT_EQ(offsetof(InitiateContact, interrupt_page_or_sint), 16u);
    EXPECT_EQ(offsetof(VersionResponse, msg_conn_id), 12u);
    EXPECT_EQ(offsetof(GpadlHeader, range_count), 18u);
}

TEST(VmbusMessages, VersionsAndConnections) {
    EXPECT_EQ(version::v5_3, 0x50003u);
    EXPECT_EQ(version::win8, 0x20004u);
    EXPECT_EQ(std::size(version::linux_offers), 8u);
    for (size_t i = 1; i < std::size(version::linux_offers); i++)
        EXPECT_LT(version::linux_offers[i], version::linux_offers[i - 1]) << "newest first";
    EXPECT_EQ(connection::message_for(version::v5_0), 4u);
    EXPECT_EQ(connection::message_for(version::v5_3), 4u);
    EXPECT_EQ(connection::message_for(version::win10_rs3), 1u);
    EXPECT_EQ(connection::message_for(version::win8), 1u);
}

TEST(VmbusMessages, EveryFixedTypeParsesAtItsSizeAndNotBelow) {
    for (const Fixed f : fixed) {
        Parsed p;
        const auto t = static_cast<uint32_t>(f.type);
        EXPECT_EQ(parse_bytes(message(t, f.size), p), MessageError::ok) << t;
        EXPECT_EQ(p.type(), f.type);
        EXPECT_EQ(p.size(), f.size);
        if (f.size > 8) {
            EXPECT_EQ(parse_bytes(message(t, f.size - 1), p), MessageError::below_minimum) << t;
        }
        EXPECT_EQ(parse_bytes(message(t, max_message_size), p), MessageError::ok)
            << t << ": trailing bytes of a later version are ignored";
    }
}

TEST(VmbusMessages, HeaderAndSynicLimits) {
    Parsed p;
    EXPECT_EQ(parse_bytes(message(3, 7), p), MessageError::too_short);
    EXPECT_EQ(parse(nullptr, 0, p), MessageError::too_short);
    EXPECT_EQ(parse_bytes(message(3, 241), p), MessageError::too_long);
    EXPECT_EQ(p.type(), MessageType::invalid) << "a refused message leaves no type behind";
    for (uint32_t t : {0u, 18u, 19u, 21u, 22u, 0x80000001u})
        EXPECT_EQ(parse_bytes(message(t, 64), p), MessageError::unknown_type) << t;
}

TEST(VmbusMessages, TypedViewOnlyForItsType) {
    auto offer = make_message<OfferChannel>();
    offer.child_relid = 9;
    offer.connection_id = 0x2000;
    offer.interface_type.bytes[0] = 0xd9;
    Parsed p;
    ASSERT_EQ(parse(&offer, sizeof offer, p), MessageError::ok);
    ASSERT_NE(p.as<OfferChannel>(), nullptr);
    EXPECT_EQ(p.as<OfferChannel>()->child_relid, 9u);
    EXPECT_EQ(p.as<OfferChannel>()->connection_id, 0x2000u);
    EXPECT_EQ(p.as<OfferChannel>()->interface_type.bytes[0], 0xd9);
    EXPECT_EQ(p.as<RescindOffer>(), nullptr);
    EXPECT_EQ(p.pfn_count(), 0u);
}

TEST(VmbusMessages, ParsedIsACopy) {
    auto contact = make_message<InitiateContact>();
    contact.version_requested = version::v5_2;
    contact.interrupt_page_or_sint = 2;
    Parsed p;
    ASSERT_EQ(parse(&contact, sizeof contact, p), MessageError::ok);
    contact.version_requested = 0;   // the sender rewrites its bytes after posting
    EXPECT_EQ(p.as<InitiateContact>()->version_requested, version::v5_2);
    EXPECT_EQ(p.as<InitiateContact>()->msg_sint(), message_sint);
}

TEST(VmbusMessages, GpadlHeaderLengths) {
    Parsed p;
    EXPECT_EQ(parse_bytes(message(8, 20), p), MessageError::below_minimum) << "no range descriptor";
    EXPECT_EQ(parse_bytes(message(8, 27), p), MessageError::below_minimum);
    EXPECT_EQ(parse_bytes(message(8, 28), p), MessageError::ok) << "a range, its PFNs in bodies";
    EXPECT_EQ(p.pfn_count(), 0u);
    EXPECT_EQ(parse_bytes(message(8, 31), p), MessageError::bad_length);
    EXPECT_EQ(parse_bytes(message(8, 236), p), MessageError::ok);
    EXPECT_EQ(p.pfn_count(), 26u) << "the most a SynIC message carries";
    EXPECT_EQ(parse_bytes(message(8, 240), p), MessageError::bad_length);

    auto m = message(8, 28 + 16);
    const uint32_t byte_count = 8192, byte_offset = 12;
    const uint64_t pfns[] = {0x1234, 0xffffffffffull};
    memcpy(&m[20], &byte_count, 4);
    memcpy(&m[24], &byte_offset, 4);
    memcpy(&m[28], pfns, 16);
    ASSERT_EQ(parse_bytes(m, p), MessageError::ok);
    EXPECT_EQ(p.range_byte_count(), 8192u);
    EXPECT_EQ(p.range_byte_offset(), 12u);
    ASSERT_EQ(p.pfn_count(), 2u);
    EXPECT_EQ(p.pfn(0), 0x1234u);
    EXPECT_EQ(p.pfn(1), 0xffffffffffull);
    EXPECT_EQ(p.pfn(2), 0u) << "out of range reads nothing";
}

TEST(VmbusMessages, GpadlBodyLengths) {
    Parsed p;
    EXPECT_EQ(parse_bytes(message(9, 16), p), MessageError::below_minimum) << "a body without PFNs";
    EXPECT_EQ(parse_bytes(message(9, 20), p), MessageError::below_minimum);
    EXPECT_EQ(parse_bytes(message(9, 28), p), MessageError::bad_length);
    EXPECT_EQ(parse_bytes(message(9, 240), p), MessageError::ok);
    EXPECT_EQ(p.pfn_count(), 28u);
    auto m = message(9, 24);
    const uint64_t pfn = 77;
    memcpy(&m[16], &pfn, 8);
    ASSERT_EQ(parse_bytes(m, p), MessageError::ok);
    EXPECT_EQ(p.pfn(0), 77u);
    EXPECT_EQ(p.range_byte_count(), 0u);
}

TEST(VmbusMessages, ErrorsAreNamed) {
    EXPECT_STREQ(to_string(MessageError::ok), "ok");
    EXPECT_STRNE(to_string(MessageError::below_minimum), to_string(MessageError::bad_length));
}
