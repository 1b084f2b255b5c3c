#include "partitions/root/echo.hpp"

#include "partitions/abi/echo.hpp"
#include "partitions/root/calls.hpp"
#include "partitions/root/signals.hpp"
#include "partitions/rt/rt.hpp"

namespace root::echo {
namespace {

namespace proto = root_abi::echo;

// Port and connection ids. The root's ports take its echo messages and events on VP 0, SINT 1
// (one event flag per child slot); the child's ports take the answers.
constexpr uint32_t root_message_port(uint32_t slot) { return 0x1000 + 2 * slot; }
constexpr uint32_t root_event_port(uint32_t slot) { return 0x1001 + 2 * slot; }
constexpr uint32_t child_event_port = 0x7f;
constexpr uint32_t child_message_port(uint32_t vp, uint32_t sint) { return 0x100 + vp * 16 + sint; }
constexpr uint32_t answer_event_connection(uint32_t slot) { return 0x2000 + slot; }
constexpr uint32_t answer_message_connection(uint32_t slot, uint32_t vp, uint32_t sint) {
    return 0x3000 + slot * 256 + vp * 16 + sint;
}

struct Slot {
    bool offered = false;
    Child* child = nullptr;
    uint64_t created[4] = {};   // the child's (vp, sint) message ports made so far, one bit each
    uint32_t refused_logged = 0;
};
Slot slots[max_children];

bool ok(Status s, const Child& c, const char* what) {
    if (!rt::hc::ok(s))
        rt::log("root: child %s: echo service: %s: status 0x%x\n", c.config.name, what, rt::hc::code(s));
    return rt::hc::ok(s);
}

void refuse(Slot& s, const Child& c, const char* why, uint32_t a, uint32_t b) {
    if (s.refused_logged++ < 4)
        rt::log("root: child %s: echo request dropped: %s (%u, %u)\n", c.config.name, why, a, b);
}

// The port on the child for answers to (vp, sint), made the first time it is asked for.
bool answer_port(Slot& s, const Child& c, uint32_t slot, uint32_t vp, uint32_t sint) {
    uint32_t i = vp * 16 + sint;
    if (s.created[i / 64] & (1ull << (i % 64)))
        return true;
    if (!ok(create_message_port(c.id, child_message_port(vp, sint), vp, sint, 1), c, "CreatePort on the child") ||
        !ok(connect_port(1, answer_message_connection(slot, vp, sint), c.id, child_message_port(vp, sint),
                         abi::PortType::message),
            c, "ConnectPort to the child"))
        return false;
    s.created[i / 64] |= 1ull << (i % 64);
    return true;
}

void answer_message(const abi::Message& m) {
    uint32_t port = static_cast<uint32_t>(m.header.origin);
    uint32_t slot = (port - 0x1000) / 2;
    Child* child = slot < max_children ? __atomic_load_n(&slots[slot].child, __ATOMIC_ACQUIRE) : nullptr;
    if (port < 0x1000 || !child || !slots[slot].offered || child->end != EndReason::none)
        return;   // not an echo port (nothing else posts to SINT 1 of VP 0), or a child that ended
    Child& c = *child;
    Slot& s = slots[slot];
    proto::EchoRequest req{};
    uint32_t size = m.header.payload_size <= sizeof req ? m.header.payload_size : sizeof req;
    __builtin_memcpy(&req, m.payload, size);
    if (size < 16 || req.count == 0 || req.count > proto::max_count) {
        refuse(s, c, "size or count", size, req.count);
        return;
    }
    if (req.vp >= c.vp_count || req.vp >= 16 || req.sint >= 16) {
        refuse(s, c, "no such VP or SINT", req.vp, req.sint);
        return;
    }
    if (!answer_port(s, c, slot, req.vp, req.sint))
        return;
    for (uint32_t i = 0; i < req.count; i++) {
        Status st = post_message(answer_message_connection(slot, req.vp, req.sint),
                                 static_cast<uint32_t>(m.header.type), m.payload, m.header.payload_size);
        if (!rt::hc::ok(st)) {   // the child's SynIC is off, or its queue is full: its to mind
            refuse(s, c, "PostMessage status", rt::hc::code(st), i);
            return;
        }
    }
}

} // namespace

bool offer(Child& c, uint32_t slot) {
    if (slot >= max_children)
        return false;
    slots[slot] = Slot{};
    slots[slot].child = &c;
    using T = abi::PortType;
    bool done = ok(create_message_port(1, root_message_port(slot), 0, proto::answer_sint, c.id), c, "message port") &&
                ok(connect_port(c.id, proto::message_connection, 1, root_message_port(slot), T::message), c,
                   "message connection") &&
                ok(create_event_port(1, root_event_port(slot), 0, proto::answer_sint, static_cast<uint16_t>(slot), 1, c.id),
                   c, "event port") &&
                ok(connect_port(c.id, proto::event_connection, 1, root_event_port(slot), T::event), c,
                   "event connection") &&
                ok(create_event_port(c.id, child_event_port, 0, proto::answer_sint, proto::answer_flag, 1, 1), c,
                   "the child's event port") &&
                ok(connect_port(1, answer_event_connection(slot), c.id, child_event_port, T::event), c,
                   "the answer connection");
    slots[slot].offered = done;
    return done;
}

void poll() {
    abi::Message m;
    while (signals::take_message(proto::answer_sint, m))
        if (m.header.type != abi::MessageType::none)
            answer_message(m);
    for (uint32_t slot = 0; slot < max_children; slot++) {
        Slot& s = slots[slot];
        Child* child = __atomic_load_n(&s.child, __ATOMIC_ACQUIRE);   // forget() may run beside
        if (!s.offered || !child || child->end != EndReason::none || !signals::take_flag(proto::answer_sint, slot))
            continue;
        Status st = signal_event(answer_event_connection(slot), 0);
        if (!rt::hc::ok(st))
            refuse(s, *child, "SignalEvent status", rt::hc::code(st), 0);
    }
}

void forget(uint32_t slot) {
    if (slot >= max_children)
        return;
    // The child's own ports and the connections to them went with its partition; the root's
    // two ports for it are the root's to delete.
    if (slots[slot].offered) {
        static_cast<void>(delete_port(1, root_message_port(slot)));
        static_cast<void>(delete_port(1, root_event_port(slot)));
    }
    slots[slot] = Slot{};
}

} // namespace root::echo
