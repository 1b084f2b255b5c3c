// Guest suite `child-utilities`, run as a CHILD partition whose configuration says `shutdown=S`
// (`tools/run --suite child-utilities --suite-smp N` adds shutdown=8): the heartbeat and shutdown
// channels (partitions/root/vmbus_ic.*) answered by the portable guest end (vmbus/ic.hpp,
// IcGuest, modelled on Linux's hv_utils). Hypothesis: the root offers both, negotiates when each
// opens (framework 3.0; heartbeat 3.0, shutdown 3.2), sends a heartbeat every second with a
// sequence number one past the last, refuses an answer nobody asked for and beats on, and asks
// for a shutdown S seconds after the child started. The suite ends as a guest shutting down does:
// it answers the shutdown request, prints its totals and halts for good; the root ends it as
// `shutdown`.
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/suite.hpp"
#include "tests/guest/vectors.hpp"
#include "tests/guest/vmbus_session.hpp"
#include "vmbus/ic.hpp"

namespace {

namespace ic = vmbus::ic;
using vmbus_session::pump_until;

constexpr unsigned planned = 8;
constexpr uint8_t v_vmbus = 0x52;

struct Utility {
    explicit Utility(ic::Kind kind) : guest(kind) {}
    vmbus::ClientChannel* ch = nullptr;
    ic::IcGuest guest;
    alignas(8) uint8_t answer[ic::max_request_size] = {};
    uint32_t answer_size = 0;
    uint64_t answer_trans = 0;
    uint32_t requests = 0;
    uint64_t seqs[16] = {};   // the seq of each heartbeat request, in order
    uint32_t beats = 0;
};
Utility heartbeat(ic::Kind::heartbeat);
Utility shutdown(ic::Kind::shutdown);

// Answers every request in the channel's inbound ring, as Linux's util callback does.
void serve(Utility& u) {
    if (!u.ch)
        return;
    alignas(8) uint8_t buffer[ic::max_request_size + 64];
    vmbus::Packet p{};
    while (u.ch->receive(buffer, sizeof buffer, p) == vmbus::RingStatus::ok) {
        u.requests++;
        ic::Answer a = u.guest.answer(p, u.answer, sizeof u.answer);
        if (a.size == 0)
            continue;
        if (u.guest.kind() == ic::Kind::heartbeat && u.guest.heartbeats() > u.beats) {
            if (u.beats < 16)
                u.seqs[u.beats] = u.guest.last_seq();
            u.beats++;
        }
        u.answer_size = a.size;
        u.answer_trans = a.packet.trans_id;
        static_cast<void>(u.ch->send(a.packet, u.answer, a.size));
    }
    u.ch->done_receiving();
}

template <class F> bool wait(F done, uint64_t ms) {
    return pump_until(
        [&] {
            serve(heartbeat);
            serve(shutdown);
            return done();
        },
        ms);
}

bool open(Utility& u, const vmbus::Guid& cls) {
    uint8_t id[16];
    __builtin_memcpy(id, cls.bytes, 16);
    u.ch = vmbus_session::open_device(id, 2, 2);
    return u.ch != nullptr;
}

void heartbeat_checks(suite::Reporter& r) {
    bool opened = open(heartbeat, ic::heartbeat_class);
    bool negotiated = opened && wait([] { return heartbeat.guest.negotiated(); }, 3000);
    r.check(negotiated && heartbeat.guest.framework_version() == ic::make_version(3, 0) &&
                heartbeat.guest.message_version() == ic::make_version(3, 0),
            "the heartbeat channel opens; the root negotiates framework 3.0, message 3.0");
    if (!negotiated)
        r.diag("opened %d, requests %u", opened, heartbeat.requests);

    // The root beats once a second from negotiation: three within 3.5 s, each seq one past the last.
    bool three = negotiated && wait([] { return heartbeat.beats >= 3; }, 3500);
    bool consecutive = three;
    for (uint32_t i = 1; i < 3 && consecutive; i++)
        consecutive = heartbeat.seqs[i] == heartbeat.seqs[i - 1] + 1;
    r.check(three && consecutive, "heartbeats arrive about once a second, each seq one past the last, all answered");
    r.diag("heartbeats: %u, seqs %lu %lu %lu", heartbeat.beats, heartbeat.seqs[0], heartbeat.seqs[1], heartbeat.seqs[2]);

    // The last answer again, after the root took the first: nothing outstanding, so the root
    // refuses it (its log says so) and goes on beating.
    bool resent = three && heartbeat.ch->send(vmbus::OutPacket{vmbus::packet_type::data_inband, 0,
                                                               heartbeat.answer_trans},
                                              heartbeat.answer, heartbeat.answer_size) == vmbus::RingStatus::ok;
    uint32_t before = heartbeat.beats;
    bool more = resent && wait([before] { return heartbeat.beats >= before + 2; }, 3500);
    r.check(more, "an answer sent twice: refused by the root, which beats on");
    r.check(heartbeat.guest.log().total() == 0, "every request the root sent was well formed");
    if (heartbeat.guest.log().total())
        r.diag("guest refusals %lu, first %s", heartbeat.guest.log().total(),
               ic::to_string(heartbeat.guest.log().at(0).fault));
}

void shutdown_checks(suite::Reporter& r) {
    bool opened = open(shutdown, ic::shutdown_class);
    bool negotiated = opened && wait([] { return shutdown.guest.negotiated(); }, 3000);
    r.check(negotiated && shutdown.guest.message_version() == ic::make_version(3, 2),
            "the shutdown channel opens; the root negotiates message version 3.2");
    // The root asks S seconds after the child started (S = 8 from tools/run; within 20 s here).
    uint64_t halts = vmbus_session::idle_halts(), since = vectors::ref_now();
    bool asked = negotiated && wait([] { return shutdown.guest.shutdown_requested(); }, 20'000);
    uint64_t waited_ms = (vectors::ref_now() - since) / 10'000;
    r.check(asked && shutdown.guest.shutdown().flags == ic::shutdown_flag::shutdown,
            "the shutdown request arrives (a plain shutdown) and is answered S_OK");
    // Seconds of waiting with heartbeats the only traffic: VP 0 halts between them (at least once
    // per 10 ms wake-up period) instead of spinning on the reference counter (vmbus_session::idle).
    halts = vmbus_session::idle_halts() - halts;
    r.check(waited_ms < 1000 || halts >= waited_ms / 100,
            "VP 0 halts while it waits for the request (wake-up timer or SINT 2), it does not spin");
    r.diag("waited %lu ms for the request, halted %lu times", waited_ms, halts);
    if (asked)
        r.diag("shutdown requested: flags %u, reason 0x%x", shutdown.guest.shutdown().flags,
               shutdown.guest.shutdown().reason_code);
}

} // namespace

void rt::ap_main(uint32_t) {
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(planned);
    r.diag("child-utilities: backend %s, %u processors", h.backend, h.processor_count);
    bool synic = vmbus_session::init(h, v_vmbus);
    vectors::sti();
    vmbus::VmbusClient& client = vmbus_session::client();
    bool offered = synic && vmbus_session::connect() && client.find(ic::heartbeat_class) &&
                   client.find(ic::shutdown_class);
    r.check(offered, "contact, and the heartbeat and shutdown offers (Hyper-V's class GUIDs)");
    if (offered) {
        heartbeat_checks(r);
        shutdown_checks(r);
    }
    int code = r.finish();
    if (code != 0)
        return code;
    // Shut down as the root asked: halt for good with interrupts off (the root's scheduler
    // sees every VP halted with nothing to wake it and ends the child as `shutdown`).
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}
