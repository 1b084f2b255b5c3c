// Hyper-V Integration Component (IC) utility protocol: the heartbeat and shutdown channels.
// Each is a VMBus channel of its own class whose packets (inband) carry a pipe header, an IC
// message header and a body. The host (our root) sends requests, negotiate first; the guest
// answers each in place (the same bytes, RESPONSE flag set) with the request's transaction id.
// The layout and the guest's behaviour are those of Linux (include/linux/hyperv.h,
// drivers/hv/hv_util.c, vmbus_prep_negotiate_resp in drivers/hv/channel_mgmt.c).
// Both ends are pure functions over packets (ring.hpp's Packet and OutPacket) and caller buffers,
// so a root DeviceProvider and a child's ClientChannel wrap them. Every peer input is hostile.
// docs/vmbus.md, "Utilities (heartbeat, shutdown)".
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "vmbus/bounded_log.hpp"
#include "vmbus/messages.hpp"
#include "vmbus/ring.hpp"

namespace vmbus::ic {

// Class GUIDs in wire byte order (the first three fields little endian, as OfferChannel carries
// them). Heartbeat 57164f39-9115-4e78-ab55-382f3bd5422d, shutdown 0e0b6031-5213-4934-818b-
// 38d90ced39db (Linux: HV_HEART_BEAT_GUID, HV_SHUTDOWN_GUID).
inline constexpr Guid heartbeat_class{
    {0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d}};
inline constexpr Guid shutdown_class{
    {0x31, 0x60, 0x0b, 0x0e, 0x13, 0x52, 0x34, 0x49, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb}};

// Linux: struct vmbuspipe_hdr. A pipe packet of type data (1) and the bytes after this header;
// Linux's guest neither checks nor changes it, and echoes it in its answer.
struct PipeHeader {
    uint32_t flags;     // 0x00
    uint32_t msgsize;   // 0x04
};
inline constexpr uint32_t pipe_type_data = 1;

// Linux: struct ic_version.
struct IcVersion {
    uint16_t major;
    uint16_t minor;
};

// Linux: struct icmsg_hdr, right after the pipe header.
struct IcMessageHeader {
    IcVersion framework;     // 0x00 icverframe
    uint16_t type;           // 0x04 icmsgtype
    IcVersion message;       // 0x06 icvermsg
    uint16_t size;           // 0x0a icmsgsize: the body's bytes
    uint32_t status;         // 0x0c
    uint8_t transaction;     // 0x10 ictransaction_id
    uint8_t flags;           // 0x11 icflags
    uint8_t reserved[2];
};

// Every IC packet's data starts with both (Linux: ICMSG_HDR, 28 bytes).
struct Header {
    PipeHeader pipe;         // 0x00
    IcMessageHeader message;   // 0x08
};

// Linux: struct icmsg_negotiate; count_framework + count_message versions follow, framework first.
struct NegotiateBody {
    uint16_t framework_count;  // 0x00 icframe_vercnt
    uint16_t message_count;    // 0x02 icmsg_vercnt
    uint32_t reserved;         // 0x04
};

// Linux: struct heartbeat_msg_data. The guest answers with seq_num + 1.
struct HeartbeatBody {
    uint64_t seq_num;          // 0x00 (at packet offset 28: read and written with memcpy)
    uint32_t reserved[8];
};

// Linux: struct shutdown_msg_data.
struct ShutdownBody {
    uint32_t reason_code;      // 0x00
    uint32_t timeout_seconds;  // 0x04
    uint32_t flags;            // 0x08: shutdown_flag
    uint8_t display_message[2048];
};

static_assert(sizeof(PipeHeader) == 8);
static_assert(sizeof(IcVersion) == 4);
static_assert(sizeof(IcMessageHeader) == 20);
static_assert(offsetof(IcMessageHeader, type) == 0x04 && offsetof(IcMessageHeader, message) == 0x06);
static_assert(offsetof(IcMessageHeader, size) == 0x0a && offsetof(IcMessageHeader, status) == 0x0c);
static_assert(offsetof(IcMessageHeader, transaction) == 0x10 && offsetof(IcMessageHeader, flags) == 0x11);
static_assert(sizeof(Header) == 28 && offsetof(Header, message) == 8);
static_assert(sizeof(NegotiateBody) == 8);
static_assert(sizeof(HeartbeatBody) == 40);
static_assert(offsetof(ShutdownBody, flags) == 8 && sizeof(ShutdownBody) == 2060);

inline constexpr uint32_t header_size = sizeof(Header);
inline constexpr uint32_t negotiate_versions_at = header_size + sizeof(NegotiateBody);   // 36

// Linux: ICMSGTYPE_*.
namespace message_type {
inline constexpr uint16_t negotiate = 0;
inline constexpr uint16_t heartbeat = 1;
inline constexpr uint16_t kvp_exchange = 2;
inline constexpr uint16_t shutdown = 3;
inline constexpr uint16_t timesync = 4;
inline constexpr uint16_t vss = 5;
} // namespace message_type

// Linux: ICMSGHDRFLAG_*.
namespace header_flag {
inline constexpr uint8_t transaction = 1;
inline constexpr uint8_t request = 2;
inline constexpr uint8_t response = 4;
} // namespace header_flag

// Linux: HV_S_OK, HV_E_FAIL.
inline constexpr uint32_t status_ok = 0;
inline constexpr uint32_t status_fail = 0x80004005;

// shutdown_msg_data.flags as hv_util.c reads them: 0 shut down, 2 restart, 4 hibernate; bit 0 asks
// for it by force. Anything else is refused with status_fail.
namespace shutdown_flag {
inline constexpr uint32_t shutdown = 0;
inline constexpr uint32_t force = 1;
inline constexpr uint32_t restart = 2;
inline constexpr uint32_t hibernate = 4;
} // namespace shutdown_flag

// Versions as (major << 16) | minor, like Linux's tables.
[[nodiscard]] constexpr uint32_t make_version(uint16_t major, uint16_t minor) { return uint32_t{major} << 16 | minor; }

enum class Kind : uint8_t { heartbeat, shutdown };

// A list of versions, preferred first. At most max_versions in a list this end offers or accepts.
struct Versions {
    const uint32_t* list;
    uint32_t count;
};
inline constexpr uint32_t max_versions = 8;

// What Linux supports (hv_util.c: fw_versions, hb_versions, sd_versions; UTIL_FW_VERSION 3.0,
// UTIL_WS2K8_FW_VERSION 1.0): both ends here offer and accept exactly these by default.
namespace versions {
inline constexpr uint32_t framework[] = {make_version(3, 0), make_version(1, 0)};
inline constexpr uint32_t heartbeat[] = {make_version(3, 0), make_version(1, 0)};
inline constexpr uint32_t shutdown[] = {make_version(3, 2), make_version(3, 1), make_version(3, 0), make_version(1, 0)};
[[nodiscard]] constexpr Versions framework_list() { return {framework, 2}; }
[[nodiscard]] constexpr Versions message_list(Kind k) {
    return k == Kind::heartbeat ? Versions{heartbeat, 2} : Versions{shutdown, 4};
}
} // namespace versions

// Linux refuses a negotiate request naming more versions than this per list
// (IC_VERSION_NEGOTIATION_MAX_VER_COUNT).
inline constexpr uint32_t linux_max_version_count = 100;

// Why an end refused (host) or dropped/failed (guest) something. Each log entry has one.
enum class IcFault : uint8_t {
    // Both ends.
    too_short,             // fewer bytes than the pipe and message headers
    too_short_for_type,    // the body its type needs is not there
    no_common_version,     // negotiation found no common version (counts 0): channel unusable
    // Host: the guest's responses.
    wrong_packet_type,     // not an inband data packet; value: the packet type
    pipe_size,             // the pipe header's msgsize runs past the packet; value: msgsize
    message_size,          // icmsgsize runs past the packet; value: icmsgsize
    not_response,          // RESPONSE flag clear; value: icflags
    unexpected,            // no request outstanding
    wrong_transaction,     // packet or header transaction id not the outstanding request's
    wrong_type,            // not the outstanding request's type; value: the type
    bad_version_count,     // negotiate answer without exactly one version per list; value: counts
    version_not_offered,   // negotiate answer names a version we did not offer; value: the version
    wrong_sequence,        // heartbeat answer not seq + 1 (a stale or forged beat); value: low 32 bits
    failure_status,        // a heartbeat answered with a failure status; value: the status
    not_negotiated,        // a heartbeat or shutdown request asked for before negotiation
    // Guest: the host's requests.
    too_large,             // larger than the caller's answer buffer: dropped (value: size)
    bad_negotiate,         // vercnt over linux_max_version_count or past the packet: answered with counts 0
    unknown_type,          // answered with status_fail; value: the type
    unsupported_shutdown,  // shutdown flags other than 0-3 (hibernate included): status_fail; value: flags
};
[[nodiscard]] const char* to_string(IcFault f);

struct IcLogEntry {
    IcFault fault;
    uint16_t message_type;   // the IC message type concerned (0xffff: unknown, too short)
    uint32_t value;          // per IcFault
};

// The last log_entries faults, oldest overwritten; total counts all (like ServerLog).
using IcLog = BoundedLog<IcLogEntry, 16, &IcLogEntry::fault>;

// The host's request packets are at most this long (a shutdown request); a buffer of this size
// holds any of them.
inline constexpr uint32_t max_request_size = header_size + sizeof(ShutdownBody);

// A request built into a caller's buffer: send `size` bytes of it with `packet`. size 0: nothing
// to send (wrong state, kind, or a buffer too small).
struct Request {
    OutPacket packet;
    uint32_t size;
};

struct ShutdownRequest {
    uint32_t flags = shutdown_flag::shutdown;   // shutdown_flag: shutdown or restart, | force
    uint32_t reason_code = 0;
    uint32_t timeout_seconds = 0;
};

// What one response did.
enum class HostEvent : uint8_t {
    refused,             // logged; state unchanged unless the fault consumed the request (docs)
    negotiated,          // framework_version() and message_version() agreed
    no_common_version,   // the guest found none: state failed
    heartbeat,           // a beat answered correctly: last_seq_answered() moved
    shutdown_accepted,   // status_ok: the guest will shut down or restart
    shutdown_declined,   // another status: shutdown_status() has it
};

// The host's end of one IC channel (our root's provider holds one per channel). Not thread-safe.
class IcHost {
public:
    enum class State : uint8_t { idle, negotiating, ready, failed };

