// The root's VMBus server for one child: the channel-management protocol (HYPERV-FACTS "VMBus")
// driven by the messages the child posts, answered through a ServerTransport (platform.hpp).
// Devices register as DeviceProviders; the server offers them, maps their rings when the child
// opens them and hands the provider a ServerChannel to move packets. Every message is hostile:
// each is parsed, checked against the connection's state and refused with the protocol's answer
// (a failure status) or dropped and recorded in a bounded log; storage is fixed (limits below).
// docs/vmbus.md, "Server", has the wiring and the rules.
#pragma once
#include <stdint.h>

#include "vmbus/bounded_log.hpp"
#include "vmbus/gpadl.hpp"
#include "vmbus/messages.hpp"
#include "vmbus/platform.hpp"
#include "vmbus/ring.hpp"
#include "vmbus/ring_pair.hpp"

namespace vmbus {

namespace server_limits {
// Channels offered to one child; relids 1..max_channels (relid 0 is never a channel: Linux skips
// event flag 0, and every relid must be below its 2048 event flags).
inline constexpr uint32_t max_channels = 32;
// GPADL storage: ring GPADLs up to 1 MiB each, plus a few of the largest (32 MiB) for buffers
// such as netvsc's receive buffer. About 312 KiB of PFNs per child.
inline constexpr uint32_t small_gpadls = 28;
inline constexpr uint32_t small_gpadl_pages = 256;
inline constexpr uint32_t large_gpadls = 4;
inline constexpr uint32_t large_gpadl_pages = max_gpadl_pages;
// Messages waiting for the child's SINT: all offers and AllOffersDelivered fit, with room for the
// answers a well-behaved child can have outstanding. Overflow closes the connection.
inline constexpr uint32_t outbox = max_channels + 16;
inline constexpr uint32_t log_entries = 32;
// Each ring of a channel: a control page and at least one data page.
inline constexpr uint32_t min_ring_pages = 2;
} // namespace server_limits

// The failure status of OpenResult and GpadlCreated (STATUS_UNSUCCESSFUL; Linux checks != 0).
inline constexpr uint32_t status_unsuccessful = 0xC0000001;

// Why the server refused or dropped something. Each entry in the log has one.
enum class Fault : uint8_t {
    malformed_message,     // detail: MessageError
    before_contact,        // a channel message while no version is negotiated
    wrong_connection,      // posted on a connection other than the negotiated one
    wrong_direction,       // a message only the root sends
    bad_target,            // InitiateContact names a VP or SINT that does not exist
    version_refused,       // value: the version (the child gets version_supported = 0)
    contact_while_connected, // InitiateContact on a live connection: everything was closed first
    offers_again,          // RequestOffers twice on one connection
    unknown_relid,         // value: the relid
    not_open,              // CloseChannel of a channel that is not open
    already_open,
    bad_vp,                // OpenChannel's target_vp
    gpadl_refused,         // detail: GpadlStatus; value: the GPADL id
    unknown_gpadl,
    gpadl_other_channel,   // a ring GPADL created for another relid
    gpadl_in_use,          // torn down while an open channel's ring: the channel was closed first
    ring_geometry,         // offset 0, whole pages, both rings >= min_ring_pages
    ring_not_contiguous,
    ring_overlap,          // the pages overlap an open channel's rings
    map_refused,
    ring_attach_failed,    // detail: RingStatus
    provider_refused,
    ring_protocol_error,   // the provider found the child broke the ring: channel closed
    not_rescinded,         // RelIdReleased for a channel the root did not rescind
    outbox_overflow,       // the child takes no messages while sending more: connection closed
};
[[nodiscard]] const char* to_string(Fault f);

struct LogEntry {
    Fault fault;
    uint8_t message_type;  // the message that caused it (0: none)
    uint8_t detail;        // per Fault
    uint32_t value;        // relid, GPADL id or version
};

// The last log_entries faults, oldest overwritten; total counts all.
using ServerLog = BoundedLog<LogEntry, server_limits::log_entries, &LogEntry::fault>;

class ServerChannel;

// A device the root offers. The server keeps the pointer: it must outlive the registration.
// Callbacks run inside VmbusServer calls; they may use the ServerChannel, not the server.
struct DeviceProvider {
    Guid class_id;       // OfferChannel.interface_type: which driver binds
    Guid instance_id;    // OfferChannel.interface_instance
    const char* name;    // for the root's logs
    void* context;
    // The child opened the channel; its rings are attached. False refuses the open.
    bool (*on_open)(void* context, ServerChannel& channel);
    // The channel closed (the child's CloseChannel, a rescind, unload, or a fault); the rings are
    // unmapped right after.
    void (*on_close)(void* context, ServerChannel& channel);
    // The child signalled: drain channel.receive(). False: the child broke the ring protocol and
    // the server closes the channel.
    bool (*on_signal)(void* context, ServerChannel& channel);
};

class VmbusServer;

// One channel as its provider sees it: receive() reads the child's outbound ring, send() writes
// its inbound ring and signals the child (RingPair).
class ServerChannel : public RingPair<ServerChannel> {
public:
    enum class State : uint8_t {
        free,
        registered,  // a device, not yet offered on this connection
        offered,
        open,
        broken,      // the root closed it (ring fault, GPADL torn down); the child must close it
        rescinded,   // RescindChannelOffer sent; RelIdReleased frees the relid
    };

