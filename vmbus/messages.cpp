#include "vmbus/messages.hpp"

#include "hv/lib/bytes.hpp"

namespace vmbus {

namespace {

// A GPADL header carries at least one range descriptor, a body at least one PFN.
constexpr uint32_t gpadl_header_fixed = sizeof(GpadlHeader) + 8;
constexpr uint32_t gpadl_body_fixed = sizeof(GpadlBody);

// The fixed part of each type, indexed by type; 0 for types we do not accept (0, and the later
// ones: 18-20 unused, 21+ are hv_sock and channel-modify messages no device here needs yet).
constexpr uint32_t min_size[message_type_count] = {
    0,
    sizeof(OfferChannel),
    sizeof(RescindOffer),
    sizeof(RequestOffers),
    sizeof(AllOffersDelivered),
    sizeof(OpenChannel),
    sizeof(OpenResult),
    sizeof(CloseChannel),
    gpadl_header_fixed,
    gpadl_body_fixed + 8,
    sizeof(GpadlCreated),
    sizeof(GpadlTeardown),
    sizeof(GpadlTorndown),
    sizeof(RelidReleased),
    sizeof(InitiateContact),
    sizeof(VersionResponse),
    sizeof(Unload),
    sizeof(UnloadResponse),
};

} // namespace

const char* to_string(MessageError e) {
    switch (e) {
    case MessageError::ok: return "ok";
    case MessageError::too_short: return "shorter than a header";
    case MessageError::too_long: return "longer than a SynIC message";
    case MessageError::unknown_type: return "unknown type";
    case MessageError::below_minimum: return "shorter than its type";
    case MessageError::bad_length: return "not whole GPADL entries";
    }
    return "?";
}

MessageError parse(const void* bytes, uint32_t size, Parsed& out) {
    out.type_ = MessageType::invalid;
    out.size_ = 0;
    if (size < sizeof(MessageHeader))
        return MessageError::too_short;
    if (size > max_message_size)
        return MessageError::too_long;
    // One copy; everything below looks at the copy only.
    __builtin_memcpy(out.raw_, bytes, size);
    __builtin_memset(out.raw_ + size, 0, max_message_size - size);
    const uint32_t type = hv::bytes::load32(out.raw_);
    if (type >= message_type_count || min_size[type] == 0)
        return MessageError::unknown_type;
    if (size < min_size[type])
        return MessageError::below_minimum;
    const auto t = static_cast<MessageType>(type);
    // Range descriptors and PFNs are 8 bytes each, after a fixed part of 20 (header) or 16 (body).
    if (t == MessageType::gpadl_header && (size - sizeof(GpadlHeader)) % 8 != 0)
        return MessageError::bad_length;
    if (t == MessageType::gpadl_body && (size - gpadl_body_fixed) % 8 != 0)
        return MessageError::bad_length;
    out.type_ = t;
    out.size_ = size;
    return MessageError::ok;
}

uint32_t Parsed::range_byte_count() const {
    return type_ == MessageType::gpadl_header ? hv::bytes::load32(raw_ + sizeof(GpadlHeader)) : 0;
}

uint32_t Parsed::range_byte_offset() const {
    return type_ == MessageType::gpadl_header ? hv::bytes::load32(raw_ + sizeof(GpadlHeader) + 4) : 0;
}

uint32_t Parsed::pfn_count() const {
    if (type_ == MessageType::gpadl_header)
        return (size_ - gpadl_header_fixed) / 8;
    if (type_ == MessageType::gpadl_body)
        return (size_ - gpadl_body_fixed) / 8;
    return 0;
}

uint64_t Parsed::pfn(uint32_t i) const {
    const uint32_t first = type_ == MessageType::gpadl_header ? gpadl_header_fixed : gpadl_body_fixed;
    return i < pfn_count() ? hv::bytes::load64(raw_ + first + 8 * i) : 0;
}

} // namespace vmbus