    explicit IcHost(Kind kind) : IcHost(kind, versions::framework_list(), versions::message_list(kind)) {}
    // Lists are kept by pointer (they must outlive the object), preferred first, each 1..max_versions
    // long; a longer list is cut to max_versions, an empty one leaves the host failed.
    IcHost(Kind kind, Versions framework, Versions message);

    // The negotiate request offering our lists; from idle (or again after reset()).
    [[nodiscard]] Request build_negotiate(uint8_t* out, uint32_t capacity);
    // A heartbeat carrying seq (ready, heartbeat channel). A beat still unanswered counts as missed.
    [[nodiscard]] Request build_heartbeat(uint64_t seq, uint8_t* out, uint32_t capacity);
    // A shutdown request (ready, shutdown channel); the display message is left empty.
    [[nodiscard]] Request build_shutdown(const ShutdownRequest& r, uint8_t* out, uint32_t capacity);
    // One packet the guest sent on this channel (copied out of the ring: ring.hpp).
    HostEvent on_response(const Packet& p);
    // The caller's timer gave up on the outstanding request: a heartbeat counts as missed, a
    // negotiate leaves the channel failed. False when nothing was outstanding.
    bool expire();
    // The channel closed or reopened: back to idle, counters and log kept.
    void reset();

    [[nodiscard]] Kind kind() const { return kind_; }
    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] uint32_t framework_version() const { return framework_; }
    [[nodiscard]] uint32_t message_version() const { return message_; }
    [[nodiscard]] bool outstanding() const { return outstanding_; }
    [[nodiscard]] uint64_t heartbeats_answered() const { return answered_; }
    [[nodiscard]] bool any_seq_answered() const { return answered_ != 0; }
    [[nodiscard]] uint64_t last_seq_answered() const { return last_seq_; }   // the request's seq
    [[nodiscard]] uint64_t missed() const { return missed_; }
    [[nodiscard]] bool shutdown_answered() const { return shutdown_answered_; }
    [[nodiscard]] uint32_t shutdown_status() const { return shutdown_status_; }
    [[nodiscard]] const IcLog& log() const { return log_; }

private:
    [[nodiscard]] Request start(uint16_t type, uint32_t body_size, uint8_t* out, uint32_t capacity);
    [[nodiscard]] bool offered(const Versions& v, uint32_t version) const;
    HostEvent on_negotiate(const Packet& p, const Header& h);
    HostEvent on_heartbeat(const Packet& p);
    HostEvent on_shutdown(const Header& h);
    HostEvent refuse(IcFault f, uint16_t type, uint32_t value);
    void abandon();   // the outstanding request is given up