    [[nodiscard]] uint32_t relid() const { return relid_; }
    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] const DeviceProvider* device() const { return device_; }
    [[nodiscard]] uint32_t target_vp() const { return target_vp_; }
    [[nodiscard]] const uint8_t* user_data() const { return user_data_; }   // OpenChannel's 120 bytes
    // The ring GPADL of the open channel: its pages [ring_first_pfn, + ring_pages), the inbound
    // ring from page downstream_offset.
    [[nodiscard]] uint32_t ring_gpadl() const { return ring_gpadl_; }
    [[nodiscard]] uint64_t ring_first_pfn() const { return first_pfn_; }
    [[nodiscard]] uint32_t ring_pages() const { return pages_; }
    [[nodiscard]] uint32_t downstream_offset() const { return downstream_; }
    void signal_child() { signal_peer(); }

private:
    friend class VmbusServer;
    friend class RingPair<ServerChannel>;
    [[nodiscard]] bool rings_live() const { return state_ == State::open; }
    void signal_peer();
    VmbusServer* server_ = nullptr;
    const DeviceProvider* device_ = nullptr;
    State state_ = State::free;
    uint32_t relid_ = 0;
    uint32_t target_vp_ = 0;
    uint32_t ring_gpadl_ = 0;
    uint64_t first_pfn_ = 0;   // the ring GPADL's pages [first_pfn_, first_pfn_ + pages_)
    uint32_t pages_ = 0;
    uint32_t downstream_ = 0;
    uint8_t* base_ = nullptr;  // the root's mapping, when open
    uint8_t user_data_[sizeof(OpenChannel::user_data)] = {};
};

struct ServerConfig {
    uint32_t vp_count = 1;   // the child's VPs: InitiateContact and OpenChannel name one below it
    // VersionResponse.msg_conn_id from 5.0: the connection the child posts on after contact.
    uint32_t message_connection = connection::message_v5;
    // Channel relid's offer carries connection id event_connection_base + relid: the connection
    // the child signals it on (the root connects one per channel to its event port).
    uint32_t event_connection_base = 0x100;
};

class VmbusServer {
public:
    enum class State : uint8_t { disconnected, connected, faulted };

    VmbusServer(ServerTransport transport, Platform platform, ServerConfig config = {});
    VmbusServer(const VmbusServer&) = delete;
    VmbusServer& operator=(const VmbusServer&) = delete;

