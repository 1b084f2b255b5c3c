// VMBus channel-management messages: what the root and a child say to each other through SynIC
// messages (PostMessage) to set up channels, laid out as on the wire (Linux's include/linux/
// hyperv.h describes the same bytes; the sizes below are checked against it). HYPERV-FACTS
// "VMBus" lists the exchange. parse() is the one entry for bytes from the peer.
#pragma once
#include <stdint.h>

namespace vmbus {

enum class MessageType : uint32_t {
    invalid = 0,
    offer_channel = 1,
    rescind_offer = 2,
    request_offers = 3,
    all_offers_delivered = 4,
    open_channel = 5,
    open_result = 6,
    close_channel = 7,
    gpadl_header = 8,
    gpadl_body = 9,
    gpadl_created = 10,
    gpadl_teardown = 11,
    gpadl_torndown = 12,
    relid_released = 13,
    initiate_contact = 14,
    version_response = 15,
    unload = 16,
    unload_response = 17,
};
inline constexpr uint32_t message_type_count = 18;

// A SynIC message carries at most 240 payload bytes (TLFS, HV_MESSAGE); a VMBus message is that
// payload, so nothing longer exists.
inline constexpr uint32_t max_message_size = 240;

// Protocol versions, (major << 16) | minor, newest first as Linux offers them in InitiateContact.
namespace version {
[[nodiscard]] constexpr uint32_t make(uint32_t major, uint32_t minor) { return major << 16 | minor; }
inline constexpr uint32_t win8 = make(2, 4);
inline constexpr uint32_t win8_1 = make(3, 0);
inline constexpr uint32_t win10 = make(4, 0);
inline constexpr uint32_t win10_rs3 = make(4, 1);
inline constexpr uint32_t v5_0 = make(5, 0);
inline constexpr uint32_t v5_1 = make(5, 1);
inline constexpr uint32_t v5_2 = make(5, 2);
inline constexpr uint32_t v5_3 = make(5, 3);
inline constexpr uint32_t linux_offers[] = {v5_3, v5_2, v5_1, v5_0, win10_rs3, win10, win8_1, win8};
} // namespace version

// Connection ids of the root's ports. From 5.0 the guest posts to connection 4 and learns the
// connection to use from VersionResponse.msg_conn_id; before 5.0 everything goes to 1.
namespace connection {
inline constexpr uint32_t message_legacy = 1;
inline constexpr uint32_t event = 2;
inline constexpr uint32_t monitor = 3;
inline constexpr uint32_t message_v5 = 4;
[[nodiscard]] constexpr uint32_t message_for(uint32_t version) {
    return version >= version::v5_0 ? message_v5 : message_legacy;
}
} // namespace connection
// The SINT Linux takes VMBus messages and channel events on (before 5.0 it is not negotiated).
inline constexpr uint8_t message_sint = 2;

struct MessageHeader {
    uint32_t type;
    uint32_t padding;
};

struct Guid {
    uint8_t bytes[16];
};

// Each message: its type as `kind` for Parsed::as<T>(), fields at their wire offsets.
struct OfferChannel {
    static constexpr MessageType kind = MessageType::offer_channel;
    MessageHeader header;
    Guid interface_type;        // 0x08: the device class
    Guid interface_instance;    // 0x18
    uint8_t reserved1[16];      // 0x28
    uint16_t channel_flags;     // 0x38
    uint16_t mmio_megabytes;    // 0x3a
    uint8_t user_defined[120];  // 0x3c
    uint16_t sub_channel_index; // 0xb4
    uint16_t reserved2;
    uint32_t child_relid;       // 0xb8
    uint8_t monitor_id;         // 0xbc
    uint8_t monitor_allocated;  // 0xbd: bit 0
    uint16_t dedicated_interrupt; // 0xbe: bit 0
    uint32_t connection_id;     // 0xc0: the connection the guest signals this channel on
};
struct RescindOffer {
    static constexpr MessageType kind = MessageType::rescind_offer;
    MessageHeader header;
    uint32_t child_relid;
};
struct RequestOffers {
    static constexpr MessageType kind = MessageType::request_offers;
    MessageHeader header;
};
struct AllOffersDelivered {
    static constexpr MessageType kind = MessageType::all_offers_delivered;
    MessageHeader header;
};
struct OpenChannel {
    static constexpr MessageType kind = MessageType::open_channel;
    MessageHeader header;
    uint32_t child_relid;
    uint32_t open_id;
    uint32_t ring_gpadl;          // both rings, the guest's outbound first
    uint32_t target_vp;           // where the host signals the guest
    uint32_t downstream_offset;   // the inbound ring's first page within ring_gpadl
    uint8_t user_data[120];
};
struct OpenResult {
    static constexpr MessageType kind = MessageType::open_result;
    MessageHeader header;
    uint32_t child_relid;
    uint32_t open_id;
    uint32_t status;              // 0 = success
};
struct CloseChannel {
    static constexpr MessageType kind = MessageType::close_channel;
    MessageHeader header;
    uint32_t child_relid;
};
// Followed by range_count ranges of {u32 byte_count, u32 byte_offset, u64 pfn[...]}, the PFNs that
// do not fit continuing in GpadlBody messages; range_buflen is the whole range array's length.
struct GpadlHeader {
    static constexpr MessageType kind = MessageType::gpadl_header;
    MessageHeader header;
    uint32_t child_relid;
    uint32_t gpadl;
    uint16_t range_buflen;
    uint16_t range_count;
};
struct GpadlBody {
    static constexpr MessageType kind = MessageType::gpadl_body;
    MessageHeader header;
    uint32_t message_number;      // Linux leaves it 0: not checked
    uint32_t gpadl;
    // u64 pfn[] follow
};
struct GpadlCreated {
    static constexpr MessageType kind = MessageType::gpadl_created;
    MessageHeader header;
    uint32_t child_relid;
    uint32_t gpadl;
    uint32_t status;              // 0 = success
};
struct GpadlTeardown {
    static constexpr MessageType kind = MessageType::gpadl_teardown;
    MessageHeader header;
    uint32_t child_relid;
    uint32_t gpadl;
};
struct GpadlTorndown {
    static constexpr MessageType kind = MessageType::gpadl_torndown;
    MessageHeader header;
    uint32_t gpadl;
};
struct RelidReleased {
    static constexpr MessageType kind = MessageType::relid_released;
    MessageHeader header;
    uint32_t child_relid;
};
struct InitiateContact {
    static constexpr MessageType kind = MessageType::initiate_contact;
    MessageHeader header;
    uint32_t version_requested;
    uint32_t target_vcpu;
    // Before 5.0 the guest's interrupt page; from 5.0 {u8 msg_sint, u8 msg_vtl, u16, u32 feature_flags}.
    uint64_t interrupt_page_or_sint;
    uint64_t monitor_page1;
    uint64_t monitor_page2;

