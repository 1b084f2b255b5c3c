// Guest suite `child-vmbus`, run as a CHILD partition (`tools/run --suite child-vmbus
// --suite-smp N`): VMBus between this child and the root's server (partitions/root/vmbus_host.*)
// through the portable client (vmbus/client.hpp) on the child's SynIC, SINT 2, as Linux's
// hv_vmbus uses it (HYPERV-FACTS "VMBus"). Hypothesis: the root negotiates the newest version
// Linux offers, offers the console device (partitions/abi/vmbus_console.hpp) on connection
// 0x100 + relid, creates a GPADL of the child's pages and refuses one naming pages past its RAM,
// opens the console over a ring GPADL and refuses opens over a bad GPADL, bad geometry or a VP
// the child does not have; lines sent on the console come back prefixed, across the rings' wrap;
// close, reopen, GPADL teardown and unload answer as the protocol says; messages before contact,
// on the wrong connection or after unload are not served.
#include "hypercalls/abi/partition.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/abi/vmbus_console.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/suite.hpp"
#include "tests/guest/vectors.hpp"
#include "tests/guest/vmbus_session.hpp"
#include "vmbus/client.hpp"

namespace {

namespace console = root_abi::vmbus_console;

constexpr unsigned planned = 26;
constexpr uint8_t v_vmbus = 0x52;
constexpr uint64_t quiet_ms = 200;
// A relid the root never offers (it offers a handful from 1; relids go to 32).
constexpr uint32_t unknown_relid = 31;

vmbus::OpenResult last_open{};                   // the last OpenResult, whoever asked for it
uint32_t open_results;
vmbus::GpadlCreated last_created{};              // the last GpadlCreated for a raw header
uint32_t raw_created;
// Ids of the requests this suite posts itself, bypassing the client: their answers are not the
// client's, which would count them as unexpected.
constexpr uint32_t raw_open_id = 0x5150, raw_gpadl = 0xabc00;

vmbus::VmbusClient& client = vmbus_session::client();
using vmbus_session::pump_for;
using vmbus_session::pump_until;

// Keeps the answers to this suite's raw requests from the client.
bool take_raw(const uint8_t* bytes, uint32_t size) {
    uint32_t type;
    __builtin_memcpy(&type, bytes, 4);
    bool raw = false;
    if (type == static_cast<uint32_t>(vmbus::MessageType::open_result) && size >= sizeof last_open) {
        __builtin_memcpy(&last_open, bytes, sizeof last_open);
        open_results++;
        raw = last_open.open_id >= raw_open_id;
    }
    if (type == static_cast<uint32_t>(vmbus::MessageType::gpadl_created) && size >= sizeof last_created) {
        vmbus::GpadlCreated c;
        __builtin_memcpy(&c, bytes, sizeof c);
        if (c.gpadl == raw_gpadl) {
            last_created = c;
            raw_created++;
            raw = true;
        }
    }
    return raw;
}

bool post(void*, uint32_t conn, const void* msg, uint32_t size) { return vmbus_session::post(conn, msg, size); }

template <class T> bool post_raw(uint32_t conn, const T& m) { return post(nullptr, conn, &m, sizeof m); }

uint64_t ram_end(const root_abi::RootHandoff& h) {
    uint64_t end = 0;
    for (uint32_t i = 0; i < h.region_count && i < root_abi::kMaxRegions; i++)
        if (h.regions[i].type == root_abi::RegionType::usable && h.regions[i].base + h.regions[i].length > end)
            end = h.regions[i].base + h.regions[i].length;
    return (end + 0xfff) & ~0xfffull;
}

vmbus::Guid console_class() {
    vmbus::Guid g{};
    __builtin_memcpy(g.bytes, console::class_id, 16);
    return g;
}

// Contact and version negotiation, with the messages a child can send too early.
void contact_checks(suite::Reporter& r, uint32_t vps) {
    vmbus_session::reset_messages_seen();
    bool posted = post_raw(vmbus::connection::message_v5, vmbus::make_message<vmbus::RequestOffers>());
    auto c = vmbus::make_message<vmbus::InitiateContact>();
    c.version_requested = vmbus::version::v5_3;
    c.target_vcpu = vps;   // one past the child's last VP
    c.interrupt_page_or_sint = vmbus::message_sint;
    posted = posted && post_raw(vmbus::connection::message_v5, c);
    pump_for(quiet_ms);
    r.check(posted && vmbus_session::messages_seen() == 0,
            "RequestOffers before contact and InitiateContact naming a VP past the child's: posted, never answered");

    bool ok = client.connect() && pump_until([] { return client.state() != vmbus::VmbusClient::State::contacting; });
    r.check(ok && client.state() == vmbus::VmbusClient::State::connected && client.version() == vmbus::version::v5_3 &&
                client.message_connection() == vmbus::connection::message_v5,
            "InitiateContact 5.3 on connection 4: accepted, VersionResponse names connection 4");
    if (client.state() != vmbus::VmbusClient::State::connected)
        r.diag("client state %u, version 0x%x, last post status 0x%x", static_cast<uint32_t>(client.state()),
               client.version(), rt::hc::code(vmbus_session::last_post()));

    vmbus_session::reset_messages_seen();
    posted = post_raw(vmbus::connection::message_legacy, vmbus::make_message<vmbus::RequestOffers>());
    pump_for(quiet_ms);
    r.check(posted && vmbus_session::messages_seen() == 0 && client.offer_count() == 0,
            "RequestOffers on connection 1 after 5.3 was negotiated: not served (the early one neither)");
}

uint32_t offer_checks(suite::Reporter& r) {
    bool ok = client.request_offers() && pump_until([] { return client.offers_complete(); });
    vmbus::ClientChannel* ch = client.find(console_class());
    r.check(ok && client.offer_count() >= 1 && ch && ch->relid() >= 1 && ch->relid() <= 32,
            "RequestOffers: the console's offer among the offers, then AllOffersDelivered");
    r.diag("%u offers", client.offer_count());
    if (!ch)
        return 0;
    r.check(ch->connection_id() == 0x100 + ch->relid(), "the console's offer names connection 0x100 + relid");
    return ch->relid();
}

// A GPADL's creation, answered: its state and status (0 when it never got an answer).
bool gpadl_answered(uint32_t id) {
    return pump_until([id] {
        const vmbus::ClientGpadl* g = client.gpadl(id);
        return !g || g->state != vmbus::ClientGpadl::State::pending;
    });
}

bool refused_gpadl(uint32_t relid, uint64_t first_pfn, uint32_t pages) {
    uint32_t id = client.create_gpadl(relid, first_pfn, pages);
    const vmbus::ClientGpadl* g = id ? client.gpadl(id) : nullptr;
    bool refused = id && gpadl_answered(id) && g && g->state == vmbus::ClientGpadl::State::failed &&
                   g->status == 0xC0000001;   // STATUS_UNSUCCESSFUL
    if (id)
        static_cast<void>(client.teardown_gpadl(id));   // forgets a refused one locally
    return refused;
}

// OpenChannel posted as the child writes it, answered by OpenResult with relid and open_id echoed.
bool open_refused(uint32_t relid, uint32_t gpadl, uint32_t vp, uint32_t downstream) {
    auto o = vmbus::make_message<vmbus::OpenChannel>();
    o.child_relid = relid;
    o.open_id = raw_open_id + open_results;
    o.ring_gpadl = gpadl;
    o.target_vp = vp;
    o.downstream_offset = downstream;
    uint32_t before = open_results;
    bool posted = post_raw(vmbus::connection::message_v5, o);
    bool answered = posted && pump_until([before] { return open_results != before; });
    return answered && last_open.child_relid == relid && last_open.open_id == o.open_id && last_open.status != 0;
}

uint32_t ring_gpadl;
uint64_t ring_pfn;
constexpr uint32_t send_pages = 2, recv_pages = 2;   // one data page each way: lines wrap it

void gpadl_checks(suite::Reporter& r, uint32_t relid, uint64_t ram_pages, uint32_t vps) {
    r.check(refused_gpadl(relid, ram_pages, 4), "a GPADL of pages past the child's RAM: GpadlCreated refuses it");
    r.check(refused_gpadl(relid, ram_pages - 2, 4), "a GPADL whose last two pages are past the RAM: refused");
    // A GpadlHeader as a child writes it (the client refuses to name a relid never offered):
    // one range of one page (Linux's gpa_range: byte_count, byte_offset, then the PFNs).
    alignas(8) uint8_t m[sizeof(vmbus::GpadlHeader) + 16] = {};
    auto hdr = vmbus::make_message<vmbus::GpadlHeader>();
    hdr.child_relid = unknown_relid;
    hdr.gpadl = raw_gpadl;
    hdr.range_buflen = 16;
    hdr.range_count = 1;
    const uint32_t range[2] = {4096, 0};
    const uint64_t pfn = 0x100;
    __builtin_memcpy(m, &hdr, sizeof hdr);
    __builtin_memcpy(m + sizeof hdr, range, 8);
    __builtin_memcpy(m + sizeof hdr + 8, &pfn, 8);
    bool posted = post(nullptr, vmbus::connection::message_v5, m, sizeof m);
    bool answered = posted && pump_until([] { return raw_created != 0; });
    r.check(answered && last_created.child_relid == unknown_relid && last_created.status == 0xC0000001,
            "a GPADL for a relid never offered: refused");
    ring_pfn = rt::pages::alloc_run(send_pages + recv_pages) / 4096;
    ring_gpadl = ring_pfn ? client.create_gpadl(relid, ring_pfn, send_pages + recv_pages) : 0;
    const vmbus::ClientGpadl* g = ring_gpadl ? client.gpadl(ring_gpadl) : nullptr;
    r.check(g && gpadl_answered(ring_gpadl) && g->state == vmbus::ClientGpadl::State::created && g->status == 0,
            "a GPADL of four of the child's pages: created, status 0");
    r.check(open_refused(relid, 0x7777, 0, send_pages), "OpenChannel over a GPADL id never created: refused");
    r.check(open_refused(relid, ring_gpadl, vps, send_pages), "OpenChannel targeting a VP past the child's: refused");
    r.check(open_refused(relid, ring_gpadl, 0, 0) && open_refused(relid, ring_gpadl, 0, 1),
            "OpenChannel with an inbound ring at page 0 or 1 (rings need two pages): refused");
    r.check(open_refused(unknown_relid, ring_gpadl, 0, send_pages), "OpenChannel of a relid never offered: refused");
}

bool open_console(uint32_t relid) {
    uint8_t* ring = static_cast<uint8_t*>(rt::pages::ptr(ring_pfn * 4096));
    vmbus::ClientChannel* ch = client.channel(relid);
    return ch && client.open(relid, ring_gpadl, ring, send_pages, recv_pages) &&
           pump_until([ch] { return ch->state() != vmbus::ClientChannel::State::opening; }) &&
           ch->state() == vmbus::ClientChannel::State::open && ch->open_status() == 0;
}

// Sends `text` in packets of at most `chunk` bytes.
bool send_text(vmbus::ClientChannel& ch, const char* text, uint32_t chunk) {
    uint32_t n = 0;
    while (text[n])
        n++;
    static uint64_t trans = 1;
    for (uint32_t at = 0; at < n; at += chunk) {
        uint32_t len = n - at < chunk ? n - at : chunk;
        const console::Header h{len, 0};
        const vmbus::Span parts[2] = {{&h, sizeof h}, {text + at, len}};
        if (ch.send(vmbus::OutPacket{vmbus::packet_type::data_inband, 0, trans++}, parts, 2) != vmbus::RingStatus::ok)
            return false;
    }
    return true;
}

// Waits for the next echo packet and compares it with "echo: LINE\n".
bool expect_echo(vmbus::ClientChannel& ch, const char* line, suite::Reporter& r) {
    alignas(8) uint8_t buffer[256];
    vmbus::Packet p{};
    vmbus::RingStatus s = vmbus::RingStatus::empty;
    pump_until([&] {
        s = ch.receive(buffer, sizeof buffer, p);
        return s != vmbus::RingStatus::empty;
    });
    ch.done_receiving();
    char want[160];
    uint32_t n = 0;
    for (const char* q = console::echo_prefix; *q && n < sizeof want; q++)
        want[n++] = *q;
    for (const char* q = line; *q && n + 1 < sizeof want; q++)
        want[n++] = *q;
    want[n++] = '\n';
    console::Header h{};
    bool got = s == vmbus::RingStatus::ok && p.type == vmbus::packet_type::data_inband && p.data_size >= sizeof h;
    if (got)
        __builtin_memcpy(&h, p.data, sizeof h);
    // The packet's data: the header, the bytes, then zeros up to the next 8 bytes (ring.hpp).
    bool same = got && h.size == n && p.data_size == ((sizeof h + n + 7) & ~7u) &&
                __builtin_memcmp(p.data + sizeof h, want, n) == 0;
    if (!same)
        r.diag("echo of \"%s\": ring status %u, %u bytes, header %u", line, static_cast<uint32_t>(s),
               got ? p.data_size : 0, h.size);
    return same;
}

void console_checks(suite::Reporter& r, uint32_t relid) {
    r.check(open_console(relid), "OpenChannel of the console over the ring GPADL: OpenResult status 0");
    vmbus::ClientChannel* ch = client.channel(relid);
    if (!ch || ch->state() != vmbus::ClientChannel::State::open) {
        r.diag("channel state %u, open status 0x%x", ch ? static_cast<uint32_t>(ch->state()) : 0,
               ch ? ch->open_status() : 0);
        for (int i = 0; i < 5; i++)
            r.skip("console round trips", "the console did not open");
        return;
    }
    static_cast<void>(ch->take_events());
    bool one = send_text(*ch, "hello from child-vmbus\n", 64) && expect_echo(*ch, "hello from child-vmbus", r);
    // The root writes the ring, then signals: the packet can be read before the flag is set.
    uint32_t events = 0;
    bool signalled = pump_until([&] {
        events += ch->take_events();
        return events >= 1;
    });
    r.check(one && signalled, "a line sent on the console comes back prefixed, with the root's signal");

    // One byte per packet: the root drains while the child writes (the missed-signal race).
    bool split = send_text(*ch, "one line, one byte per packet\n", 1) &&
                 expect_echo(*ch, "one line, one byte per packet", r);
    bool two = send_text(*ch, "first\nsecond\n", 64) && expect_echo(*ch, "first", r) && expect_echo(*ch, "second", r);
    r.check(split && two, "a line in 30 packets and two lines in one packet: each echoed whole, in order");

    bool hostile = send_text(*ch, "bell\a and\x7f del\n", 64) && expect_echo(*ch, "bell. and. del", r);
    r.check(hostile, "bytes outside printable ASCII come back as '.'");

    // 100 lines of 48 bytes each way: both one-page rings wrap about a dozen times.
    bool all = true;
    char line[64];
    for (uint32_t i = 0; i < 100 && all; i++) {
        uint32_t n = 0;
        for (const char* q = "line "; *q; q++)
            line[n++] = *q;
        line[n++] = static_cast<char>('0' + i / 10);
        line[n++] = static_cast<char>('0' + i % 10);
        for (; n < 47; n++)
            line[n] = static_cast<char>('a' + (n + i) % 26);
        line[n] = '\n';
        line[n + 1] = 0;
        all = send_text(*ch, line, 64);
        line[n] = 0;
        all = all && expect_echo(*ch, line, r);
    }
    r.check(all, "100 lines round trip in order across both rings' wrap-around");

    bool closed = client.close(relid) && ch->state() == vmbus::ClientChannel::State::offered;
    pump_for(20);
    bool reopened = closed && open_console(relid) && send_text(*ch, "after reopening\n", 64) &&
                    expect_echo(*ch, "after reopening", r);
    closed = client.close(relid);   // whatever happened: the GPADL teardown below needs it closed
    r.check(reopened && closed, "CloseChannel, then the same GPADL opens again and carries a line");
    pump_for(20);
}

void teardown_checks(suite::Reporter& r, uint32_t relid) {
    bool down = client.teardown_gpadl(ring_gpadl) && pump_until([] {
                    const vmbus::ClientGpadl* g = client.gpadl(ring_gpadl);
                    return !g || g->state == vmbus::ClientGpadl::State::free;
                });
    r.check(down, "GpadlTeardown of the ring GPADL: GpadlTorndown");
    r.check(open_refused(relid, ring_gpadl, 0, send_pages), "OpenChannel over the torn-down GPADL: refused");
    bool unloaded = client.unload() && pump_until([] { return client.state() == vmbus::VmbusClient::State::unloaded; });
    r.check(unloaded, "Unload: UnloadResponse");
    vmbus_session::reset_messages_seen();
    bool posted = post_raw(vmbus::connection::message_v5, vmbus::make_message<vmbus::RequestOffers>());
    pump_for(quiet_ms);
    r.check(posted && vmbus_session::messages_seen() == 0, "RequestOffers after Unload: not served");
    bool again = client.connect() && pump_until([] { return client.state() != vmbus::VmbusClient::State::contacting; }) &&
                 client.state() == vmbus::VmbusClient::State::connected && client.request_offers() &&
                 pump_until([] { return client.offers_complete(); }) && client.find(console_class());
    r.check(again, "a second contact after Unload: connected and the console offered again");
    r.check(client.ignored_messages() == 0, "the client never got a message it did not expect");
    if (client.ignored_messages())
        r.diag("ignored %u", client.ignored_messages());
}

} // namespace

void rt::ap_main(uint32_t) {
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(planned);
    r.diag("child-vmbus: backend %s, %u processors", h.backend, h.processor_count);
    bool synic = vmbus_session::init(h, v_vmbus);
    vmbus_session::set_message_hook(take_raw);
    r.check(synic, "the hypercall interface and the SynIC with SINT 2");
    vectors::sti();
    uint32_t vps = h.processor_count;
    contact_checks(r, vps);
    uint32_t relid = offer_checks(r);
    if (relid == 0 || client.state() != vmbus::VmbusClient::State::connected)
        return r.finish();   // the plan counts the checks left as missing
    gpadl_checks(r, relid, ram_end(h) / 4096, vps);
    console_checks(r, relid);
    teardown_checks(r, relid);
    return r.finish();
}