    // The root's side. add_device returns the relid, 0 when the table is full; a device added on
    // a connection that already has its offers is offered at once.
    [[nodiscard]] uint32_t add_device(const DeviceProvider* device);
    // Closes the channel if open and sends RescindChannelOffer; false for an unknown relid.
    bool rescind(uint32_t relid);
    // A message the child posted on `connection_id` (SynIC payload bytes, payload size).
    void receive(uint32_t connection_id, const void* bytes, uint32_t size);
    // The child signalled `relid` (SignalEvent on connection_for(relid)).
    void signalled(uint32_t relid);
    // Retries queued messages (after the child took some: its EOM, or periodically).
    void flush();
    // Forgets the child (it was stopped or restarted): closes every channel, keeps the devices.
    void reset();

    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] uint32_t version() const { return version_; }
    [[nodiscard]] uint32_t target_vp() const { return vp_; }
    [[nodiscard]] uint8_t sint() const { return sint_; }
    [[nodiscard]] bool offers_sent() const { return offers_sent_; }
    [[nodiscard]] const ServerChannel* channel(uint32_t relid) const;
    // Bytes waiting in the open channel's outbound ring (the child's), 0 when not open.
    [[nodiscard]] uint32_t waiting(uint32_t relid);
    [[nodiscard]] uint32_t connection_for(uint32_t relid) const { return config_.event_connection_base + relid; }
    // The relid a SignalEvent connection id belongs to, 0 if none.
    [[nodiscard]] uint32_t relid_for_connection(uint32_t connection_id) const;
    [[nodiscard]] const ServerLog& log() const { return log_; }
    [[nodiscard]] uint32_t queued() const { return out_count_; }
    [[nodiscard]] uint64_t spurious_signals() const { return spurious_signals_; }

private:
    friend class ServerChannel;
    struct Outgoing {
        alignas(8) uint8_t bytes[max_message_size];
        uint32_t size;
    };

    void on_contact(uint32_t connection_id, const InitiateContact& c);
    void on_request_offers();
    void on_gpadl(const Parsed& m);
    void on_teardown(const GpadlTeardown& t);
    void on_open(const OpenChannel& o);
    void on_close(const CloseChannel& c);
    void on_relid_released(const RelidReleased& r);
    void on_unload();
    // OpenChannel's checks: the ring GPADL, or false and why.
    [[nodiscard]] bool check_open(const OpenChannel& o, const Gpadl*& ring, Fault& why) const;

    [[nodiscard]] ServerChannel* find(uint32_t relid);
    void offer(ServerChannel& ch);
    void close_rings(ServerChannel& ch);   // provider's on_close, unmap
    void release_gpadls_of(uint32_t relid);
    // Every channel closed, every GPADL released; offers forgotten (rescinded relids freed).
    // Queued messages stay (UnloadResponse is among them).
    void drop_connection();
    void clear_outbox();
    void fault(Fault f, uint8_t type, uint32_t value, uint8_t detail = 0);
    template <class T> void send(const T& m) { send_bytes(&m, sizeof m); }
    void send_bytes(const void* m, uint32_t size);

    ServerTransport transport_;
    ServerConfig config_;
    State state_ = State::disconnected;
    uint32_t version_ = 0;
    uint32_t vp_ = 0;
    uint8_t sint_ = 0;
    bool offers_sent_ = false;
    ServerChannel channels_[server_limits::max_channels];
    Gpadl gpadl_slots_[server_limits::small_gpadls + server_limits::large_gpadls];
    GpadlTable gpadls_;
    Outgoing outbox_[server_limits::outbox];
    uint32_t out_head_ = 0;
    uint32_t out_count_ = 0;
    ServerLog log_;
    uint64_t spurious_signals_ = 0;
    // Left uninitialised: GpadlTable writes PFNs before it reads them.
    uint64_t small_pfns_[server_limits::small_gpadls][server_limits::small_gpadl_pages];
    uint64_t large_pfns_[server_limits::large_gpadls][server_limits::large_gpadl_pages];
};

} // namespace vmbus