    Kind kind_;
    Versions framework_list_;
    Versions message_list_;
    State state_ = State::idle;
    uint32_t framework_ = 0;
    uint32_t message_ = 0;
    bool outstanding_ = false;
    uint16_t out_type_ = 0;     // the outstanding request's type, transaction and seq
    uint64_t out_trans_ = 0;
    uint64_t out_seq_ = 0;
    uint64_t next_trans_ = 1;
    uint64_t answered_ = 0;
    uint64_t last_seq_ = 0;
    uint64_t missed_ = 0;
    bool shutdown_answered_ = false;
    uint32_t shutdown_status_ = 0;
    IcLog log_;
};

// An answer built into a caller's buffer: send `size` bytes with `packet` (inband, the request's
// transaction id). size 0: no answer (Linux drops the request without one).
struct Answer {
    OutPacket packet;
    uint32_t size;
};

// The guest's end of one IC channel, answering as Linux's hv_util does (docs/vmbus.md lists where
// and why it differs). For our child test kernels. Not thread-safe.
class IcGuest {
public:
    explicit IcGuest(Kind kind) : IcGuest(kind, versions::framework_list(), versions::message_list(kind)) {}
    // Lists as for IcHost: kept by pointer, preferred first (the first of ours the host offers wins).
    IcGuest(Kind kind, Versions framework, Versions message);

