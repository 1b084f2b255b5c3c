#include "partitions/root/vmbus_host.hpp"

#include "hv/lib/new.hpp"
#include "hv/lib/spinlock.hpp"
#include "partitions/root/calls.hpp"
#include "partitions/root/signals.hpp"
#include "partitions/root/vmbus_console.hpp"
#include "partitions/root/vmbus_ic.hpp"
#include "partitions/root/vmbus_storage.hpp"
#include "partitions/root/vmbus_testdev.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"
#include "vmbus/server.hpp"

namespace root::vmbus_host {
namespace {

constexpr uint32_t sint = signals::vmbus_sint;
// HvPostMessage's message type for VMBus channel messages, both ways (Linux's vmbus_post_msg).
constexpr uint32_t channel_message_type = 1;
constexpr uint32_t relids = vmbus::server_limits::max_channels + 1;   // relid 0 is never a channel

// Ports the root owns (VP 0, SINT 2) and connections it sends on; ids are per partition and
// chosen apart from the echo service's (echo.cpp).
constexpr uint32_t root_message_port(uint32_t slot, bool legacy) { return 0x4000 + slot * 4 + (legacy ? 1 : 0); }
constexpr uint32_t root_event_port(uint32_t slot, uint32_t relid) { return 0x4100 + slot * 64 + relid; }
// The root's SINT 2 event flag for a child's channel: 64 per child slot, 8 slots < 2048 flags.
constexpr uint32_t root_flag(uint32_t slot, uint32_t relid) { return slot * 64 + relid; }
constexpr uint32_t to_child_message(uint32_t slot, uint32_t vp, uint32_t s) { return 0x5000 + slot * 256 + vp * 16 + s; }
constexpr uint32_t to_child_event(uint32_t slot, uint32_t vp) { return 0x6000 + slot * 16 + vp; }
// Ports on the child (its own id space).
constexpr uint32_t child_message_port(uint32_t vp, uint32_t s) { return 0x200 + vp * 16 + s; }
constexpr uint32_t child_event_port(uint32_t vp) { return 0x300 + vp; }
static_assert(root_flag(max_children - 1, relids - 1) < 2048);

// A device offered to the child: its provider, and whether it wants serving without a signal
// (its last signal left packets in the ring, or it has something to send on its own).
struct Offered {
    const vmbus::DeviceProvider* provider = nullptr;
    bool (*pending)(void* self) = nullptr;
    void* self = nullptr;
    uint32_t relid = 0;
};
constexpr uint32_t max_devices = 8;

struct Host {
    hv::Spinlock lock;
    Child* child = nullptr;
    vmbus::VmbusServer* server = nullptr;
    uint64_t server_pages = 0, server_count = 0;
    VmbusConsole console;
    VmbusTestDevice testdev;
    VmbusUtility heartbeat, shutdown;
    VmbusStorage storage;
    Offered devices[max_devices];
    uint32_t device_count = 0;
    uint64_t message_ports[4] = {};   // the child's (vp, sint) message ports made so far
    uint32_t event_ports = 0;         // the child's VPs with an event port
    uint64_t faults_seen = 0;         // server log entries already printed
    uint32_t logged = 0;              // log lines for this child (bounded)
    uint64_t next_sweep = 0;          // TSC of the next look for packets left without a signal
    uint32_t unsignalled = 0;         // times that look found some
    bool waited[max_devices] = {};    // the last look found packets (a signal may be on its way)
};
// How often the root looks at every open channel for packets no signal announced.
constexpr uint64_t sweep_ms = 100;
Host hosts[max_children];
bool poll_mode = false;

void note(Host& h, const char* what, uint32_t a, uint32_t b) {
    if (h.logged++ < 16)
        rt::log("root: child %s: vmbus: %s (0x%x, 0x%x)\n", h.child->config.name, what, a, b);
}

bool ok(Status s, Host& h, const char* what) {
    if (!rt::hc::ok(s))
        note(h, what, rt::hc::code(s), 0);
    return rt::hc::ok(s);
}

uint32_t slot_of(const Host& h) { return static_cast<uint32_t>(&h - hosts); }

// ServerTransport: the child's side of the ports is made the first time it is needed.
bool post(void* ctx, uint32_t vp, uint8_t s, const void* message, uint32_t size) {
    Host& h = *static_cast<Host*>(ctx);
    const Child& c = *h.child;
    uint32_t slot = slot_of(h), i = vp * 16 + s;
    if (vp >= c.vp_count || s >= 16)
        return true;   // the server checks both; nothing to deliver to
    if (!(h.message_ports[i / 64] & (1ull << (i % 64)))) {
        if (!ok(create_message_port(c.id, child_message_port(vp, s), vp, s, 1), h, "CreatePort on the child") ||
            !ok(connect_port(1, to_child_message(slot, vp, s), c.id, child_message_port(vp, s), abi::PortType::message),
                h, "ConnectPort to the child"))
            return true;   // dropped (logged): retrying cannot help
        h.message_ports[i / 64] |= 1ull << (i % 64);
    }
    Status st = post_message(to_child_message(slot, vp, s), channel_message_type, message, size);
    // TLFS: INSUFFICIENT_BUFFERS means the child's queue for that SINT is full; the server keeps
    // the message and flush() retries. Anything else (its SynIC is off) is the child's to mind.
    if (st == Status::insufficient_buffers)
        return false;
    ok(st, h, "PostMessage to the child");
    return true;
}

void signal(void* ctx, uint32_t vp, uint32_t relid) {
    Host& h = *static_cast<Host*>(ctx);
    const Child& c = *h.child;
    if (vp >= c.vp_count || vp >= 32 || relid >= relids)
        return;
    if (!(h.event_ports & (1u << vp))) {
        if (!ok(create_event_port(c.id, child_event_port(vp), vp, sint, 0, relids, 1), h, "event port on the child") ||
            !ok(connect_port(1, to_child_event(slot_of(h), vp), c.id, child_event_port(vp), abi::PortType::event), h,
                "event connection to the child"))
            return;
        h.event_ports |= 1u << vp;
    }
    ok(signal_event(to_child_event(slot_of(h), vp), static_cast<uint16_t>(relid)), h, "SignalEvent to the child");
}

// The child's RAM is one run mapped at GPA 0 (child.hpp): a page is the child's when it is in it.
bool owns_page(void* ctx, uint64_t pfn) { return pfn < static_cast<Host*>(ctx)->child->ram_pages; }

uint8_t* map(void* ctx, uint64_t first_pfn, uint32_t pages) {
    const Child& c = *static_cast<Host*>(ctx)->child;
    if (first_pfn >= c.ram_pages || pages > c.ram_pages - first_pfn)
        return nullptr;
    return c.at(first_pfn * 4096);
}

void unmap(void*, uint8_t*, uint32_t) {}   // the root's mapping of the child's RAM stays

// New entries of the server's log, each once, within the child's bound of log lines.
void report_faults(Host& h) {
    h.faults_seen = h.server->log().each_since(h.faults_seen, [&h](const vmbus::LogEntry& e) {
        if (h.logged++ < 16)
            rt::log("root: child %s: vmbus: refused %s (message %u, detail %u, value 0x%x)\n", h.child->config.name,
                    vmbus::to_string(e.fault), e.message_type, e.detail, e.value);
    });
}

// Whether `h` serves the live child `children[slot]`; with h.lock held.
// Whether the slot's server takes messages: offered, and its child has not ended. Not the
// scheduler's list: a child posts before the scheduler has it (StartVp comes first).
bool serving(const Host& h) { return h.server && h.child && h.child->end == EndReason::none; }

void release_server(Host& h) {
    if (h.server) {
        h.server->reset();
        h.server->~VmbusServer();
        rt::pages::free_run(h.server_pages, h.server_count);
    }
    h.server = nullptr;
}

// Offers one device: its relid, the root's event port for the child's signals on it (flag
// root_flag(slot, relid) of VP 0's SINT 2) and the child's connection to that port.
bool add(Host& h, const vmbus::DeviceProvider* provider, bool (*pending)(void*), void* self) {
    if (h.device_count == max_devices)
        return false;
    uint32_t slot = slot_of(h), r = h.server->add_device(provider);
    if (r == 0 || r >= relids) {
        note(h, "no relid for a device", r, 0);
        return false;
    }
    h.devices[h.device_count++] = Offered{provider, pending, self, r};
    return ok(create_event_port(1, root_event_port(slot, r), 0, sint, static_cast<uint16_t>(root_flag(slot, r)), 1,
                                h.child->id),
              h, "channel event port") &&
           ok(connect_port(h.child->id, h.server->connection_for(r), 1, root_event_port(slot, r),
                           abi::PortType::event),
              h, "channel event connection");
}

} // namespace

bool offer(Child& c, uint32_t slot) {
    if (slot >= max_children)
        return false;
    Host& h = hosts[slot];
    h.child = &c;
    h.server_count = (sizeof(vmbus::VmbusServer) + 4095) / 4096;
    h.server_pages = rt::pages::alloc_run(h.server_count);
    if (!h.server_pages) {
        note(h, "no memory for the server", static_cast<uint32_t>(h.server_count), 0);
        return false;
    }
    vmbus::ServerConfig cfg{};
    cfg.vp_count = c.vp_count;
    h.server = new (rt::pages::ptr(h.server_pages))
        vmbus::VmbusServer(vmbus::ServerTransport{&h, post, signal, map, unmap}, vmbus::Platform{&h, owns_page}, cfg);
    using T = abi::PortType;
    h.console.init(c.config.name, slot);
    bool done = add(h, h.console.provider(), [](void* s) { return static_cast<VmbusConsole*>(s)->more(); },
                    &h.console);
    // The utilities every Hyper-V guest gets; Linux's hv_utils binds them by class.
    auto utility = [](void* s) { return static_cast<VmbusUtility*>(s)->due(); };
    h.heartbeat.init(c, slot, vmbus::ic::Kind::heartbeat);
    h.shutdown.init(c, slot, vmbus::ic::Kind::shutdown);
    done = done && add(h, h.heartbeat.provider(), utility, &h.heartbeat) &&
           add(h, h.shutdown.provider(), utility, &h.shutdown);
    if (done && c.disk) {
        h.storage.init(c, slot, c.disk, c.disk_bytes);
        done = add(h, h.storage.provider(), [](void* s) { return static_cast<VmbusStorage*>(s)->more(); },
                   &h.storage);
    }
    if (done && c.config.testdev) {
        h.testdev.init(c.config.name, slot);
        done = add(h, h.testdev.provider(), [](void* s) { return static_cast<VmbusTestDevice*>(s)->more(); },
                   &h.testdev);
    }
    done = done &&
                ok(create_message_port(1, root_message_port(slot, false), 0, sint, c.id), h, "message port") &&
                ok(connect_port(c.id, vmbus::connection::message_v5, 1, root_message_port(slot, false), T::message), h,
                   "message connection 4") &&
                ok(create_message_port(1, root_message_port(slot, true), 0, sint, c.id), h, "legacy message port") &&
                ok(connect_port(c.id, vmbus::connection::message_legacy, 1, root_message_port(slot, true), T::message),
                   h, "message connection 1");
    if (!done) {
        forget(slot);
        return false;
    }
    return true;
}

void allow_poll_mode(bool allowed) { poll_mode = allowed; }
bool poll_mode_allowed() { return poll_mode; }

bool poll() {
    bool again = false;
    tlfs::root::Message m;
    while (signals::take_message(sint, m)) {
        uint32_t port = static_cast<uint32_t>(m.header.origin);
        uint32_t slot = (port - 0x4000) / 4;
        bool legacy = (port & 3) == 1;
        if (port < 0x4000 || slot >= max_children || (port & 3) > 1)
            continue;   // nothing else posts to SINT 2 of VP 0
        Host& h = hosts[slot];
        hv::IrqLockGuard g(h.lock);
        if (!serving(h))
            continue;
        if (static_cast<uint32_t>(m.header.type) != channel_message_type) {
            note(h, "message of another type dropped", static_cast<uint32_t>(m.header.type), 0);
            continue;
        }
        uint32_t size = m.header.payload_size <= sizeof m.payload ? m.header.payload_size : sizeof m.payload;
        h.server->receive(legacy ? vmbus::connection::message_legacy : vmbus::connection::message_v5, m.payload, size);
    }
    for (uint32_t slot = 0; slot < max_children; slot++) {
        Host& h = hosts[slot];
        hv::IrqLockGuard g(h.lock);
        if (!serving(h))
            continue;
        // A signal the child made is never lost by the ring rules (ring.hpp), but a child's driver
        // or a hypervisor defect could lose one; then the channel would wait for the next signal
        // for ever. So every 100 ms each open channel's ring is looked at (one load), and a
        // channel with packets and no signal is served, with a log line: a safety net and the
        // evidence of a lost signal.
        uint64_t now = rt::rdtsc();
        bool sweep = now >= h.next_sweep;
        if (sweep)
            h.next_sweep = now + sweep_ms * rt::tsc_khz();
        for (uint32_t d = 0; d < h.device_count; d++) {
            const Offered& o = h.devices[d];
            if (signals::take_flag(sint, root_flag(slot, o.relid)) || (o.pending && o.pending(o.self))) {
                h.server->signalled(o.relid);
                h.waited[d] = false;
            } else if (sweep) {
                // Packets at two looks in a row, with no signal in between: that one was lost.
                uint32_t bytes = h.server->waiting(o.relid);
                if (bytes && h.waited[d]) {
                    if (h.unsignalled++ < 8)
                        note(h, "packets waited 100 ms without a signal (relid, bytes)", o.relid, bytes);
                    h.server->signalled(o.relid);
                }
                h.waited[d] = bytes != 0 && !h.waited[d];
            }
        }
        for (uint32_t d = 0; d < h.device_count && !again; d++)
            again = h.devices[d].pending && h.devices[d].pending(h.devices[d].self);
        if (h.server->queued())
            h.server->flush();
        if (h.server->log().total() != h.faults_seen)
            report_faults(h);
    }
    return again;
}

void forget(uint32_t slot) {
    if (slot >= max_children)
        return;
    Host& h = hosts[slot];
    hv::IrqLockGuard g(h.lock);
    if (h.server) {
        // The child's ports and the connections to them go with its partition; the root's are
        // the root's to delete.
        static_cast<void>(delete_port(1, root_message_port(slot, false)));
        static_cast<void>(delete_port(1, root_message_port(slot, true)));
        for (uint32_t d = 0; d < h.device_count; d++)
            static_cast<void>(delete_port(1, root_event_port(slot, h.devices[d].relid)));
    }
    release_server(h);
    h.device_count = 0;
    for (auto& w : h.message_ports)
        w = 0;
    h.event_ports = 0;
    h.faults_seen = 0;
    h.logged = 0;
    h.next_sweep = 0;
    h.unsignalled = 0;
    for (bool& w : h.waited)
        w = false;
}

} // namespace root::vmbus_host
