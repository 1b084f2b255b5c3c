// libFuzzer target over the IC utility protocol (vmbus/ic.hpp): per input, a heartbeat and a
// shutdown channel, each an IcHost and an IcGuest (sometimes with other version lists), driven by
// a sequence of operations: honest round trips (the host's request answered by the guest, the
// answer sometimes edited or cut by the fuzzer before the host sees it), raw bytes as a guest's
// answer or as a host's request, forged answers built from the last request, expiries and resets.
// Every packet's data is an exact allocation, so ASan stops any read past it. Beyond the
// sanitizers it checks: an unedited answer to an honest request is accepted; a guest answers
// with the request's size and transaction id or not at all; the logs stay bounded; a ready host
// agreed on versions it offered; beats answered plus missed never exceed beats sent.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/vmbus_fuzz_input.hpp"
#include "vmbus/ic.hpp"

using namespace vmbus;
using namespace vmbus::ic;
using vmbus_fuzz::Input;

namespace {

// Exactly `size` bytes on the heap (one byte for an empty packet, never read).
struct Exact {
    uint8_t* p;
    explicit Exact(uint32_t size) : p(static_cast<uint8_t*>(malloc(size ? size : 1))) {}
    ~Exact() { free(p); }
    Exact(const Exact&) = delete;
    Exact& operator=(const Exact&) = delete;
};

Packet packet_of(uint16_t type, uint64_t trans, const uint8_t* data, uint32_t size) {
    return Packet{type, 0, trans, 16 + ((size + 7) & ~7u), 16, data, size};
}

bool offered(Versions v, uint32_t version) {
    for (uint32_t i = 0; i < v.count && i < max_versions; i++)
        if (v.list[i] == version)
            return true;
    return false;
}

// Version lists the fuzzer picks from: Linux's, and odd ones (old, unknown, empty).
const uint32_t odd_framework[] = {make_version(1, 0)};
const uint32_t odd_message[] = {make_version(9, 9), make_version(3, 1), make_version(1, 0)};
const uint32_t many[] = {make_version(1, 0), make_version(1, 1), make_version(2, 0), make_version(3, 0),
                         make_version(3, 1), make_version(3, 2), make_version(4, 0), make_version(5, 0),
                         make_version(6, 0), make_version(7, 0)};

Versions pick_framework(uint8_t b) {
    switch (b % 4) {
    case 0: return {odd_framework, 1};
    case 1: return {many, 10};
    case 2: return {many, static_cast<uint32_t>(b >> 4) % 3};   // sometimes empty
    default: return versions::framework_list();
    }
}
Versions pick_message(uint8_t b, Kind k) {
    switch (b % 4) {
    case 0: return {odd_message, 3};
    case 1: return {many + 3, 7};
    default: return versions::message_list(k);
    }
}

struct Channel {
    Kind kind;
    Versions host_fw, host_msg;
    IcHost host;
    IcGuest guest;
    uint64_t beats_sent = 0;
    alignas(8) uint8_t last[max_request_size] = {};
    uint32_t last_size = 0;
    uint64_t last_trans = 0;

    Channel(Kind k, Versions hf, Versions hm, Versions gf, Versions gm)
        : kind(k), host_fw(hf), host_msg(hm), host(k, hf, hm), guest(k, gf, gm) {}

