// A child's VMBus client: the guest end of the channel-management protocol as Linux's hv_vmbus
// drives it (HYPERV-FACTS "VMBus"), for our own test kernels and as a model of Linux against the
// server. Asynchronous: each call posts a message through the ClientTransport (platform.hpp) and
// returns; the root's answers arrive through on_message() (from the SIMP slot of SINT 2) and move
// the state on; a channel's signal arrives through on_event(relid) (its flag in SINT 2's SIEFP
// slot). Storage is fixed (client_limits). docs/vmbus.md, "Client".
#pragma once
#include <stdint.h>

#include "vmbus/messages.hpp"
#include "vmbus/platform.hpp"
#include "vmbus/ring.hpp"
#include "vmbus/ring_pair.hpp"

namespace vmbus {

namespace client_limits {
inline constexpr uint32_t max_channels = 32;   // offers kept; more are counted and ignored
inline constexpr uint32_t max_gpadls = 16;
// Relids index the 2048 event flags of a SIEFP slot; Linux drops offers at or above.
inline constexpr uint32_t max_relid = 2048;
} // namespace client_limits

// GPADL ids are the guest's; Linux starts counting here.
inline constexpr uint32_t first_gpadl_id = 0xe1e10;

class VmbusClient;

// An offered channel; once open, send() writes the outbound ring and signals the root (SignalEvent
// on the offer's connection id), receive() reads the inbound ring (RingPair).
class ClientChannel : public RingPair<ClientChannel> {
public:
    enum class State : uint8_t { free, offered, opening, open, open_failed, rescinded };

    [[nodiscard]] uint32_t relid() const { return relid_; }
    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] const Guid& class_id() const { return class_id_; }
    [[nodiscard]] const Guid& instance_id() const { return instance_id_; }
    [[nodiscard]] uint32_t connection_id() const { return connection_id_; }
    [[nodiscard]] uint32_t open_status() const { return open_status_; }
    // Signals from the root since the last take_events().
    [[nodiscard]] uint32_t take_events() {
        const uint32_t n = events_;
        events_ = 0;
        return n;
    }

private:
    friend class VmbusClient;
    friend class RingPair<ClientChannel>;
    [[nodiscard]] bool rings_live() const { return state_ == State::open; }
    void signal_peer();
    VmbusClient* client_ = nullptr;
    State state_ = State::free;
    uint32_t relid_ = 0;
    uint32_t connection_id_ = 0;
    uint32_t open_status_ = 0;
    uint32_t events_ = 0;
    Guid class_id_{};
    Guid instance_id_{};
};

struct ClientGpadl {
    enum class State : uint8_t { free, pending, created, failed, tearing_down };
    State state = State::free;
    uint32_t id = 0;
    uint32_t child_relid = 0;
    uint32_t pages = 0;
    uint32_t status = 0;   // GpadlCreated's
};

class VmbusClient {
public:
    enum class State : uint8_t { idle, contacting, connected, refused, unloading, unloaded };

    // target_vp: where the root sends messages and signals (Linux: the VP of CPU 0).
    VmbusClient(ClientTransport transport, uint32_t target_vp = 0);
    VmbusClient(const VmbusClient&) = delete;
    VmbusClient& operator=(const VmbusClient&) = delete;

    // InitiateContact with the newest version; each refusal tries the next in Linux's order
    // (version::linux_offers) until one is accepted or none is left (State::refused).
    [[nodiscard]] bool connect();
    // RequestOffers; offers() fills until offers_complete().
    [[nodiscard]] bool request_offers();
    // A GPADL of `pages` physically contiguous pages from first_pfn for channel relid: a header
    // and as many bodies as the PFNs need. Returns the id (gpadl(id) says when it is created), 0
    // when it cannot be posted.
    [[nodiscard]] uint32_t create_gpadl(uint32_t relid, uint64_t first_pfn, uint32_t pages);
    // Opens relid over a created GPADL covering `ring`: send_pages for the outbound ring, then
    // recv_pages for the inbound one (Linux's layout); both rings are initialised here.
    [[nodiscard]] bool open(uint32_t relid, uint32_t gpadl, uint8_t* ring, uint32_t send_pages, uint32_t recv_pages,
                            uint32_t target_vp = 0);
    // CloseChannel (no answer exists): the channel is offered again.
    [[nodiscard]] bool close(uint32_t relid);
    [[nodiscard]] bool teardown_gpadl(uint32_t gpadl);
    // After a rescind: RelIdReleased, and the channel's GPADLs are forgotten.
    [[nodiscard]] bool release(uint32_t relid);
    [[nodiscard]] bool unload();

    // A message from the root (SIMP slot payload and size). Unexpected ones are counted and ignored.
    void on_message(const void* bytes, uint32_t size);
    // The root signalled relid (its flag was set in SINT 2's event page).
    void on_event(uint32_t relid);

    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] uint32_t version() const { return version_; }
    [[nodiscard]] uint32_t message_connection() const { return msg_conn_; }
    [[nodiscard]] bool offers_complete() const { return offers_complete_; }
    [[nodiscard]] uint32_t offer_count() const;
    [[nodiscard]] ClientChannel* channel(uint32_t relid);
    // The first offer of a device class, or null.
    [[nodiscard]] ClientChannel* find(const Guid& class_id);
    [[nodiscard]] const ClientGpadl* gpadl(uint32_t id) const;
    [[nodiscard]] uint32_t ignored_messages() const { return ignored_; }
    [[nodiscard]] uint32_t dropped_offers() const { return dropped_offers_; }

private:
    friend class ClientChannel;
    [[nodiscard]] bool post_contact();
    template <class T> [[nodiscard]] bool post(const T& m) { return post_bytes(&m, sizeof m); }
    [[nodiscard]] bool post_bytes(const void* m, uint32_t size);
    void on_offer(const OfferChannel& o);
    void on_version(const VersionResponse& r);
    void forget_all();
    [[nodiscard]] ClientGpadl* gpadl_slot(uint32_t id);

    ClientTransport transport_;
    uint32_t target_vp_;
    State state_ = State::idle;
    uint32_t try_index_ = 0;   // into version::linux_offers
    uint32_t version_ = 0;
    uint32_t msg_conn_ = 0;
    bool offers_complete_ = false;
    uint32_t next_gpadl_ = first_gpadl_id;
    uint32_t ignored_ = 0;
    uint32_t dropped_offers_ = 0;
    ClientChannel channels_[client_limits::max_channels];
    ClientGpadl gpadls_[client_limits::max_gpadls];
};

} // namespace vmbus
