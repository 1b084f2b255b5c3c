// What the VMBus server, client and loopback tests share: a child's guest memory (pages the child
// owns, mapped for the root as one range), transports that record what each end posts and
// signals, and an echo device.
#pragma once
#include <gtest/gtest.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <memory>
#include <set>
#include <vector>

#include "vmbus/client.hpp"
#include "vmbus/server.hpp"

namespace vmbus_test {

using namespace vmbus;

// The child's RAM: `pages` pages from guest page `base`, page-aligned, zeroed.
struct GuestMemory {
    static constexpr uint64_t base = 0x100;
    uint32_t pages;
    uint8_t* bytes;
    std::set<uint64_t> not_owned;
    std::set<uint64_t> unmappable;   // owned, but the root's platform refuses to map them
    uint32_t mapped = 0;             // ranges mapped now
    explicit GuestMemory(uint32_t n = 64)
        : pages(n), bytes(static_cast<uint8_t*>(aligned_alloc(page_size, size_t{n} * page_size))) {
        memset(bytes, 0, size_t{n} * page_size);
    }
    ~GuestMemory() { free(bytes); }
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;
    uint8_t* page(uint64_t pfn) { return bytes + (pfn - base) * page_size; }
    bool owns(uint64_t pfn) const { return pfn >= base && pfn < base + pages && !not_owned.count(pfn); }

    static bool owns_page(void* m, uint64_t pfn) { return static_cast<GuestMemory*>(m)->owns(pfn); }
    Platform platform() { return Platform{this, owns_page}; }
};

inline Guid guid(uint8_t first) {
    Guid g{};
    g.bytes[0] = first;
    return g;
}

struct Posted {
    uint32_t vp;
    uint8_t sint;
    std::vector<uint8_t> bytes;
    MessageType type() const {
        uint32_t t;
        memcpy(&t, bytes.data(), 4);
        return static_cast<MessageType>(t);
    }
    template <class T> T as() const {
        T m{};
        EXPECT_EQ(type(), T::kind);
        memcpy(&m, bytes.data(), bytes.size() < sizeof m ? bytes.size() : sizeof m);
        return m;
    }
};

// The root's side of a child: records posts and signals, maps GuestMemory.
struct FakeServerTransport {
    GuestMemory& memory;
    std::vector<Posted> posted;
    std::vector<std::pair<uint32_t, uint32_t>> signals;   // {vp, relid}
    bool busy = false;
    explicit FakeServerTransport(GuestMemory& m) : memory(m) {}

    static bool post(void* c, uint32_t vp, uint8_t sint, const void* m, uint32_t size) {
        auto* t = static_cast<FakeServerTransport*>(c);
        if (t->busy)
            return false;
        const auto* b = static_cast<const uint8_t*>(m);
        t->posted.push_back(Posted{vp, sint, std::vector<uint8_t>(b, b + size)});
        return true;
    }
    static void signal(void* c, uint32_t vp, uint32_t relid) {
        static_cast<FakeServerTransport*>(c)->signals.emplace_back(vp, relid);
    }
    static uint8_t* map(void* c, uint64_t first, uint32_t pages) {
        GuestMemory& m = static_cast<FakeServerTransport*>(c)->memory;
        for (uint64_t p = first; p < first + pages; p++)
            if (!m.owns(p) || m.unmappable.count(p))
                return nullptr;
        m.mapped++;
        return m.page(first);
    }
    static void unmap(void* c, uint8_t* base, uint32_t) {
        GuestMemory& m = static_cast<FakeServerTransport*>(c)->memory;
        EXPECT_GE(base, m.bytes);
        EXPECT_GT(m.mapped, 0u);
        m.mapped--;
    }
    ServerTransport transport() { return ServerTransport{this, post, signal, map, unmap}; }
};

// The child's side: records posts {connection, bytes} and signals (connection ids).
struct FakeClientTransport {
    std::vector<std::pair<uint32_t, std::vector<uint8_t>>> posted;
    std::vector<uint32_t> signals;
    bool busy = false;

    static bool post(void* c, uint32_t conn, const void* m, uint32_t size) {
        auto* t = static_cast<FakeClientTransport*>(c);
        if (t->busy)
            return false;
        const auto* b = static_cast<const uint8_t*>(m);
        t->posted.emplace_back(conn, std::vector<uint8_t>(b, b + size));
        return true;
    }
    static void signal(void* c, uint32_t conn) { static_cast<FakeClientTransport*>(c)->signals.push_back(conn); }
    ClientTransport transport() { return ClientTransport{this, post, signal}; }
};

// Sends every packet back with its transaction id; counts opens and closes.
struct EchoDevice {
    DeviceProvider provider{};
    int opened = 0, closed = 0, signalled = 0;
    bool refuse_open = false;
    RingStatus last = RingStatus::ok;
    explicit EchoDevice(uint8_t cls = 0xec) {
        provider = DeviceProvider{guid(cls), guid(static_cast<uint8_t>(cls + 1)), "echo", this, on_open, on_close,
                                  on_signal};
    }
    static bool on_open(void* c, ServerChannel&) {
        auto* d = static_cast<EchoDevice*>(c);
        d->opened++;
        return !d->refuse_open;
    }
    static void on_close(void* c, ServerChannel&) { static_cast<EchoDevice*>(c)->closed++; }
    static bool on_signal(void* c, ServerChannel& ch) {
        auto* d = static_cast<EchoDevice*>(c);
        d->signalled++;
        uint8_t buffer[4096];
        Packet p{};
        RingStatus s;
        while ((s = ch.receive(buffer, sizeof buffer, p)) == RingStatus::ok) {
            OutPacket out{};
            out.trans_id = p.trans_id;
            out.type = packet_type::data_inband;
            d->last = ch.send(out, p.data, p.data_size);
        }
        ch.done_receiving();
        d->last = s;
        return !is_protocol_error(s);
    }
};

} // namespace vmbus_test
