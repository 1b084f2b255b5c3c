// A partition kernel that only proves the portable VMBus core (vmbus/) compiles under the
// freestanding flags and links with nothing but the partition runtime (tests/unit/CMakeLists.txt).
// Booted, it sends one packet around a ring, parses one message, negotiates an IC channel and
// starts a storvsc target's initialisation, so it doubles as a smoke test.
#include "partitions/rt/rt.hpp"
#include "vmbus/gpadl.hpp"
#include "vmbus/ic.hpp"
#include "vmbus/ring.hpp"
#include "vmbus/storvsc.hpp"

namespace {

alignas(4096) vmbus::RingControl control;
alignas(4096) uint8_t data[4096];
uint8_t disk[512];

} // namespace

int rt::partition_main(const root_abi::RootHandoff&) {
    using namespace vmbus;
    const RingMemory m{&control, data, sizeof data};
    RingWriter w(m);
    RingReader r(m);
    static const char hello[] = "vmbus";
    uint8_t buffer[64];
    Packet p{};
    const bool ring_ok = w.init() == RingStatus::ok && r.attach() == RingStatus::ok &&
                         w.write(OutPacket{}, hello, sizeof hello).status == RingStatus::ok &&
                         r.read(buffer, sizeof buffer, p) == RingStatus::ok && p.data_size == 8;
    const auto request = make_message<RequestOffers>();
    Parsed parsed;
    const bool message_ok = parse(&request, sizeof request, parsed) == MessageError::ok &&
                            parsed.as<RequestOffers>() != nullptr;
    // The IC utility protocol: a heartbeat channel negotiated between both ends on buffers.
    ic::IcHost host(ic::Kind::heartbeat);
    ic::IcGuest guest(ic::Kind::heartbeat);
    alignas(8) static uint8_t ask[ic::max_request_size], answer[ic::max_request_size];
    const ic::Request rq = host.build_negotiate(ask, sizeof ask);
    const Packet in{rq.packet.type, 0, rq.packet.trans_id, 16 + rq.size, 16, ask, rq.size};
    const ic::Answer an = guest.answer(in, answer, sizeof answer);
    const Packet back{an.packet.type, 0, an.packet.trans_id, 16 + an.size, 16, answer, an.size};
    const bool ic_ok = rq.size != 0 && an.size != 0 && host.on_response(back) == ic::HostEvent::negotiated;
    // A storvsc target over a one-sector RAM disk answers BEGIN_INITIALIZATION.
    storvsc::MemoryDisk image{disk, sizeof disk};
    storvsc::StorageTarget target(storvsc::memory_backend(&image), storvsc::GuestMemory{});
    alignas(8) uint8_t vstor[16 + sizeof(storvsc::VstorPacket)] = {};
    vstor[16] = static_cast<uint8_t>(storvsc::Operation::begin_initialization);
    storvsc::Reply reply;
    target.handle(Packet{packet_type::data_inband, flag_completion_requested, 1, sizeof vstor, 16, vstor + 16,
                         sizeof(storvsc::VstorPacket)},
                  reply);
    const bool storvsc_ok = target.disk_usable() && reply.send && reply.packet.status == storvsc::status_success &&
                            target.state() == storvsc::StorageTarget::State::initializing;
    rt::log("vmbus_link_check: ring=%d message=%d ic=%d storvsc=%d\n", ring_ok, message_ok, ic_ok, storvsc_ok);
    return ring_ok && message_ok && ic_ok && storvsc_ok ? 0 : 1;
}

void rt::ap_main(uint32_t) {}