    // Answers one request packet: the request's data copied to out, changed in place. out needs
    // at least p.data_size bytes (else the request is dropped: IcFault::too_large).
    [[nodiscard]] Answer answer(const Packet& p, uint8_t* out, uint32_t capacity);

    [[nodiscard]] Kind kind() const { return kind_; }
    [[nodiscard]] bool negotiated() const { return negotiated_; }
    [[nodiscard]] uint32_t framework_version() const { return framework_; }
    [[nodiscard]] uint32_t message_version() const { return message_; }
    [[nodiscard]] uint64_t heartbeats() const { return heartbeats_; }
    [[nodiscard]] uint64_t last_seq() const { return last_seq_; }   // the seq of the last request
    [[nodiscard]] bool shutdown_requested() const { return shutdown_requested_; }
    [[nodiscard]] const ShutdownRequest& shutdown() const { return shutdown_; }   // the last accepted
    [[nodiscard]] const IcLog& log() const { return log_; }

private:
    void negotiate(uint8_t* out, uint32_t size);
    [[nodiscard]] bool pick(const Versions& ours, const uint8_t* theirs, uint32_t count, uint32_t& chosen) const;
    void on_shutdown(uint8_t* out, uint32_t& status);
    void fault(IcFault f, uint16_t type, uint32_t value) { log_.add(IcLogEntry{f, type, value}); }

    Kind kind_;
    Versions framework_list_;
    Versions message_list_;
    bool negotiated_ = false;
    uint32_t framework_ = 0;
    uint32_t message_ = 0;
    uint64_t heartbeats_ = 0;
    uint64_t last_seq_ = 0;
    bool shutdown_requested_ = false;
    ShutdownRequest shutdown_{};
    IcLog log_;
};

} // namespace vmbus::ic
