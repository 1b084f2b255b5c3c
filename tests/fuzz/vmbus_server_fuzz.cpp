// libFuzzer target over the root's VMBus server (vmbus/server.hpp): one server per input, driven
// by a hostile child's sequence of raw messages, well-formed messages with fuzzer-chosen fields
// (so that GPADLs complete and channels open), signals, and rewrites of the child's memory under
// open rings; the root interleaves rescinds, hot-adds, resets and a busy message queue. Guest
// memory is one exact allocation, so ASan stops any access outside the child's pages. Beyond the
// sanitizers it checks: every answer parses and fits a SynIC message, the outbox and the log stay
// bounded, and what is mapped is exactly the rings of the open channels, each within the memory.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#include "tests/fuzz/vmbus_fuzz_input.hpp"
#include "vmbus/server.hpp"

using namespace vmbus;

namespace {

using vmbus_fuzz::Input;

constexpr uint64_t base_pfn = 0x80;
constexpr uint32_t guest_pages = 32;
constexpr uint32_t device_count = 3;

struct World {
    uint8_t* memory = nullptr;   // guest_pages pages from base_pfn
    uint32_t mappings = 0;
    uint32_t opens = 0, closes = 0;
    bool busy = false;
};
World world;

// The child owns every page of its memory except those 11 divides into 5; the platform refuses
// to map a range starting at a multiple of 7.
bool owns(void*, uint64_t pfn) { return pfn >= base_pfn && pfn < base_pfn + guest_pages && pfn % 11 != 5; }

bool post(void*, uint32_t vp, uint8_t sint, const void* m, uint32_t size) {
    CHECK(vp < 2 && sint < 16);
    Parsed p;
    CHECK(parse(m, size, p) == MessageError::ok);
    CHECK(size == p.size());
    return !world.busy;
}

void signal(void*, uint32_t vp, uint32_t relid) { CHECK(vp < 2 && relid >= 1 && relid <= server_limits::max_channels); }

uint8_t* map(void*, uint64_t first, uint32_t pages) {
    CHECK(pages >= 2 * server_limits::min_ring_pages);
    for (uint64_t p = first; p < first + pages; p++)
        CHECK(owns(nullptr, p));
    if (first % 7 == 0)
        return nullptr;
    world.mappings++;
    return world.memory + (first - base_pfn) * page_size;
}

void unmap(void*, uint8_t* base, uint32_t pages) {
    CHECK(world.mappings > 0);
    CHECK(base >= world.memory && base + uint64_t{pages} * page_size <= world.memory + guest_pages * page_size);
    world.mappings--;
}

bool on_open(void* refuse, ServerChannel&) {
    if (refuse != nullptr)
        return false;
    world.opens++;
    return true;
}

void on_close(void*, ServerChannel&) { world.closes++; }

// Echoes what it reads, as a device answering requests would.
bool on_signal(void*, ServerChannel& ch) {
    static uint8_t buffer[2048];
    Packet p{};
    RingStatus s;
    for (int n = 0; n < 64 && (s = ch.receive(buffer, sizeof buffer, p)) == RingStatus::ok; n++) {
        CHECK(p.data + p.data_size <= buffer + sizeof buffer);
        (void)ch.send(OutPacket{packet_type::completion, 0, p.trans_id}, p.data, p.data_size);
    }
    ch.done_receiving();
    return !is_protocol_error(s);
}

DeviceProvider devices[device_count];
const int refuse_marker = 0;

uint32_t pick_version(Input& in) {
    const uint8_t b = in.u8();
    return b < 200 ? version::linux_offers[b % 8] : in.u32();
}

template <class T> uint32_t emit(const T& m, uint8_t* out) {
    memcpy(out, &m, sizeof m);
    return sizeof m;
}

// A message whose only field is the relid.
template <class T> uint32_t with_relid(uint32_t relid, uint8_t* out) {
    auto m = make_message<T>();
    m.child_relid = relid;
    return emit(m, out);
}

// A well-formed message of a fuzzer-chosen type, fields from small domains; returns its size.
uint32_t synthesize(Input& in, uint8_t* out) {
    const uint8_t kind = in.u8() % 12;
    const uint32_t relid = in.u8() % 6;
    const uint32_t gpadl = in.u8() % 6;
    switch (kind) {
    case 0: {
        auto m = make_message<InitiateContact>();
        m.version_requested = pick_version(in);
        m.target_vcpu = in.u8() % 3;
        m.interrupt_page_or_sint = in.u8() < 240 ? message_sint : in.take(8);
        return emit(m, out);
    }
    case 1: case 2: {
        // A GPADL over contiguous pages (sometimes one swapped), header or body.
        const uint32_t pages = 1 + in.u8() % 12;
        const uint64_t first = base_pfn + in.u8() % (guest_pages + 2);
        const uint8_t twist = in.u8();
        uint32_t size;
        uint32_t count = pages;
        if (kind == 1) {
            auto h = make_message<GpadlHeader>();
            h.child_relid = relid;
            h.gpadl = gpadl;
            h.range_count = 1;
            h.range_buflen = static_cast<uint16_t>(8 + 8 * pages);
            memcpy(out, &h, sizeof h);
            const uint32_t bytes = pages * page_size - (twist & 0x10 ? 100 : 0);
            const uint32_t offset = twist & 0x20 ? 100 : 0;
            memcpy(out + sizeof h, &bytes, 4);
            memcpy(out + sizeof h + 4, &offset, 4);
            size = sizeof h + 8;
            if (twist & 0x40)
                count = in.u8() % (pages + 1);   // the rest in bodies
        } else {
            auto b = make_message<GpadlBody>();
            b.gpadl = gpadl;
            memcpy(out, &b, sizeof b);
            size = sizeof b;
            count = 1 + in.u8() % pages;
        }
        for (uint32_t i = 0; i < count; i++, size += 8) {
            const uint64_t pfn = first + ((twist & 0x80) && i == 1 ? 2 : i);
            memcpy(out + size, &pfn, 8);
        }
        return size;
    }
    case 3: {
        auto m = make_message<OpenChannel>();
        m.child_relid = relid;
        m.open_id = in.u8();
        m.ring_gpadl = gpadl;
        m.target_vp = in.u8() % 3;
        m.downstream_offset = in.u8() % 14;
        return emit(m, out);
    }
    case 4: return with_relid<CloseChannel>(relid, out);
    case 5: {
        auto m = make_message<GpadlTeardown>();
        m.child_relid = relid;
        m.gpadl = gpadl;
        return emit(m, out);
    }
    case 6: return with_relid<RelidReleased>(relid, out);
    case 7: return emit(make_message<Unload>(), out);
    default: return emit(make_message<RequestOffers>(), out);
    }
}

void check(const VmbusServer& s) {
    CHECK(s.queued() <= server_limits::outbox);
    CHECK(s.log().size() <= server_limits::log_entries);
    uint32_t open = 0;
    for (uint32_t relid = 1; relid <= server_limits::max_channels; relid++)
        if (const ServerChannel* ch = s.channel(relid); ch != nullptr && ch->state() == ServerChannel::State::open)
            open++;
    CHECK(open == world.mappings);
    CHECK(world.opens - world.closes == open);
    if (s.state() != VmbusServer::State::connected)
        CHECK(open == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    if (world.memory == nullptr) {
        world.memory = static_cast<uint8_t*>(aligned_alloc(page_size, guest_pages * page_size));
        for (uint32_t i = 0; i < device_count; i++) {
            Guid g{};
            g.bytes[0] = static_cast<uint8_t>(i);
            devices[i] = DeviceProvider{g, g, "fuzz", i == 2 ? const_cast<int*>(&refuse_marker) : nullptr,
                                        on_open, on_close, on_signal};
        }
    }
    memset(world.memory, 0, guest_pages * page_size);
    world.mappings = world.opens = world.closes = 0;
    world.busy = false;

    // About 330 KiB: one static home, constructed afresh for each input.
    alignas(VmbusServer) static uint8_t storage[sizeof(VmbusServer)];
    const ServerTransport transport{nullptr, post, signal, map, unmap};
    auto* server = new (storage) VmbusServer(transport, Platform{nullptr, owns}, ServerConfig{.vp_count = 2});
    for (const DeviceProvider& d : devices)
        CHECK(server->add_device(&d) != 0);

    while (in.n) {
        const uint8_t op = in.u8();
        switch (op % 8) {
        case 0: {   // raw bytes, up to 255 (beyond a SynIC message on purpose), exactly allocated
            uint32_t len = in.u8();
            len = len < in.n ? len : static_cast<uint32_t>(in.n);
            uint8_t* bytes = static_cast<uint8_t*>(malloc(len ? len : 1));
            memcpy(bytes, in.p, len);
            in.p += len;
            in.n -= len;
            const uint32_t conn = op & 0x80 ? connection::message_legacy : connection::message_v5;
            server->receive(op & 0x40 ? in.u32() : conn, bytes, len);
            free(bytes);
            break;
        }
        case 1: case 2: case 3: {
            uint8_t m[max_message_size];
            const uint32_t len = synthesize(in, m);
            server->receive(op & 0x80 ? connection::message_legacy : connection::message_v5, m, len);
            break;
        }
        case 4:
            server->signalled(in.u8() % 6);
            break;
        case 5: {   // the child rewrites its memory, rings included
            const uint32_t at = static_cast<uint32_t>(in.take(3) % (guest_pages * page_size));
            const uint32_t len = in.u8() % 32;
            for (uint32_t i = 0; i < len && at + i < guest_pages * page_size; i++)
                world.memory[at + i] = in.u8();
            break;
        }
        case 6: {   // a packet written properly into the child's outbound ring of a channel
            const uint32_t relid = 1 + in.u8() % device_count;
            const uint32_t len = in.u16() % 3000;
            const uint64_t trans = in.u8();
            const ServerChannel* ch = server->channel(relid);
            if (ch == nullptr || ch->state() != ServerChannel::State::open)
                break;
            uint8_t* ring = world.memory + (ch->ring_first_pfn() - base_pfn) * page_size;
            RingWriter w({reinterpret_cast<RingControl*>(ring), ring + page_size,
                          (ch->downstream_offset() - 1) * page_size});
            static uint8_t payload[3000];
            memset(payload, static_cast<int>(trans), len);
            if (w.attach() == RingStatus::ok)
                (void)w.write(OutPacket{packet_type::data_inband, 0, trans}, payload, len);
            server->signalled(relid);
            break;
        }
        default:    // the root
            switch (in.u8() % 6) {
            case 0: (void)server->rescind(in.u8() % 6); break;
            case 1: (void)server->add_device(&devices[in.u8() % device_count]); break;
            case 2: server->reset(); break;
            case 3: world.busy = !world.busy; break;
            default: server->flush(); break;
            }
            break;
        }
        check(*server);
    }
    server->reset();
    CHECK(world.mappings == 0 && world.opens == world.closes);
    server->~VmbusServer();
    return 0;
}
