#include "vmbus/client.hpp"

#include "vmbus/gpadl.hpp"

namespace vmbus {

namespace {

// PFNs that fit one SynIC message after a GPADL header and its range descriptor, or a body.
constexpr uint32_t header_pfns = (max_message_size - sizeof(GpadlHeader) - 8) / 8;
constexpr uint32_t body_pfns = (max_message_size - sizeof(GpadlBody)) / 8;
static_assert(header_pfns == 26 && body_pfns == 28);

} // namespace

// --- ClientChannel ---

void ClientChannel::signal_peer() {
    const ClientTransport& t = client_->transport_;
    if (t.signal != nullptr)
        t.signal(t.context, connection_id_);
}

// --- VmbusClient ---

VmbusClient::VmbusClient(ClientTransport transport, uint32_t target_vp) : transport_(transport), target_vp_(target_vp) {
    for (ClientChannel& ch : channels_)
        ch.client_ = this;
}

bool VmbusClient::post_bytes(const void* m, uint32_t size) {
    return transport_.post != nullptr && transport_.post(transport_.context, msg_conn_, m, size);
}

bool VmbusClient::post_contact() {
    const uint32_t v = version::linux_offers[try_index_];
    auto m = make_message<InitiateContact>();
    m.version_requested = v;
    m.target_vcpu = target_vp_;
    // From 5.0 the guest names the SINT the root answers on (VTL 0); before, it is fixed at 2 and
    // the field is an interrupt page this client does not use (offers carry connection ids).
    if (v >= version::v5_0)
        m.interrupt_page_or_sint = message_sint;
    msg_conn_ = connection::message_for(v);
    return post(m);
}

bool VmbusClient::connect() {
    if (state_ == State::contacting || state_ == State::connected || state_ == State::unloading)
        return false;
    forget_all();
    try_index_ = 0;
    version_ = 0;
    state_ = State::contacting;
    if (post_contact())
        return true;
    state_ = State::idle;
    return false;
}

void VmbusClient::on_version(const VersionResponse& r) {
    if (r.version_supported != 0) {
        version_ = version::linux_offers[try_index_];
        // From 5.0 the root names the connection for everything after contact.
        msg_conn_ = version_ >= version::v5_0 ? r.msg_conn_id : connection::message_legacy;
        state_ = State::connected;
        return;
    }
    if (++try_index_ == sizeof version::linux_offers / sizeof version::linux_offers[0] || !post_contact())
        state_ = State::refused;
}

bool VmbusClient::request_offers() {
    if (state_ != State::connected)
        return false;
    offers_complete_ = false;
    return post(make_message<RequestOffers>());
}

uint32_t VmbusClient::offer_count() const {
    uint32_t n = 0;
    for (const ClientChannel& ch : channels_)
        n += ch.state_ != ClientChannel::State::free;
    return n;
}

ClientChannel* VmbusClient::channel(uint32_t relid) {
    for (ClientChannel& ch : channels_)
        if (ch.state_ != ClientChannel::State::free && ch.relid_ == relid)
            return &ch;
    return nullptr;
}

ClientChannel* VmbusClient::find(const Guid& class_id) {
    for (ClientChannel& ch : channels_)
        if (ch.state_ != ClientChannel::State::free && ch.state_ != ClientChannel::State::rescinded &&
            __builtin_memcmp(&ch.class_id_, &class_id, sizeof class_id) == 0)
            return &ch;
    return nullptr;
}

ClientGpadl* VmbusClient::gpadl_slot(uint32_t id) {
    for (ClientGpadl& g : gpadls_)
        if (g.state != ClientGpadl::State::free && g.id == id)
            return &g;
    return nullptr;
}

const ClientGpadl* VmbusClient::gpadl(uint32_t id) const {
    return const_cast<VmbusClient*>(this)->gpadl_slot(id);
}

void VmbusClient::on_offer(const OfferChannel& o) {
    // Linux drops offers whose relid has no event flag, and relid 0 is never a channel.
    if (o.child_relid == 0 || o.child_relid >= client_limits::max_relid || channel(o.child_relid) != nullptr) {
        ignored_++;
        return;
    }
    for (ClientChannel& ch : channels_) {
        if (ch.state_ != ClientChannel::State::free)
            continue;
        ch.state_ = ClientChannel::State::offered;
        ch.relid_ = o.child_relid;
        ch.connection_id_ = o.connection_id;
        ch.class_id_ = o.interface_type;
        ch.instance_id_ = o.interface_instance;
        ch.events_ = 0;
        return;
    }
    dropped_offers_++;
}

uint32_t VmbusClient::create_gpadl(uint32_t relid, uint64_t first_pfn, uint32_t pages) {
    const ClientChannel* ch = channel(relid);
    if (state_ != State::connected || ch == nullptr || ch->state_ == ClientChannel::State::rescinded || pages == 0 ||
        pages > max_gpadl_pages)
        return 0;
    ClientGpadl* g = nullptr;
    for (ClientGpadl& s : gpadls_)
        if (g == nullptr && s.state == ClientGpadl::State::free)
            g = &s;
    if (g == nullptr)
        return 0;
    const uint32_t id = next_gpadl_++;
    *g = ClientGpadl{ClientGpadl::State::pending, id, relid, pages, 0};

    // The header: one range of the whole buffer, then as many PFNs as fit.
    alignas(8) uint8_t m[max_message_size];
    auto h = make_message<GpadlHeader>();
    h.child_relid = relid;
    h.gpadl = id;
    h.range_buflen = static_cast<uint16_t>(8 + 8 * pages);
    h.range_count = 1;
    __builtin_memcpy(m, &h, sizeof h);
    const uint32_t byte_count = pages * page_size;
    const uint32_t byte_offset = 0;
    __builtin_memcpy(m + sizeof h, &byte_count, 4);
    __builtin_memcpy(m + sizeof h + 4, &byte_offset, 4);
    uint32_t sent = 0;
    uint32_t size = sizeof h + 8;
    for (; sent < pages && sent < header_pfns; sent++, size += 8) {
        const uint64_t pfn = first_pfn + sent;
        __builtin_memcpy(m + size, &pfn, 8);
    }
    bool ok = post_bytes(m, size);
    // Bodies with the rest (Linux leaves message_number 0).
    while (ok && sent < pages) {
        auto b = make_message<GpadlBody>();
        b.gpadl = id;
        __builtin_memcpy(m, &b, sizeof b);
        size = sizeof b;
        for (uint32_t i = 0; i < body_pfns && sent < pages; i++, sent++, size += 8) {
            const uint64_t pfn = first_pfn + sent;
            __builtin_memcpy(m + size, &pfn, 8);
        }
        ok = post_bytes(m, size);
    }
    if (!ok) {
        // The root may hold part of it; the id is never reused.
        g->state = ClientGpadl::State::failed;
        return 0;
    }
    return id;
}

bool VmbusClient::open(uint32_t relid, uint32_t gpadl_id, uint8_t* ring, uint32_t send_pages, uint32_t recv_pages,
                       uint32_t target_vp) {
    ClientChannel* ch = channel(relid);
    const ClientGpadl* g = gpadl(gpadl_id);
    if (state_ != State::connected || ch == nullptr || ring == nullptr || g == nullptr ||
        g->state != ClientGpadl::State::created || g->child_relid != relid || send_pages < 2 || recv_pages < 2 ||
        g->pages != send_pages + recv_pages)
        return false;
    if (ch->state_ != ClientChannel::State::offered && ch->state_ != ClientChannel::State::open_failed)
        return false;
    const RingMemory out{reinterpret_cast<RingControl*>(ring), ring + page_size, (send_pages - 1) * page_size};
    uint8_t* down = ring + uint64_t{send_pages} * page_size;
    const RingMemory in{reinterpret_cast<RingControl*>(down), down + page_size, (recv_pages - 1) * page_size};
    // This end created both rings: fresh indices (and feat_pending_send_sz) on each.
    ch->set_rings(in, out);
    RingWriter fresh_in(in);
    if (ch->writer_.init() != RingStatus::ok || fresh_in.init() != RingStatus::ok ||
        ch->reader_.attach() != RingStatus::ok)
        return false;
    auto m = make_message<OpenChannel>();
    m.child_relid = relid;
    m.open_id = relid;   // Linux's choice; OpenResult echoes it
    m.ring_gpadl = gpadl_id;
    m.target_vp = target_vp;
    m.downstream_offset = send_pages;
    if (!post(m))
        return false;
    ch->state_ = ClientChannel::State::opening;
    ch->open_status_ = 0;
    return true;
}

bool VmbusClient::close(uint32_t relid) {
    ClientChannel* ch = channel(relid);
    if (state_ != State::connected || ch == nullptr || ch->state_ != ClientChannel::State::open)
        return false;
    auto m = make_message<CloseChannel>();
    m.child_relid = relid;
    if (!post(m))
        return false;
    ch->state_ = ClientChannel::State::offered;
    ch->drop_rings();
    return true;
}

bool VmbusClient::teardown_gpadl(uint32_t id) {
    ClientGpadl* g = gpadl_slot(id);
    if (state_ != State::connected || g == nullptr || g->state == ClientGpadl::State::tearing_down)
        return false;
    if (g->state != ClientGpadl::State::created) {
        g->state = ClientGpadl::State::free;   // the root kept nothing of a refused GPADL
        return true;
    }
    auto m = make_message<GpadlTeardown>();
    m.child_relid = g->child_relid;
    m.gpadl = id;
    if (!post(m))
        return false;
    g->state = ClientGpadl::State::tearing_down;
    return true;
}

bool VmbusClient::release(uint32_t relid) {
    ClientChannel* ch = channel(relid);
    if (state_ != State::connected || ch == nullptr || ch->state_ != ClientChannel::State::rescinded)
        return false;
    auto m = make_message<RelidReleased>();
    m.child_relid = relid;
    if (!post(m))
        return false;
    for (ClientGpadl& g : gpadls_)
        if (g.child_relid == relid)
            g.state = ClientGpadl::State::free;
    ch->state_ = ClientChannel::State::free;
    return true;
}

bool VmbusClient::unload() {
    if (state_ != State::connected || !post(make_message<Unload>()))
        return false;
    state_ = State::unloading;
    return true;
}

void VmbusClient::forget_all() {
    for (ClientChannel& ch : channels_) {
        ch.state_ = ClientChannel::State::free;
        ch.drop_rings();
    }
    for (ClientGpadl& g : gpadls_)
        g.state = ClientGpadl::State::free;
    offers_complete_ = false;
}

void VmbusClient::on_event(uint32_t relid) {
    ClientChannel* ch = channel(relid);
    if (ch != nullptr)
        ch->events_++;
}

void VmbusClient::on_message(const void* bytes, uint32_t size) {
    Parsed m;
    if (parse(bytes, size, m) != MessageError::ok) {
        ignored_++;
        return;
    }
    if (const auto* r = m.as<VersionResponse>(); r != nullptr && state_ == State::contacting) {
        on_version(*r);
        return;
    }
    if (m.as<UnloadResponse>() != nullptr && state_ == State::unloading) {
        forget_all();
        state_ = State::unloaded;
        return;
    }
    if (state_ != State::connected) {
        ignored_++;
        return;
    }
    if (const auto* o = m.as<OfferChannel>()) {
        on_offer(*o);
    } else if (m.as<AllOffersDelivered>() != nullptr) {
        offers_complete_ = true;
    } else if (const auto* c = m.as<GpadlCreated>()) {
        ClientGpadl* g = gpadl_slot(c->gpadl);
        if (g == nullptr || g->state != ClientGpadl::State::pending || g->child_relid != c->child_relid) {
            ignored_++;
            return;
        }
        g->status = c->status;
        g->state = c->status == 0 ? ClientGpadl::State::created : ClientGpadl::State::failed;
    } else if (const auto* t = m.as<GpadlTorndown>()) {
        ClientGpadl* g = gpadl_slot(t->gpadl);
        if (g == nullptr || g->state != ClientGpadl::State::tearing_down) {
            ignored_++;
            return;
        }
        g->state = ClientGpadl::State::free;
    } else if (const auto* r = m.as<OpenResult>()) {
        ClientChannel* ch = channel(r->child_relid);
        if (ch == nullptr || ch->state_ != ClientChannel::State::opening || r->open_id != ch->relid_) {
            ignored_++;
            return;
        }
        ch->open_status_ = r->status;
        ch->state_ = r->status == 0 ? ClientChannel::State::open : ClientChannel::State::open_failed;
    } else if (const auto* x = m.as<RescindOffer>()) {
        ClientChannel* ch = channel(x->child_relid);
        if (ch == nullptr) {
            ignored_++;
            return;
        }
        // The root no longer serves it: stop using the rings; release() gives the relid back.
        ch->state_ = ClientChannel::State::rescinded;
        ch->drop_rings();
    } else {
        ignored_++;
    }
}

} // namespace vmbus
