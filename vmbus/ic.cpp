#include "vmbus/ic.hpp"

#include "hv/lib/bytes.hpp"

namespace vmbus::ic {

namespace {

// Packet bytes promise no alignment beyond 8 (and the heartbeat's u64 sits at offset 28).
template <class T> void store(uint8_t* p, const T& v) { __builtin_memcpy(p, &v, sizeof v); }
template <class T> T load(const uint8_t* p) { return hv::bytes::load<T>(p); }

constexpr uint16_t no_type = 0xffff;
constexpr uint32_t body_at = header_size;

uint32_t capped(Versions v) { return v.list == nullptr ? 0 : v.count < max_versions ? v.count : max_versions; }

IcVersion split(uint32_t v) { return IcVersion{static_cast<uint16_t>(v >> 16), static_cast<uint16_t>(v)}; }
uint32_t join(IcVersion v) { return make_version(v.major, v.minor); }

} // namespace

const char* to_string(IcFault f) {
    switch (f) {
    case IcFault::too_short: return "shorter than the IC headers";
    case IcFault::too_short_for_type: return "shorter than its type's body";
    case IcFault::wrong_packet_type: return "not an inband packet";
    case IcFault::pipe_size: return "pipe msgsize past the packet";
    case IcFault::message_size: return "icmsgsize past the packet";
    case IcFault::not_response: return "response flag clear";
    case IcFault::unexpected: return "no request outstanding";
    case IcFault::wrong_transaction: return "wrong transaction id";
    case IcFault::wrong_type: return "not the request's type";
    case IcFault::bad_version_count: return "negotiate answer without one version per list";
    case IcFault::version_not_offered: return "version not offered";
    case IcFault::no_common_version: return "no common version";
    case IcFault::wrong_sequence: return "heartbeat sequence not seq + 1";
    case IcFault::failure_status: return "failure status";
    case IcFault::not_negotiated: return "request before negotiation";
    case IcFault::too_large: return "larger than the answer buffer";
    case IcFault::bad_negotiate: return "negotiate version counts past the packet or limit";
    case IcFault::unknown_type: return "unknown message type";
    case IcFault::unsupported_shutdown: return "unsupported shutdown flags";
    }
    return "?";
}

// ---- Host ----------------------------------------------------------------------------------

IcHost::IcHost(Kind kind, Versions framework, Versions message)
    : kind_(kind), framework_list_{framework.list, capped(framework)}, message_list_{message.list, capped(message)} {
    if (framework_list_.count == 0 || message_list_.count == 0)
        state_ = State::failed;
}

bool IcHost::offered(const Versions& v, uint32_t version) const {
    for (uint32_t i = 0; i < v.count; i++)
        if (v.list[i] == version)
            return true;
    return false;
}

void IcHost::abandon() {
    if (!outstanding_)
        return;
    outstanding_ = false;
    if (out_type_ == message_type::heartbeat)
        missed_++;
    else if (out_type_ == message_type::negotiate)
        state_ = State::failed;
}

bool IcHost::expire() {
    const bool was = outstanding_;
    abandon();
    return was;
}

void IcHost::reset() {
    outstanding_ = false;
    framework_ = message_ = 0;
    state_ = framework_list_.count == 0 || message_list_.count == 0 ? State::failed : State::idle;
}

Request IcHost::start(uint16_t type, uint32_t body_size, uint8_t* out, uint32_t capacity) {
    const uint32_t size = header_size + body_size;
    if (out == nullptr || capacity < size)
        return Request{OutPacket{}, 0};
    // A new request replaces one still unanswered: a heartbeat the guest let pass is missed.
    abandon();
    __builtin_memset(out, 0, size);
    Header h{};
    h.pipe = PipeHeader{pipe_type_data, size - static_cast<uint32_t>(sizeof(PipeHeader))};
    // Before negotiation the header names our preferred versions; Linux reads neither.
    h.message.framework = split(type == message_type::negotiate ? framework_list_.list[0] : framework_);
    h.message.message = split(type == message_type::negotiate ? message_list_.list[0] : message_);
    h.message.type = type;
    h.message.size = static_cast<uint16_t>(body_size);
    h.message.status = status_ok;
    const uint64_t trans = next_trans_++;
    h.message.transaction = static_cast<uint8_t>(trans);
    h.message.flags = header_flag::transaction | header_flag::request;
    store(out, h);
    outstanding_ = true;
    out_type_ = type;
    out_trans_ = trans;
    return Request{OutPacket{packet_type::data_inband, 0, trans}, size};
}

Request IcHost::build_negotiate(uint8_t* out, uint32_t capacity) {
    if (state_ != State::idle && state_ != State::negotiating)
        return Request{OutPacket{}, 0};
    const uint32_t n = framework_list_.count + message_list_.count;
    const Request r = start(message_type::negotiate, sizeof(NegotiateBody) + 4 * n, out, capacity);
    if (r.size == 0)
        return r;
    state_ = State::negotiating;
    store(out + body_at, NegotiateBody{static_cast<uint16_t>(framework_list_.count),
                                       static_cast<uint16_t>(message_list_.count), 0});
    uint8_t* v = out + negotiate_versions_at;
    for (uint32_t i = 0; i < framework_list_.count; i++, v += 4)
        store(v, split(framework_list_.list[i]));
    for (uint32_t i = 0; i < message_list_.count; i++, v += 4)
        store(v, split(message_list_.list[i]));
    return r;
}

Request IcHost::build_heartbeat(uint64_t seq, uint8_t* out, uint32_t capacity) {
    if (kind_ != Kind::heartbeat)
        return Request{OutPacket{}, 0};
    if (state_ != State::ready) {
        log_.add(IcLogEntry{IcFault::not_negotiated, message_type::heartbeat, 0});
        return Request{OutPacket{}, 0};
    }
    const Request r = start(message_type::heartbeat, sizeof(HeartbeatBody), out, capacity);
    if (r.size != 0) {
        store(out + body_at, seq);
        out_seq_ = seq;
    }
    return r;
}

Request IcHost::build_shutdown(const ShutdownRequest& s, uint8_t* out, uint32_t capacity) {
    if (kind_ != Kind::shutdown)
        return Request{OutPacket{}, 0};
    if (state_ != State::ready) {
        log_.add(IcLogEntry{IcFault::not_negotiated, message_type::shutdown, 0});
        return Request{OutPacket{}, 0};
    }
    const Request r = start(message_type::shutdown, sizeof(ShutdownBody), out, capacity);
    if (r.size != 0) {
        store(out + body_at + offsetof(ShutdownBody, reason_code), s.reason_code);
        store(out + body_at + offsetof(ShutdownBody, timeout_seconds), s.timeout_seconds);
        store(out + body_at + offsetof(ShutdownBody, flags), s.flags);
        shutdown_answered_ = false;
        shutdown_status_ = 0;
    }
    return r;
}

HostEvent IcHost::refuse(IcFault f, uint16_t type, uint32_t value) {
    log_.add(IcLogEntry{f, type, value});
    return HostEvent::refused;
}

HostEvent IcHost::on_response(const Packet& p) {
    // Checks that do not need a request to compare with: a response that fails them is not
    // matched, and the outstanding request stays outstanding.
    if (p.type != packet_type::data_inband)
        return refuse(IcFault::wrong_packet_type, no_type, p.type);
    if (p.data == nullptr || p.data_size < header_size)
        return refuse(IcFault::too_short, no_type, p.data_size);
    const Header h = load<Header>(p.data);
    const uint16_t type = h.message.type;
    if (h.pipe.msgsize > p.data_size - sizeof(PipeHeader))
        return refuse(IcFault::pipe_size, type, h.pipe.msgsize);
    if (h.message.size > p.data_size - header_size)
        return refuse(IcFault::message_size, type, h.message.size);
    if ((h.message.flags & header_flag::response) == 0)
        return refuse(IcFault::not_response, type, h.message.flags);
    if (!outstanding_)
        return refuse(IcFault::unexpected, type, 0);
    // Linux answers with the request's packet transaction id and leaves the header's alone.
    if (p.trans_id != out_trans_ || h.message.transaction != static_cast<uint8_t>(out_trans_))
        return refuse(IcFault::wrong_transaction, type, static_cast<uint32_t>(p.trans_id));
    // From here the packet is the guest's answer to our request: a wrong one uses it up (a
    // negotiation fails, a beat is missed) so a guest cannot answer twice.
    if (type != out_type_) {
        abandon();
        return refuse(IcFault::wrong_type, type, type);
    }
    switch (type) {
    case message_type::negotiate: return on_negotiate(p, h);
    case message_type::heartbeat: return on_heartbeat(p);
    default: return on_shutdown(h);
    }
}

HostEvent IcHost::on_negotiate(const Packet& p, const Header& h) {
    const uint16_t t = message_type::negotiate;
    if (p.data_size < negotiate_versions_at) {
        abandon();
        return refuse(IcFault::too_short_for_type, t, p.data_size);
    }
    const NegotiateBody b = load<NegotiateBody>(p.data + body_at);
    // vmbus_prep_negotiate_resp: counts 1 and 1 with the choice, or 0 and 0 when there is none
    // (the kernel leaves the status alone; Linux's user-space daemons set HV_E_FAIL then).
    if ((b.framework_count == 0 && b.message_count == 0) || h.message.status != status_ok) {
        abandon();
        log_.add(IcLogEntry{IcFault::no_common_version, t, h.message.status});
        return HostEvent::no_common_version;
    }
    if (b.framework_count != 1 || b.message_count != 1) {
        abandon();
        return refuse(IcFault::bad_version_count, t, uint32_t{b.framework_count} << 16 | b.message_count);
    }
    // The two versions must lie inside icmsgsize, which was checked to lie inside the packet.
    if (h.message.size < sizeof(NegotiateBody) + 2 * sizeof(IcVersion)) {
        abandon();
        return refuse(IcFault::message_size, t, h.message.size);
    }
    const uint32_t framework = join(load<IcVersion>(p.data + negotiate_versions_at));
    const uint32_t message = join(load<IcVersion>(p.data + negotiate_versions_at + 4));
    if (!offered(framework_list_, framework) || !offered(message_list_, message)) {
        abandon();
        return refuse(IcFault::version_not_offered, t, offered(framework_list_, framework) ? message : framework);
    }
    outstanding_ = false;
    framework_ = framework;
    message_ = message;
    state_ = State::ready;
    return HostEvent::negotiated;
}

HostEvent IcHost::on_heartbeat(const Packet& p) {
    const uint16_t t = message_type::heartbeat;
    // hv_util.c checks for the sequence number only ("the host may not fill" the reserved part).
    if (p.data_size < header_size + sizeof(uint64_t)) {
        abandon();
        return refuse(IcFault::too_short_for_type, t, p.data_size);
    }
    const Header h = load<Header>(p.data);
    if (h.message.status != status_ok) {
        abandon();
        return refuse(IcFault::failure_status, t, h.message.status);
    }
    const uint64_t seq = load<uint64_t>(p.data + body_at);
    if (seq != out_seq_ + 1) {
        abandon();
        return refuse(IcFault::wrong_sequence, t, static_cast<uint32_t>(seq));
    }
    outstanding_ = false;
    answered_++;
    last_seq_ = out_seq_;
    return HostEvent::heartbeat;
}

HostEvent IcHost::on_shutdown(const Header& h) {
    // Linux answers HV_S_OK for shutdown and restart and HV_E_FAIL for what it will not do; the
    // body comes back unchanged and is not looked at.
    outstanding_ = false;
    shutdown_answered_ = true;
    shutdown_status_ = h.message.status;
    return h.message.status == status_ok ? HostEvent::shutdown_accepted : HostEvent::shutdown_declined;
}

// ---- Guest ---------------------------------------------------------------------------------

IcGuest::IcGuest(Kind kind, Versions framework, Versions message)
    : kind_(kind), framework_list_{framework.list, capped(framework)}, message_list_{message.list, capped(message)} {}

bool IcGuest::pick(const Versions& ours, const uint8_t* theirs, uint32_t count, uint32_t& chosen) const {
    // Linux: the first of its own versions (newest first) that the host lists.
    for (uint32_t i = 0; i < ours.count; i++)
        for (uint32_t j = 0; j < count; j++)
            if (join(load<IcVersion>(theirs + 4 * j)) == ours.list[i]) {
                chosen = ours.list[i];
                return true;
            }
    return false;
}

void IcGuest::negotiate(uint8_t* out, uint32_t size) {
    const uint16_t t = message_type::negotiate;
    // Linux (since 5.12) answers a negotiate too short to hold the two counts unchanged, only
    // its flags set, and the host learns nothing.
    if (size < body_at + 2 * sizeof(uint16_t)) {
        fault(IcFault::too_short_for_type, t, size);
        return;
    }
    IcMessageHeader m = load<IcMessageHeader>(out + sizeof(PipeHeader));
    m.size = sizeof(NegotiateBody) + 2 * sizeof(IcVersion);   // Linux: icmsgsize = 0x10
    store(out + sizeof(PipeHeader), m);
    const uint32_t frameworks = load<uint16_t>(out + body_at);
    const uint32_t messages = load<uint16_t>(out + body_at + 2);
    uint32_t framework = 0, message = 0;
    bool found = false;
    if (frameworks > linux_max_version_count || messages > linux_max_version_count ||
        negotiate_versions_at + 4 * (frameworks + messages) > size) {
        fault(IcFault::bad_negotiate, t, frameworks << 16 | messages);
    } else {
        const uint8_t* list = out + negotiate_versions_at;
        found = pick(framework_list_, list, frameworks, framework) &&
                pick(message_list_, list + 4 * frameworks, messages, message);
        if (!found)
            fault(IcFault::no_common_version, t, frameworks << 16 | messages);
    }
    // The answer: counts 1 and 1 and the two choices, or 0 and 0. Linux writes the two version
    // slots even past a short request (its buffer is 4 pages); we write them only inside it.
    const uint16_t n = found ? 1 : 0;
    store(out + body_at, n);
    store(out + body_at + 2, n);
    if (negotiate_versions_at + 2 * sizeof(IcVersion) <= size) {
        store(out + negotiate_versions_at, split(framework));
        store(out + negotiate_versions_at + 4, split(message));
    }
    negotiated_ = found;
    framework_ = framework;
    message_ = message;
}

void IcGuest::on_shutdown(uint8_t* out, uint32_t& status) {
    const uint8_t* b = out + body_at;
    const uint32_t flags = load<uint32_t>(b + offsetof(ShutdownBody, flags));
    // hv_util.c: 0/1 shut down, 2/3 restart (bit 0: by force, which Linux always does), 4/5
    // hibernate only where hibernation is supported (never in our kernels), anything else fails.
    if (flags > (shutdown_flag::restart | shutdown_flag::force)) {
        status = status_fail;
        fault(IcFault::unsupported_shutdown, message_type::shutdown, flags);
        return;
    }
    status = status_ok;
    shutdown_requested_ = true;
    shutdown_ = ShutdownRequest{flags, load<uint32_t>(b + offsetof(ShutdownBody, reason_code)),
                                load<uint32_t>(b + offsetof(ShutdownBody, timeout_seconds))};
}

Answer IcGuest::answer(const Packet& p, uint8_t* out, uint32_t capacity) {
    Answer a{OutPacket{packet_type::data_inband, 0, p.trans_id}, 0};
    // Linux reads any packet type (vmbus_recvpacket strips the descriptor) and answers inband.
    if (out == nullptr || p.data_size > capacity) {
        fault(IcFault::too_large, no_type, p.data_size);
        return a;
    }
    if (p.data == nullptr || p.data_size < header_size) {
        fault(IcFault::too_short, no_type, p.data_size);
        return a;
    }
    const uint32_t size = p.data_size;
    __builtin_memcpy(out, p.data, size);
    const uint16_t type = load<IcMessageHeader>(out + sizeof(PipeHeader)).type;
    uint32_t status = load<IcMessageHeader>(out + sizeof(PipeHeader)).status;   // Linux keeps it
    if (type == message_type::negotiate) {
        negotiate(out, size);
    } else if (type == message_type::heartbeat && kind_ == Kind::heartbeat) {
        if (size < body_at + sizeof(uint64_t)) {   // dropped, unanswered, as Linux does
            fault(IcFault::too_short_for_type, type, size);
            return a;
        }
        last_seq_ = load<uint64_t>(out + body_at);
        store(out + body_at, last_seq_ + 1);
        heartbeats_++;
    } else if (type == message_type::shutdown && kind_ == Kind::shutdown) {
        if (size < body_at + sizeof(ShutdownBody)) {   // dropped, unanswered, as Linux does
            fault(IcFault::too_short_for_type, type, size);
            return a;
        }
        on_shutdown(out, status);
    } else {
        status = status_fail;   // Linux: "Invalid msg type", answered with HV_E_FAIL
        fault(IcFault::unknown_type, type, type);
    }
    IcMessageHeader m = load<IcMessageHeader>(out + sizeof(PipeHeader));
    m.status = status;
    m.flags = header_flag::transaction | header_flag::response;
    store(out + sizeof(PipeHeader), m);
    a.size = size;
    return a;
}

} // namespace vmbus::ic
