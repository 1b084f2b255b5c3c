#include "vmbus/server.hpp"

namespace vmbus {

namespace {

constexpr uint8_t type_of(MessageType t) { return static_cast<uint8_t>(t); }

bool supported(uint32_t version) {
    for (uint32_t v : version::linux_offers)
        if (v == version)
            return true;
    return false;
}

// A SINT the SynIC has (TLFS: 16 per VP).
constexpr uint32_t sint_count = 16;

} // namespace

const char* to_string(Fault f) {
    switch (f) {
    case Fault::malformed_message: return "malformed message";
    case Fault::before_contact: return "message before contact";
    case Fault::wrong_connection: return "wrong connection id";
    case Fault::wrong_direction: return "message only the root sends";
    case Fault::bad_target: return "contact names a VP or SINT that does not exist";
    case Fault::version_refused: return "version refused";
    case Fault::contact_while_connected: return "contact on a live connection";
    case Fault::offers_again: return "offers requested twice";
    case Fault::unknown_relid: return "unknown relid";
    case Fault::not_open: return "channel not open";
    case Fault::already_open: return "channel already open";
    case Fault::bad_vp: return "target VP does not exist";
    case Fault::gpadl_refused: return "GPADL refused";
    case Fault::unknown_gpadl: return "unknown GPADL";
    case Fault::gpadl_other_channel: return "ring GPADL of another channel";
    case Fault::gpadl_in_use: return "GPADL torn down while a ring";
    case Fault::ring_geometry: return "ring geometry";
    case Fault::ring_not_contiguous: return "ring pages not contiguous";
    case Fault::ring_overlap: return "ring overlaps an open channel";
    case Fault::map_refused: return "ring mapping refused";
    case Fault::ring_attach_failed: return "ring indices invalid at open";
    case Fault::provider_refused: return "provider refused the open";
    case Fault::ring_protocol_error: return "ring protocol error";
    case Fault::not_rescinded: return "relid released that was not rescinded";
    case Fault::outbox_overflow: return "outbox overflow";
    }
    return "?";
}

// --- ServerChannel ---

void ServerChannel::signal_peer() {
    const ServerTransport& t = server_->transport_;
    if (state_ == State::open && t.signal != nullptr)
        t.signal(t.context, target_vp_, relid_);
}

// --- VmbusServer ---

VmbusServer::VmbusServer(ServerTransport transport, Platform platform, ServerConfig config)
    : transport_(transport), config_(config),
      gpadls_(gpadl_slots_, server_limits::small_gpadls + server_limits::large_gpadls, platform) {
    for (uint32_t i = 0; i < server_limits::max_channels; i++) {
        channels_[i].server_ = this;
        channels_[i].relid_ = i + 1;
    }
    for (uint32_t i = 0; i < server_limits::small_gpadls; i++) {
        gpadl_slots_[i].pfns = small_pfns_[i];
        gpadl_slots_[i].capacity = server_limits::small_gpadl_pages;
    }
    for (uint32_t i = 0; i < server_limits::large_gpadls; i++) {
        gpadl_slots_[server_limits::small_gpadls + i].pfns = large_pfns_[i];
        gpadl_slots_[server_limits::small_gpadls + i].capacity = server_limits::large_gpadl_pages;
    }
}

ServerChannel* VmbusServer::find(uint32_t relid) {
    return const_cast<ServerChannel*>(channel(relid));
}

const ServerChannel* VmbusServer::channel(uint32_t relid) const {
    if (relid == 0 || relid > server_limits::max_channels)
        return nullptr;
    const ServerChannel& ch = channels_[relid - 1];
    return ch.state_ == ServerChannel::State::free ? nullptr : &ch;
}

uint32_t VmbusServer::relid_for_connection(uint32_t connection_id) const {
    const uint32_t relid = connection_id - config_.event_connection_base;
    return connection_id > config_.event_connection_base && relid <= server_limits::max_channels ? relid : 0;
}

void VmbusServer::fault(Fault f, uint8_t type, uint32_t value, uint8_t detail) {
    log_.add(LogEntry{f, type, detail, value});
}

void VmbusServer::send_bytes(const void* m, uint32_t size) {
    if (state_ == State::faulted)
        return;
    flush();
    if (out_count_ == 0 && transport_.post != nullptr && transport_.post(transport_.context, vp_, sint_, m, size))
        return;
    if (out_count_ == server_limits::outbox) {
        // The child keeps posting while it takes none of our answers: stop serving it.
        fault(Fault::outbox_overflow, 0, out_count_);
        drop_connection();
        clear_outbox();
        state_ = State::faulted;
        return;
    }
    Outgoing& o = outbox_[(out_head_ + out_count_) % server_limits::outbox];
    __builtin_memcpy(o.bytes, m, size);
    o.size = size;
    out_count_++;
}

void VmbusServer::flush() {
    while (out_count_ != 0 && transport_.post != nullptr) {
        const Outgoing& o = outbox_[out_head_];
        if (!transport_.post(transport_.context, vp_, sint_, o.bytes, o.size))
            return;
        out_head_ = (out_head_ + 1) % server_limits::outbox;
        out_count_--;
    }
}

uint32_t VmbusServer::add_device(const DeviceProvider* device) {
    if (device == nullptr || state_ == State::faulted)
        return 0;
    for (ServerChannel& ch : channels_) {
        if (ch.state_ != ServerChannel::State::free)
            continue;
        ch.device_ = device;
        ch.state_ = ServerChannel::State::registered;
        if (state_ == State::connected && offers_sent_)
            offer(ch);
        return ch.relid_;
    }
    return 0;
}

void VmbusServer::offer(ServerChannel& ch) {
    auto m = make_message<OfferChannel>();
    m.interface_type = ch.device_->class_id;
    m.interface_instance = ch.device_->instance_id;
    m.child_relid = ch.relid_;
    // No monitor page (monitor_allocated = 0): the child signals with SignalEvent on its own
    // connection id, which is dedicated to this channel.
    m.dedicated_interrupt = 1;
    m.connection_id = connection_for(ch.relid_);
    ch.state_ = ServerChannel::State::offered;
    send(m);
}

bool VmbusServer::rescind(uint32_t relid) {
    ServerChannel* ch = find(relid);
    if (ch == nullptr || ch->state_ == ServerChannel::State::rescinded)
        return false;
    if (ch->state_ == ServerChannel::State::registered) {
        ch->state_ = ServerChannel::State::free;
        return true;
    }
    if (ch->state_ == ServerChannel::State::open)
        close_rings(*ch);
    // The child answers with RelIdReleased once it let go of the channel; until then the relid
    // stays taken so that no new device reuses it under the child's feet.
    ch->state_ = ServerChannel::State::rescinded;
    auto m = make_message<RescindOffer>();
    m.child_relid = relid;
    send(m);
    return true;
}

void VmbusServer::close_rings(ServerChannel& ch) {
    if (ch.state_ != ServerChannel::State::open)
        return;
    if (ch.device_->on_close != nullptr)
        ch.device_->on_close(ch.device_->context, ch);
    if (transport_.unmap != nullptr)
        transport_.unmap(transport_.context, ch.base_, ch.pages_);
    ch.base_ = nullptr;
    ch.drop_rings();
    ch.state_ = ServerChannel::State::offered;
}

void VmbusServer::release_gpadls_of(uint32_t relid) {
    for (const Gpadl& g : gpadl_slots_)
        if (g.state != Gpadl::State::free && g.child_relid == relid)
            gpadls_.release(g.id);
}

void VmbusServer::drop_connection() {
    for (ServerChannel& ch : channels_) {
        close_rings(ch);
        if (ch.state_ == ServerChannel::State::rescinded)
            ch.state_ = ServerChannel::State::free;
        else if (ch.state_ != ServerChannel::State::free)
            ch.state_ = ServerChannel::State::registered;
    }
    for (const Gpadl& g : gpadl_slots_)
        if (g.state != Gpadl::State::free)
            gpadls_.release(g.id);
    offers_sent_ = false;
    state_ = State::disconnected;
    version_ = 0;
}

void VmbusServer::clear_outbox() {
    out_count_ = 0;
    out_head_ = 0;
}

void VmbusServer::reset() {
    drop_connection();
    clear_outbox();
}

uint32_t VmbusServer::waiting(uint32_t relid) {
    ServerChannel* ch = find(relid);
    return ch != nullptr && ch->state_ == ServerChannel::State::open ? ch->reader().available() : 0;
}

void VmbusServer::signalled(uint32_t relid) {
    ServerChannel* ch = find(relid);
    if (ch == nullptr || ch->state_ != ServerChannel::State::open || ch->device_->on_signal == nullptr) {
        spurious_signals_++;   // not logged: a signal costs the child nothing, the log is for causes
        return;
    }
    if (!ch->device_->on_signal(ch->device_->context, *ch)) {
        fault(Fault::ring_protocol_error, 0, relid);
        close_rings(*ch);
        ch->state_ = ServerChannel::State::broken;
    }
}

void VmbusServer::receive(uint32_t connection_id, const void* bytes, uint32_t size) {
    if (state_ == State::faulted)
        return;
    Parsed m;
    const MessageError e = parse(bytes, size, m);
    if (e != MessageError::ok) {
        fault(Fault::malformed_message, 0, size, static_cast<uint8_t>(e));
        return;
    }
    const uint8_t type = type_of(m.type());
    if (const auto* c = m.as<InitiateContact>()) {
        on_contact(connection_id, *c);
        return;
    }
    if (state_ != State::connected) {
        fault(Fault::before_contact, type, 0);
        return;
    }
    const uint32_t expected = version_ >= version::v5_0 ? config_.message_connection : connection::message_legacy;
    if (connection_id != expected) {
        fault(Fault::wrong_connection, type, connection_id);
        return;
    }
    switch (m.type()) {
    case MessageType::request_offers: on_request_offers(); break;
    case MessageType::gpadl_header:
    case MessageType::gpadl_body: on_gpadl(m); break;
    case MessageType::gpadl_teardown: on_teardown(*m.as<GpadlTeardown>()); break;
    case MessageType::open_channel: on_open(*m.as<OpenChannel>()); break;
    case MessageType::close_channel: on_close(*m.as<CloseChannel>()); break;
    case MessageType::relid_released: on_relid_released(*m.as<RelidReleased>()); break;
    case MessageType::unload: on_unload(); break;
    default: fault(Fault::wrong_direction, type, 0); break;
    }
}

void VmbusServer::on_contact(uint32_t connection_id, const InitiateContact& c) {
    const uint32_t v = c.version_requested;
    constexpr uint8_t type = type_of(MessageType::initiate_contact);
    // From 5.0 the child names its SINT (and VTL) in the message; before, the SINT is fixed at 2.
    const bool v5 = v >= version::v5_0;
    const uint8_t sint = v5 ? c.msg_sint() : message_sint;
    const uint8_t vtl = v5 ? static_cast<uint8_t>(c.interrupt_page_or_sint >> 8) : 0;
    if (connection_id != connection::message_for(v)) {
        fault(Fault::wrong_connection, type, connection_id);
        return;
    }
    if (sint >= sint_count || c.target_vcpu >= config_.vp_count) {
        fault(Fault::bad_target, type, c.target_vcpu, sint);   // nowhere to answer
        return;
    }
    if (state_ == State::connected) {
        // A kernel that restarted without Unload (a crash kernel): start over.
        fault(Fault::contact_while_connected, type, version_);
        drop_connection();
    }
    // Answers still queued belong to an earlier connection, perhaps to another VP or SINT.
    clear_outbox();
    vp_ = c.target_vcpu;
    sint_ = sint;
    // VTLs other than 0 do not exist here.
    const bool ok = supported(v) && vtl == 0;
    auto r = make_message<VersionResponse>();
    r.version_supported = ok ? 1 : 0;
    if (!ok) {
        fault(Fault::version_refused, type, v);
        send(r);   // on the SINT the child asked for; the connection stays down
        return;
    }
    r.msg_conn_id = v5 ? config_.message_connection : connection::message_legacy;
    version_ = v;
    state_ = State::connected;
    send(r);
}

void VmbusServer::on_request_offers() {
    if (offers_sent_) {
        fault(Fault::offers_again, type_of(MessageType::request_offers), 0);
        return;
    }
    offers_sent_ = true;
    for (ServerChannel& ch : channels_)
        if (ch.state_ == ServerChannel::State::registered && state_ == State::connected)
            offer(ch);
    send(make_message<AllOffersDelivered>());
}

void VmbusServer::on_gpadl(const Parsed& m) {
    const uint8_t type = type_of(m.type());
    auto created = make_message<GpadlCreated>();
    if (const auto* h = m.as<GpadlHeader>()) {
        // A GPADL belongs to a channel the child was offered (Linux names the channel's relid).
        const ServerChannel* ch = find(h->child_relid);
        if (ch == nullptr || ch->state_ == ServerChannel::State::registered ||
            ch->state_ == ServerChannel::State::rescinded) {
            fault(Fault::unknown_relid, type, h->child_relid);
            created.child_relid = h->child_relid;
            created.gpadl = h->gpadl;
            created.status = status_unsuccessful;
            send(created);
            return;
        }
    }
    const GpadlResult r = gpadls_.add(m);
    if (r.status == GpadlStatus::incomplete)
        return;
    if (r.status == GpadlStatus::unknown_gpadl) {
        // A body for nothing being assembled: there is no header to answer.
        fault(Fault::unknown_gpadl, type, r.gpadl);
        return;
    }
    created.child_relid = r.child_relid;
    created.gpadl = r.gpadl;
    if (r.status != GpadlStatus::complete) {
        fault(Fault::gpadl_refused, type, r.gpadl, static_cast<uint8_t>(r.status));
        created.status = status_unsuccessful;
    }
    send(created);
}

void VmbusServer::on_teardown(const GpadlTeardown& t) {
    constexpr uint8_t type = type_of(MessageType::gpadl_teardown);
    bool known = false;
    for (const Gpadl& g : gpadl_slots_)
        known = known || (g.state != Gpadl::State::free && g.id == t.gpadl);
    if (!known) {
        fault(Fault::unknown_gpadl, type, t.gpadl);
        return;
    }
    // Linux closes a channel before it tears its ring down. A child that does it the other way
    // round loses the channel: the root stops using the pages before it lets them go.
    for (ServerChannel& ch : channels_) {
        if (ch.state_ == ServerChannel::State::open && ch.ring_gpadl_ == t.gpadl) {
            fault(Fault::gpadl_in_use, type, t.gpadl);
            close_rings(ch);
            ch.state_ = ServerChannel::State::broken;
        }
    }
    gpadls_.release(t.gpadl);
    auto m = make_message<GpadlTorndown>();
    m.gpadl = t.gpadl;
    send(m);
}

bool VmbusServer::check_open(const OpenChannel& o, const Gpadl*& ring, Fault& why) const {
    auto refuse = [&why](Fault f) {
        why = f;
        return false;
    };
    const ServerChannel* ch = channel(o.child_relid);
    if (ch == nullptr || ch->state_ == ServerChannel::State::registered ||
        ch->state_ == ServerChannel::State::rescinded)
        return refuse(Fault::unknown_relid);
    if (ch->state_ != ServerChannel::State::offered)
        return refuse(Fault::already_open);   // open, or broken and not yet closed by the child
    if (o.target_vp >= config_.vp_count)
        return refuse(Fault::bad_vp);
    const Gpadl* g = gpadls_.find(o.ring_gpadl);
    if (g == nullptr)
        return refuse(Fault::unknown_gpadl);
    if (g->child_relid != o.child_relid)
        return refuse(Fault::gpadl_other_channel);
    // Linux lays the rings out in one page-aligned GPADL: the outbound ring's pages, then the
    // inbound ring's from downstream_offset; each is a control page and at least a data page.
    const uint32_t pages = g->page_count;
    const uint32_t off = o.downstream_offset;
    if (g->byte_offset != 0 || g->byte_count != pages * page_size || off < server_limits::min_ring_pages ||
        off > pages || pages - off < server_limits::min_ring_pages)
        return refuse(Fault::ring_geometry);
    for (uint32_t i = 1; i < pages; i++)
        if (g->pfns[i] != g->pfns[0] + i)
            return refuse(Fault::ring_not_contiguous);
    const uint64_t first = g->pfns[0];
    for (const ServerChannel& other : channels_)
        if (other.state_ == ServerChannel::State::open && first < other.first_pfn_ + other.pages_ &&
            other.first_pfn_ < first + pages)
            return refuse(Fault::ring_overlap);
    ring = g;
    return true;
}

void VmbusServer::on_open(const OpenChannel& o) {
    constexpr uint8_t type = type_of(MessageType::open_channel);
    auto result = make_message<OpenResult>();
    result.child_relid = o.child_relid;
    result.open_id = o.open_id;
    result.status = status_unsuccessful;
    const Gpadl* g = nullptr;
    Fault f{};
    if (!check_open(o, g, f)) {
        fault(f, type, f == Fault::unknown_gpadl ? o.ring_gpadl : o.child_relid);
        send(result);
        return;
    }
    ServerChannel& ch = *find(o.child_relid);
    const uint32_t pages = g->page_count;
    const uint32_t off = o.downstream_offset;
    uint8_t* base = transport_.map != nullptr ? transport_.map(transport_.context, g->pfns[0], pages) : nullptr;
    if (base == nullptr) {
        fault(Fault::map_refused, type, o.child_relid);
        send(result);
        return;
    }
    // The child's outbound ring (we read) from page 0, its inbound ring (we write) from `off`.
    const RingMemory in{reinterpret_cast<RingControl*>(base), base + page_size, (off - 1) * page_size};
    uint8_t* down = base + uint64_t{off} * page_size;
    const RingMemory out{reinterpret_cast<RingControl*>(down), down + page_size, (pages - off - 1) * page_size};
    ch.set_rings(in, out);
    RingStatus s = ch.reader_.attach();
    if (s == RingStatus::ok)
        s = ch.writer_.attach();
    ch.base_ = base;
    ch.first_pfn_ = g->pfns[0];
    ch.pages_ = pages;
    ch.downstream_ = off;
    ch.ring_gpadl_ = o.ring_gpadl;
    ch.target_vp_ = o.target_vp;
    __builtin_memcpy(ch.user_data_, o.user_data, sizeof ch.user_data_);
    ch.state_ = ServerChannel::State::open;
    if (s != RingStatus::ok) {
        fault(Fault::ring_attach_failed, type, o.child_relid, static_cast<uint8_t>(s));
    } else if (ch.device_->on_open != nullptr && !ch.device_->on_open(ch.device_->context, ch)) {
        fault(Fault::provider_refused, type, o.child_relid);
        s = RingStatus::bad_geometry;
    }
    if (s != RingStatus::ok) {
        // The provider did not take the channel: unmap without its on_close.
        if (transport_.unmap != nullptr)
            transport_.unmap(transport_.context, base, pages);
        ch.base_ = nullptr;
        ch.state_ = ServerChannel::State::offered;
        send(result);
        return;
    }
    result.status = 0;
    send(result);
}

void VmbusServer::on_close(const CloseChannel& c) {
    constexpr uint8_t type = type_of(MessageType::close_channel);
    ServerChannel* ch = find(c.child_relid);
    if (ch == nullptr || ch->state_ == ServerChannel::State::registered) {
        fault(Fault::unknown_relid, type, c.child_relid);
        return;
    }
    // No answer exists for CloseChannel. A rescinded channel is already closed on our side.
    if (ch->state_ == ServerChannel::State::open)
        close_rings(*ch);
    else if (ch->state_ == ServerChannel::State::broken)
        ch->state_ = ServerChannel::State::offered;
    else if (ch->state_ == ServerChannel::State::offered)
        fault(Fault::not_open, type, c.child_relid);
}

void VmbusServer::on_relid_released(const RelidReleased& r) {
    constexpr uint8_t type = type_of(MessageType::relid_released);
    ServerChannel* ch = find(r.child_relid);
    if (ch == nullptr || ch->state_ != ServerChannel::State::rescinded) {
        fault(ch == nullptr ? Fault::unknown_relid : Fault::not_rescinded, type, r.child_relid);
        return;
    }
    // The child is done with the relid: whatever GPADLs it left on the channel go with it.
    release_gpadls_of(r.child_relid);
    ch->state_ = ServerChannel::State::free;
}

void VmbusServer::on_unload() {
    // Answer first: the connection's VP and SINT are still known; then forget everything. Queued
    // messages stay ahead of the answer.
    send(make_message<UnloadResponse>());
    if (state_ == State::connected)
        drop_connection();
}

} // namespace vmbus