    void check() const {
        CHECK(host.log().size() <= IcLog::log_entries && guest.log().size() <= IcLog::log_entries);
        if (host.state() == IcHost::State::ready) {
            CHECK(offered(host_fw, host.framework_version()));
            CHECK(offered(host_msg, host.message_version()));
        }
        CHECK(host.heartbeats_answered() + host.missed() <= beats_sent);
        if (host.kind() == Kind::shutdown)
            CHECK(host.heartbeats_answered() == 0 && host.missed() == 0);
    }
};

// The guest answers `size` bytes; checks the answer's shape. Returns its size.
uint32_t guest_answers(IcGuest& g, uint16_t type, uint64_t trans, const uint8_t* bytes, uint32_t size, uint8_t* out,
                       uint32_t capacity) {
    Exact in(size);
    memcpy(in.p, bytes, size);
    const Answer a = g.answer(packet_of(type, trans, in.p, size), out, capacity);
    CHECK(a.size == 0 || a.size == size);
    CHECK(a.size <= capacity);
    if (a.size != 0) {
        CHECK(a.packet.trans_id == trans && a.packet.type == packet_type::data_inband);
        IcMessageHeader m;
        memcpy(&m, out + sizeof(PipeHeader), sizeof m);
        CHECK(m.flags == (header_flag::transaction | header_flag::response));
    }
    return a.size;
}

HostEvent host_sees(IcHost& h, uint16_t type, uint64_t trans, const uint8_t* bytes, uint32_t size) {
    Exact in(size);
    memcpy(in.p, bytes, size);
    return h.on_response(packet_of(type, trans, in.p, size));
}

// Makes the pipe msgsize and icmsgsize of an answer cut to `size` bytes fit inside it.
void fit_sizes(uint8_t* bytes, uint32_t size) {
    const uint32_t pipe = size - sizeof(PipeHeader);
    memcpy(bytes + 4, &pipe, 4);
    IcMessageHeader m;
    memcpy(&m, bytes + sizeof(PipeHeader), sizeof m);
    if (m.size > size - header_size)
        m.size = static_cast<uint16_t>(size - header_size);
    memcpy(bytes + sizeof(PipeHeader), &m, sizeof m);
}

// The host builds a request of the fuzzer's choice; the guest answers; the host sees the answer,
// edited when the fuzzer says so. An unedited answer to a request the host could build is accepted.
void round_trip(Channel& c, Input& in) {
    alignas(8) static uint8_t request[max_request_size];
    const uint8_t what = in.u8();
    Request r{};
    uint16_t type = message_type::negotiate;
    if (what % 3 == 0) {
        r = c.host.build_negotiate(request, what & 0x80 ? in.u8() : sizeof request);
    } else if (what % 3 == 1) {
        const uint64_t seq = in.u8() < 16 ? ~uint64_t{0} - in.u8() : in.take(8);
        const bool sendable = c.host.kind() == Kind::heartbeat && c.host.state() == IcHost::State::ready;
        r = c.host.build_heartbeat(seq, request, sizeof request);
        CHECK((r.size != 0) == sendable);
        type = message_type::heartbeat;
        if (r.size != 0)
            c.beats_sent++;
    } else {
        r = c.host.build_shutdown({in.u8() % 8u, in.u32(), in.u32()}, request, sizeof request);
        type = message_type::shutdown;
    }
    if (r.size == 0)
        return;
    CHECK(r.size <= max_request_size && c.host.outstanding());
    memcpy(c.last, request, r.size);
    c.last_size = r.size;
    c.last_trans = r.packet.trans_id;
    alignas(8) static uint8_t answer[max_request_size];
    const uint32_t n = guest_answers(c.guest, r.packet.type, r.packet.trans_id, request, r.size, answer, sizeof answer);
    if (n == 0)
        return;
    const uint8_t edit = in.u8();
    uint32_t size = n;
    if (edit & 1) {   // the guest rewrites some bytes of its answer
        for (uint32_t k = in.u8() % 8; k; k--)
            answer[in.u16() % n] = in.u8();
    }
    if (edit & 2) {   // or sends less of it, sometimes with sizes that agree
        size = in.u16() % (n + 1);
        if (size >= header_size && (edit & 4))
            fit_sizes(answer, size);
    }
    const bool untouched = (edit & 3) == 0;
    const HostEvent e = host_sees(c.host, packet_type::data_inband, r.packet.trans_id, answer, size);
    if (untouched) {
        CHECK(e != HostEvent::refused);
        if (type == message_type::heartbeat)
            CHECK(e == HostEvent::heartbeat);
        if (type == message_type::negotiate)
            CHECK((e == HostEvent::negotiated) == c.guest.negotiated());
        CHECK(!c.host.outstanding());
    }
}

// An answer made from the last request: the response flag and fuzzer-chosen fields.
void forge(Channel& c, Input& in) {
    if (c.last_size == 0)
        return;
    alignas(8) uint8_t bytes[max_request_size];
    memcpy(bytes, c.last, c.last_size);
    IcMessageHeader m;
    memcpy(&m, bytes + sizeof(PipeHeader), sizeof m);
    const uint8_t f = in.u8();
    m.flags = static_cast<uint8_t>(f & 0x80 ? in.u8() : header_flag::transaction | header_flag::response);
    if (f & 1)
        m.type = in.u8() % 6;
    if (f & 2)
        m.size = in.u16();
    if (f & 4)
        m.status = in.u8() < 128 ? status_ok : in.u32();
    if (f & 8)
        m.transaction = in.u8();
    memcpy(bytes + sizeof(PipeHeader), &m, sizeof m);
    if (f & 0x10) {   // negotiate counts and versions
        const uint16_t counts[2] = {static_cast<uint16_t>(in.u8() % 4), static_cast<uint16_t>(in.u8() % 4)};
        if (c.last_size >= negotiate_versions_at + 8) {
            memcpy(bytes + header_size, counts, 4);
            const uint32_t a = many[in.u8() % 10], b = many[in.u8() % 10];
            const IcVersion va{static_cast<uint16_t>(a >> 16), static_cast<uint16_t>(a)};
            const IcVersion vb{static_cast<uint16_t>(b >> 16), static_cast<uint16_t>(b)};
            memcpy(bytes + negotiate_versions_at, &va, 4);
            memcpy(bytes + negotiate_versions_at + 4, &vb, 4);
        }
    }
    if (f & 0x20 && c.last_size >= header_size + 8) {   // a sequence number near the right one
        uint64_t seq;
        memcpy(&seq, bytes + header_size, 8);
        seq += in.u8() % 3;
        memcpy(bytes + header_size, &seq, 8);
    }
    if (f & 0x40) {
        uint32_t pipe = in.u16();
        memcpy(bytes + 4, &pipe, 4);
    }
    const uint32_t size = in.u8() < 200 ? c.last_size : in.u16() % (c.last_size + 1);
    if (size >= header_size && size < c.last_size && (in.u8() & 1))
        fit_sizes(bytes, size);   // cut, but with sizes that agree: the checks behind them run
    const uint64_t trans = in.u8() < 220 ? c.last_trans : in.u8();
    (void)host_sees(c.host, in.u8() < 240 ? packet_type::data_inband : in.u8(), trans, bytes, size);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    const uint8_t setup = in.u8();
    const bool odd = setup & 0x80;
    Channel channels[2] = {
        Channel(Kind::heartbeat, odd ? pick_framework(in.u8()) : versions::framework_list(),
                odd ? pick_message(in.u8(), Kind::heartbeat) : versions::message_list(Kind::heartbeat),
                setup & 1 ? pick_framework(in.u8()) : versions::framework_list(),
                setup & 2 ? pick_message(in.u8(), Kind::heartbeat) : versions::message_list(Kind::heartbeat)),
        Channel(Kind::shutdown, odd ? pick_framework(in.u8()) : versions::framework_list(),
                odd ? pick_message(in.u8(), Kind::shutdown) : versions::message_list(Kind::shutdown),
                setup & 4 ? pick_framework(in.u8()) : versions::framework_list(),
                setup & 8 ? pick_message(in.u8(), Kind::shutdown) : versions::message_list(Kind::shutdown)),
    };
    while (in.n) {
        const uint8_t op = in.u8();
        Channel& c = channels[op >> 7];
        switch (op % 8) {
        case 0: case 1: case 2:
            round_trip(c, in);
            break;
        case 3: case 4:
            forge(c, in);
            break;
        case 5: {   // raw bytes as the guest's answer, any packet type and transaction
            const uint16_t type = in.u8() < 200 ? packet_type::data_inband : in.u8();
            const uint64_t trans = in.u8() % 8;
            const uint32_t len = in.u16() % 2200;
            const uint32_t n = len < in.n ? len : static_cast<uint32_t>(in.n);
            (void)host_sees(c.host, type, trans, in.p, n);
            in.p += n;
            in.n -= n;
            break;
        }
        case 6: {   // raw bytes as the host's request, answered into an exact buffer
            const uint16_t type = in.u8();
            const uint64_t trans = in.u8();
            const uint8_t exact = in.u8();
            const uint32_t other = in.u16() % 2200;
            const uint32_t len = in.u16() % 2200;
            const uint32_t n = len < in.n ? len : static_cast<uint32_t>(in.n);
            const uint32_t capacity = exact < 200 ? n : other;   // sometimes too small, or larger
            Exact out(capacity);
            (void)guest_answers(c.guest, type, trans, in.p, n, out.p, capacity);
            in.p += n;
            in.n -= n;
            break;
        }
        default:
            if (in.u8() & 1)
                (void)c.host.expire();
            else
                c.host.reset();
            break;
        }
        c.check();
    }
    return 0;
}
