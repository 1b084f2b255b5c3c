// Guest suite `child-ring-stress`, run as a CHILD partition started with the VMBus test device
// (`tools/run --suite child-ring-stress --suite-smp N`; the root's sink and responder,
// partitions/abi/vmbus_testdev.hpp). Hypothesis: every packet the child writes reaches the root
// once and in order, across many wraps of the ring, with producers on every VP sharing the
// channel; signals follow the ring's rules (at most one per packet, and the root never waits for
// one that does not come); requests are answered; a ring whose indices the child corrupts is
// closed by the root, which goes on serving the channel once it is opened again. Its `bench:`
// lines are the channel figures tools/bench records (docs/performance.md): throughput against
// memcpy in this guest, request/response latency against two SignalEvent round trips, and
// notifications per 1,000 packets.
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/abi/echo.hpp"
#include "partitions/abi/vmbus_testdev.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/suite.hpp"
#include "tests/guest/vectors.hpp"
#include "tests/guest/vmbus_session.hpp"
#include "tests/guest/vp_team.hpp"

namespace {

namespace proto = root_abi::vmbus_testdev;
namespace echo = root_abi::echo;
using vmbus_session::pump_once;
using vmbus_session::pump_until;

constexpr unsigned planned = 7;
constexpr uint8_t v_vmbus = 0x52, v_echo = 0x53;
// Outbound ring: 64 pages, 252 KiB of data (a 64 KiB packet fits three times); inbound: 8 pages.
constexpr uint32_t send_pages = 64, recv_pages = 8;
constexpr uint32_t data_bytes = (send_pages - 1) * 4096;

vmbus::ClientChannel* ch;
uint32_t vp_count = 1;
alignas(64) uint8_t payload[64 * 1024];
uint64_t trans = 1;
// One writer at a time: the ring has one producer index (ring.hpp); VPs take turns.
uint32_t write_lock;

void lock() {
    while (__atomic_exchange_n(&write_lock, 1u, __ATOMIC_ACQUIRE))
        asm volatile("pause");
}
void unlock() { __atomic_store_n(&write_lock, 0u, __ATOMIC_RELEASE); }

// One packet, header then `size` payload bytes; waits while the ring is full (the root drains it
// on its own processor). False on any other ring status or after 3 s without room.
bool send(proto::Op op, uint32_t producer, uint64_t seq, uint32_t size, uint16_t flags = 0) {
    const proto::Header h{op, producer, seq};
    const vmbus::Span parts[2] = {{&h, sizeof h}, {payload, size}};
    for (uint64_t end = 0;;) {
        lock();
        vmbus::RingStatus s = ch->send(vmbus::OutPacket{vmbus::packet_type::data_inband, flags, trans++}, parts, 2);
        unlock();
        if (s == vmbus::RingStatus::ok)
            return true;
        if (s != vmbus::RingStatus::full)
            return false;
        uint64_t now = vectors::ref_now();
        if (end == 0)
            end = now + 3000 * 10'000ull;
        else if (now > end)
            return false;
        asm volatile("pause");
    }
}

// The next completion in the inbound ring with transaction id `id`, copied into `out`.
bool completion(uint64_t id, uint8_t* out, uint32_t size) {
    alignas(8) uint8_t buffer[256];
    vmbus::Packet p{};
    bool got = pump_until([&] {
        vmbus::RingStatus s = ch->receive(buffer, sizeof buffer, p);
        return s == vmbus::RingStatus::ok && p.type == vmbus::packet_type::completion && p.trans_id == id;
    });
    ch->done_receiving();
    if (got && p.data_size >= size)
        __builtin_memcpy(out, p.data, size);
    return got && p.data_size >= size;
}

// The root's counters since the last call (a stats request, answered once all before it were read).
bool stats(proto::Stats& out) {
    uint64_t id = trans;
    alignas(8) uint8_t reply[sizeof(proto::Header) + sizeof(proto::Stats)];
    if (!send(proto::Op::stats, 0, 0, 0) || !completion(id, reply, sizeof reply))
        return false;
    __builtin_memcpy(&out, reply + sizeof(proto::Header), sizeof out);
    return true;
}

// ---- producers on every VP ----
constexpr uint32_t per_vp = 1000;
uint32_t size_of(uint64_t seq) { return static_cast<uint32_t>(seq * 40 % 1000); }

bool produce(uint32_t vp) {
    bool ok = true;
    for (uint64_t seq = 0; seq < per_vp && ok; seq++)
        ok = send(proto::Op::sink, vp, seq, size_of(seq));
    return ok;
}

void single_producer_checks(suite::Reporter& r) {
    constexpr uint32_t n = 6000;
    uint64_t bytes = 0, signals0 = vmbus_session::signals_sent();
    bool sent = true;
    for (uint64_t seq = 0; seq < n && sent; seq++) {
        sent = send(proto::Op::sink, 0, seq, size_of(seq));
        bytes += (sizeof(proto::Header) + size_of(seq) + 7) & ~7u;
    }
    uint64_t signals = vmbus_session::signals_sent() - signals0;
    proto::Stats s{};
    bool got = sent && stats(s);
    r.check(got && s.packets == n && s.bytes == bytes && s.out_of_order == 0 && s.bad == 0 && s.next_seq[0] == n,
            "6000 packets of 16-1008 bytes from one VP: each reaches the root once, in order");
    r.diag("%lu KiB through a %u KiB ring: it wrapped %lu times", bytes >> 10, data_bytes >> 10,
           bytes / data_bytes);
    if (!got || s.packets != n)
        r.diag("sent %d, stats %d: packets %lu bytes %lu (want %lu), out of order %lu, bad %lu", sent, got, s.packets,
               s.bytes, bytes, s.out_of_order, s.bad);
    // The writer signals only when its packet made the ring non-empty (ring.hpp); the root's
    // served signals are at most those (several set the same flag before it looks).
    // In poll mode (a root with a second processor: vmbus_testdev.cpp) the root reads without
    // signals, so none at all is right too.
    r.check(got && signals <= n && s.signals <= signals + 1,
            "notifications: at most one per packet, and the root served no more than were sent");
    r.diag("notifications: %lu signals for %u packets (%lu per 1000), the root served %lu", signals, n,
           signals * 1000 / n, s.signals);
    rt::log("bench: vmbus-notifications-per-1000 count=%lu\n", signals * 1000 / n);
}

void multi_producer_checks(suite::Reporter& r) {
    uint32_t failed = vp_team::run(produce, vp_count, 60'000);
    proto::Stats s{};
    bool got = failed == 0 && stats(s);
    bool each = got;
    for (uint32_t vp = 0; vp < vp_count && got; vp++)
        each = each && s.next_seq[vp] == per_vp;
    r.check(each && s.packets == uint64_t{per_vp} * vp_count && s.out_of_order == 0 && s.bad == 0,
            "producers on every VP share the channel: every packet arrives once, each VP's in order");
    r.diag("%u producers x %u packets: packets %lu, out of order %lu, failed VPs %u", vp_count, per_vp, s.packets,
           s.out_of_order, failed);
}

// ---- requests, and the figures ----
uint64_t median(uint64_t* v, uint32_t n) {
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

void request_checks(suite::Reporter& r) {
    constexpr uint32_t n = 201;
    static uint64_t cycles[n];
    bool all = true;
    for (uint32_t i = 0; i < n && all; i++) {
        uint64_t id = trans, t0 = rt::rdtsc();
        proto::Header back{};
        all = send(proto::Op::request, 0, 0x1000 + i, 0, vmbus::flag_completion_requested) &&
              completion(id, reinterpret_cast<uint8_t*>(&back), sizeof back) && back.op == proto::Op::request &&
              back.seq == 0x1000 + i;
        cycles[i] = rt::rdtsc() - t0;
    }
    r.check(all, "201 requests: each answered by a completion with its transaction id and header");
    if (!all)
        return;
    // The base: a SignalEvent to the root's echo service and its answering event flag.
    volatile uint64_t* answer = vmbus_session::event_flags(echo::answer_sint);
    static uint64_t trips[n];
    bool echoed = true;
    for (uint32_t i = 0; i < n && echoed; i++) {
        uint64_t t0 = rt::rdtsc();
        echoed = rt::hc::fast(tlfs::call::signal_event, echo::event_connection) == tlfs::Status::success &&
                 pump_until([answer] { return (answer[0] >> echo::answer_flag) & 1; }, 1000);
        trips[i] = rt::rdtsc() - t0;
        __atomic_and_fetch(const_cast<uint64_t*>(answer), ~(1ull << echo::answer_flag), __ATOMIC_ACQ_REL);
    }
    if (echoed) {
        uint64_t latency = median(cycles, n), trip = median(trips, n);
        rt::log("bench: vmbus-request-response cycles=%lu\n", latency);
        rt::log("bench: signal-event-round-trip-x2 cycles=%lu\n", 2 * trip);
        r.diag("request/response median %lu cycles; SignalEvent round trip to the echo service %lu", latency, trip);
    } else {
        r.diag("the echo service did not answer: no latency figure");
    }
}

// Channel throughput child to root for one packet size against memcpy of the same size in this
// guest, both over 8 MiB (4 MiB for 64-byte packets) when the child's command line says `bench`
// (tools/bench), a sixteenth of that otherwise (tools/test: the lines are printed, not recorded).
bool bench_volume;
void throughput(uint32_t size, const char* name) {
    uint32_t data = size - sizeof(proto::Header);
    uint64_t total = (size == 64 ? 4ull << 20 : 8ull << 20) >> (bench_volume ? 0 : 4), n = total / size;
    proto::Stats s{};
    bool ok = stats(s);   // counters from zero
    uint64_t t0 = vectors::ref_now();
    for (uint64_t i = 0; i < n && ok; i++)
        ok = send(proto::Op::sink, 1, i, data);
    ok = ok && stats(s) && s.packets == n;
    uint64_t channel = vectors::ref_now() - t0;
    // memcpy of the same sizes into a buffer as large as the ring's data area.
    static uint8_t* sink_area = static_cast<uint8_t*>(rt::pages::ptr(rt::pages::alloc_run(data_bytes / 4096)));
    t0 = vectors::ref_now();
    for (uint64_t i = 0, at = 0; i < n; i++, at = (at + size) % (data_bytes - size))
        __builtin_memcpy(sink_area + at, payload, size);
    asm volatile("" ::"r"(sink_area) : "memory");
    uint64_t copy = vectors::ref_now() - t0;
    if (!ok || channel == 0 || copy == 0)
        return;
    // kB/s from 100 ns units: bytes * 10^7 / units / 10^3 (Bochs copies a few MB/s).
    rt::log("bench: %s kbps=%lu memcpy_kbps=%lu\n", name, n * size * 10'000 / channel, n * size * 10'000 / copy);
}

uint8_t* ring;

// A stats request answered within `ms`.
bool answered(uint32_t ms, proto::Stats& s) {
    uint64_t id = trans;
    alignas(8) uint8_t reply[sizeof(proto::Header) + sizeof(proto::Stats)];
    if (!send(proto::Op::stats, 0, 0, 0))
        return false;
    alignas(8) uint8_t buffer[256];
    vmbus::Packet p{};
    bool got = pump_until(
        [&] {
            return ch->receive(buffer, sizeof buffer, p) == vmbus::RingStatus::ok &&
                   p.type == vmbus::packet_type::completion && p.trans_id == id && p.data_size >= sizeof reply;
        },
        ms);
    ch->done_receiving();
    if (got)
        __builtin_memcpy(&s, p.data + sizeof(proto::Header), sizeof s);
    return got;
}

void hostile_checks(suite::Reporter& r) {
    // Malformed packets (shorter than the header, or not inband) are dropped and counted; the
    // channel stays.
    const uint32_t junk = 0xdead;
    lock();
    bool sent = ch->send(vmbus::OutPacket{vmbus::packet_type::data_inband, 0, trans++}, &junk, sizeof junk) ==
                    vmbus::RingStatus::ok &&
                ch->send(vmbus::OutPacket{vmbus::packet_type::completion, 0, trans++}, payload, 64) ==
                    vmbus::RingStatus::ok;
    unlock();
    proto::Stats s{};
    r.check(sent && stats(s) && s.bad == 2 && s.packets == 0,
            "a 4-byte packet and a completion sent to the root: both dropped as malformed, the channel serves on");

    // The outbound ring's write index past its data area, then a signal: the root must refuse the
    // ring without reading past it, close the channel and ignore it until the child closes it.
    auto* control = reinterpret_cast<vmbus::RingControl*>(ring);
    __atomic_store_n(&control->write_index, data_bytes + 8, __ATOMIC_RELEASE);
    static_cast<void>(rt::hc::fast(tlfs::call::signal_event, ch->connection_id()));
    vmbus_session::pump_for(100);
    bool ignored = !answered(500, s);
    uint32_t relid = ch->relid();
    bool closed = vmbus_session::client().close(relid);
    vmbus_session::pump_for(50);
    ch = closed ? vmbus_session::open_device(proto::class_id, 4, 4, 0, &ring) : nullptr;
    bool again = ch && answered(3000, s);
    r.check(ignored && again, "a write index past the ring: the root closes the channel; closed and opened again, "
                              "it serves");
    if (!ignored || !again)
        r.diag("answered while broken %d, closed %d, reopened %d", !ignored, closed, ch != nullptr);
}

} // namespace

void rt::ap_main(uint32_t) { vp_team::ap_main(); }

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(planned);
    r.diag("child-ring-stress: backend %s, %u processors", h.backend, h.processor_count);
    for (const char* c = h.cmdline; *c && !bench_volume; c++)
        bench_volume = c[0] == 'b' && c[1] == 'e' && c[2] == 'n' && c[3] == 'c' && c[4] == 'h';
    bool synic = vmbus_session::init(h, v_vmbus) &&
                 rt::probe_wrmsr(tlfs::msr::sint0 + echo::answer_sint, v_echo).vector < 0;
    vectors::sti();
    for (uint32_t i = 0; i < sizeof payload; i++)
        payload[i] = static_cast<uint8_t>(i * 7 + 1);
    ch = synic && vmbus_session::connect()
             ? vmbus_session::open_device(proto::class_id, send_pages, recv_pages, 0, &ring)
             : nullptr;
    r.check(ch != nullptr, "contact, the test device's offer, and its channel opened over a 72-page ring");
    if (!ch)
        return r.finish();
    if (h.processor_count > 1) {
        uint32_t started = rt::start_aps(h);
        vp_count = started < vectors::max_vps ? started : vectors::max_vps;
    }
    single_producer_checks(r);
    multi_producer_checks(r);
    request_checks(r);
    throughput(64, "vmbus-throughput-64");
    throughput(4096, "vmbus-throughput-4k");
    throughput(64 * 1024, "vmbus-throughput-64k");
    hostile_checks(r);
    return r.finish();
}