    [[nodiscard]] uint8_t msg_sint() const { return static_cast<uint8_t>(interrupt_page_or_sint); }
};
struct VersionResponse {
    static constexpr MessageType kind = MessageType::version_response;
    MessageHeader header;
    uint8_t version_supported;    // 1 = the requested version is accepted
    uint8_t connection_state;
    uint16_t padding;
    uint32_t msg_conn_id;         // 5.0 and later: the connection for further messages
};
struct Unload {
    static constexpr MessageType kind = MessageType::unload;
    MessageHeader header;
};
struct UnloadResponse {
    static constexpr MessageType kind = MessageType::unload_response;
    MessageHeader header;
};

// The sizes Linux sends and expects (sizeof its structs in include/linux/hyperv.h).
static_assert(sizeof(MessageHeader) == 8);
static_assert(sizeof(OfferChannel) == 196);
static_assert(sizeof(RescindOffer) == 12);
static_assert(sizeof(OpenChannel) == 148);
static_assert(sizeof(OpenResult) == 20);
static_assert(sizeof(CloseChannel) == 12);
static_assert(sizeof(GpadlHeader) == 20);
static_assert(sizeof(GpadlBody) == 16);
static_assert(sizeof(GpadlCreated) == 20);
static_assert(sizeof(GpadlTeardown) == 16);
static_assert(sizeof(GpadlTorndown) == 12);
static_assert(sizeof(RelidReleased) == 12);
static_assert(sizeof(InitiateContact) == 40);
static_assert(sizeof(VersionResponse) == 16);

// A message ready to send: zeroed, its header typed. Fill the fields, post sizeof(T) bytes.
template <class T> [[nodiscard]] T make_message() {
    T m;
    __builtin_memset(&m, 0, sizeof m);
    m.header.type = static_cast<uint32_t>(T::kind);
    return m;
}

enum class MessageError : uint8_t {
    ok,
    too_short,        // not even a header
    too_long,         // more than a SynIC message holds
    unknown_type,
    below_minimum,    // shorter than its type's fixed part
    bad_length,       // GPADL header/body: the tail is not a whole number of 8-byte entries
};
[[nodiscard]] const char* to_string(MessageError e);

// A validated message, copied out of the sender's bytes (the copy is aligned and cannot change
// under the reader). Trailing bytes of a fixed-size message are kept but never interpreted.
class Parsed {
public:
    [[nodiscard]] MessageType type() const { return type_; }
    [[nodiscard]] uint32_t size() const { return size_; }
    // The message as T when it is one, else null.
    template <class T> [[nodiscard]] const T* as() const {
        return type_ == T::kind ? reinterpret_cast<const T*>(raw_) : nullptr;
    }
    // GPADL header: the first range's {byte_count, byte_offset} and the PFNs that follow it in
    // this message. GPADL body: its PFNs. Zero for other messages.
    [[nodiscard]] uint32_t range_byte_count() const;
    [[nodiscard]] uint32_t range_byte_offset() const;
    [[nodiscard]] uint32_t pfn_count() const;
    [[nodiscard]] uint64_t pfn(uint32_t i) const;   // i < pfn_count()

private:
    friend MessageError parse(const void* bytes, uint32_t size, Parsed& out);
    alignas(8) uint8_t raw_[max_message_size];
    MessageType type_ = MessageType::invalid;
    uint32_t size_ = 0;
};

// Checks the type and the length for it: at least the fixed part (Linux's own rule for the
// host's messages; later versions grew messages at their end), for GPADL messages the exact
// length of whole entries. Semantics (counts, ownership) are gpadl.hpp's and the channel's.
[[nodiscard]] MessageError parse(const void* bytes, uint32_t size, Parsed& out);

} // namespace vmbus
