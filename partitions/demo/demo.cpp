// The demo child `tools/run` boots with no arguments (docs/architecture.md, "The demo"): an
// enlightened child that uses only synthetic devices over VMBus, the way a Linux guest with its
// Hyper-V drivers would: it talks on its console channel, answers the root's heartbeats, uses
// its synthetic SCSI disk (identify, size, write a record and read it back), and shuts down when
// the root asks over the shutdown channel. The root prints what each child does. Its `args`
// word is the text it writes to its disk.
#include "hv/lib/format.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"
#include "partitions/abi/vmbus_console.hpp"
#include "tests/guest/vectors.hpp"
#include "tests/guest/vmbus_session.hpp"
#include "vmbus/ic.hpp"
#include "vmbus/storvsc_client.hpp"

namespace {

namespace ic = vmbus::ic;
namespace console = root_abi::vmbus_console;

constexpr uint8_t v_vmbus = 0x52;

vmbus::ClientChannel* console_ch;
uint64_t trans = 1;

// One line on the console channel (the root prints it as `NAME: vmbus-console: LINE`).
[[gnu::format(printf, 1, 2)]] void say(const char* fmt, ...) {
    char line[console::max_line];
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    auto n = static_cast<uint32_t>(hv::vformat(line, sizeof line - 1, fmt, ap));
    __builtin_va_end(ap);
    n = n < sizeof line - 1 ? n : static_cast<uint32_t>(sizeof line - 1);   // vformat says how long it would be
    line[n++] = '\n';
    if (!console_ch)
        return;
    const console::Header h{n, 0};
    const vmbus::Span parts[2] = {{&h, sizeof h}, {line, n}};
    static_cast<void>(console_ch->send(vmbus::OutPacket{vmbus::packet_type::data_inband, 0, trans++}, parts, 2));
    // The root echoes each line back; the demo does not need the echo: drop it.
    alignas(8) uint8_t echo[256];
    vmbus::Packet p{};
    vmbus_session::pump_until([&] { return console_ch->receive(echo, sizeof echo, p) == vmbus::RingStatus::ok; }, 500);
    console_ch->done_receiving();
}

// A utility channel answered as Linux's hv_utils does (vmbus/ic.hpp).
struct Utility {
    explicit Utility(ic::Kind kind) : guest(kind) {}
    vmbus::ClientChannel* ch = nullptr;
    ic::IcGuest guest;
};
Utility heartbeat(ic::Kind::heartbeat), shutdown(ic::Kind::shutdown);

void serve(Utility& u) {
    if (!u.ch)
        return;
    alignas(8) uint8_t in[ic::max_request_size + 64], out[ic::max_request_size];
    vmbus::Packet p{};
    while (u.ch->receive(in, sizeof in, p) == vmbus::RingStatus::ok) {
        ic::Answer a = u.guest.answer(p, out, sizeof out);
        if (a.size)
            static_cast<void>(u.ch->send(a.packet, out, a.size));
    }
    u.ch->done_receiving();
}

void serve_utilities() {
    serve(heartbeat);
    serve(shutdown);
}

vmbus::ClientChannel* open(const vmbus::Guid& cls, uint32_t pages = 2) {
    return vmbus_session::open_device(cls.bytes, pages, pages);
}

// ---- the disk: the storvsc guest end (vmbus/storvsc_client.hpp) over its channel ----
namespace st = vmbus::storvsc;
vmbus::ClientChannel* disk_ch;
uint64_t wait_until;

vmbus::RingStatus disk_send(void*, const vmbus::OutPacket& h, const vmbus::Span* parts, uint32_t count) {
    return disk_ch->send(h, parts, count);
}
vmbus::RingStatus disk_receive(void*, uint8_t* buffer, uint32_t capacity, vmbus::Packet& out) {
    return disk_ch->receive(buffer, capacity, out);
}
void disk_done(void*) { disk_ch->done_receiving(); }
// Between polls: the SynIC (signals, messages) and the heartbeats; 30 s per request, Linux's
// default SCSI command timeout (an emulator on a loaded host can stall a guest for seconds).
bool disk_wait(void*, uint32_t round) {
    if (round == 0)
        wait_until = vectors::ref_now() + 30'000 * 10'000ull;
    vmbus_session::pump_once();
    serve_utilities();
    return vectors::ref_now() < wait_until;
}
st::StorvscClient disk({nullptr, disk_send, disk_receive, disk_done, disk_wait});

// A record the size of one transfer: the child's text at the front of each sector, then a pattern
// of sector number and byte index, so every sector differs.
void fill(uint8_t* buf, uint32_t bytes, uint64_t first_sector, const char* text) {
    for (uint32_t i = 0; i < bytes; i++) {
        uint64_t sector = first_sector + i / 512;
        buf[i] = static_cast<uint8_t>(sector * 131 + i * 7 + 1);
    }
    for (uint32_t s = 0; s < bytes / 512; s++)
        for (uint32_t k = 0; text[k] && k < 32; k++)
            buf[s * 512 + k] = static_cast<uint8_t>(text[k]);
}

// False when the disk is there and its work failed (no disk offered is not a failure).
bool use_disk(const char* text) {
    disk_ch = open(st::class_id, 8);
    if (!disk_ch) {
        say("disk: no synthetic disk offered");
        return true;
    }
    if (!disk.initialize()) {
        say("disk: storvsc initialisation stopped at step %u", static_cast<uint32_t>(disk.failed_step()));
        return false;
    }
    say("disk: storvsc protocol %u.%u, transfers up to %u KiB", disk.protocol_version() >> 8,
        disk.protocol_version() & 0xff, disk.max_transfer_bytes() >> 10);
    constexpr uint32_t chunk = 64 * 1024, total = 1024 * 1024;
    auto* buf = static_cast<uint8_t*>(rt::pages::ptr(rt::pages::alloc_run(chunk / 4096)));
    auto* back = static_cast<uint8_t*>(rt::pages::ptr(rt::pages::alloc_run(chunk / 4096)));
    if (!buf || !back)
        return false;
    // A request that fails says how (a lost one was seen under QEMU: docs/vmbus.md, "Open").
    auto failed = [](const char* what, uint32_t at, const st::ScsiResult& res) {
        say("disk: %s at %u KiB failed: completed %d, status 0x%x, srb 0x%x, scsi 0x%x, channel state %u, "
            "outstanding %u, late completions %lu, bad packets %lu",
            what, at >> 10, res.completed, res.status, res.srb_status, res.scsi_status,
            static_cast<uint32_t>(disk_ch->state()), disk.outstanding(), disk.stray_completions(), disk.bad_packets());
    };
    st::ScsiCommand c = st::cdb::inquiry(96);
    c.gpa = reinterpret_cast<uint64_t>(buf);
    c.length = 96;
    st::ScsiResult r = disk.execute(c);
    if (r.good())
        say("disk: INQUIRY: %.8s %.16s, revision %.4s", reinterpret_cast<const char*>(buf + 8),
            reinterpret_cast<const char*>(buf + 16), reinterpret_cast<const char*>(buf + 32));
    else
        failed("INQUIRY", 0, r);
    c = st::cdb::read_capacity16(32);
    c.gpa = reinterpret_cast<uint64_t>(buf);
    c.length = 32;
    r = disk.execute(c);
    if (!r.good()) {
        failed("READ CAPACITY(16)", 0, r);
        return false;
    }
    uint64_t sectors = st::be64_at(buf) + 1;
    uint32_t sector = st::be32_at(buf + 8);
    say("disk: %lu sectors of %u bytes (%lu KiB)", sectors, sector, sectors * sector >> 10);
    if (sector != 512 || sectors * 512 < total) {
        say("disk: the write and read-back wants 512-byte sectors and at least 1 MiB");
        return false;
    }
    // Write 1 MiB from sector 0 in 64 KiB WRITE(10)s, then read each back and compare.
    bool same = true;
    for (uint32_t at = 0; at < total && same; at += chunk) {
        fill(buf, chunk, at / 512, text);
        c = st::cdb::write10(at / 512, chunk / 512);
        c.gpa = reinterpret_cast<uint64_t>(buf);
        c.length = chunk;
        c.direction = st::data_direction::write;
        r = disk.execute(c);
        if (!(same = r.good()))
            failed("WRITE(10)", at, r);
    }
    for (uint32_t at = 0; at < total && same; at += chunk) {
        fill(buf, chunk, at / 512, text);
        c = st::cdb::read10(at / 512, chunk / 512);
        c.gpa = reinterpret_cast<uint64_t>(back);
        c.length = chunk;
        c.direction = st::data_direction::read;
        r = disk.execute(c);
        if (!r.good())
            failed("READ(10)", at, r);
        same = r.good() && __builtin_memcmp(buf, back, chunk) == 0;
    }
    bool synced = same && disk.execute(st::cdb::synchronize_cache10()).good();
    say("disk: wrote 1 MiB (\"%s\" at the front of each sector), read it back: %s%s", text,
        same ? "it matches" : "MISMATCH", synced ? ", cache synchronised" : "");
    return synced;
}

} // namespace

void rt::ap_main(uint32_t) {
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}

int rt::partition_main(const root_abi::RootHandoff& h) {
    if (!vmbus_session::init(h, v_vmbus)) {
        rt::log("demo: no hypercall interface or SynIC\n");
        return 1;
    }
    vectors::sti();
    if (!vmbus_session::connect()) {
        rt::log("demo: VMBus contact failed\n");
        return 1;
    }
    console_ch = vmbus_session::open_device(console::class_id, 2, 2);
    say("hello from a child with %u VPs: VMBus %u.%u, %u offers", h.processor_count,
        vmbus_session::client().version() >> 16, vmbus_session::client().version() & 0xffff,
        vmbus_session::client().offer_count());
    heartbeat.ch = open(ic::heartbeat_class);
    shutdown.ch = open(ic::shutdown_class);
    say("heartbeat and shutdown channels %s", heartbeat.ch && shutdown.ch ? "open" : "missing");
    if (!use_disk(h.cmdline[0] ? h.cmdline : "demo")) {
        // Ends the child with code 1 (the root reports it), so the demo run fails visibly.
        say("disk work failed; ending with code 1");
        return 1;
    }

    say("work done; answering heartbeats until the root asks me to shut down");
    vmbus_session::pump_until(
        [] {
            serve_utilities();
            return shutdown.guest.shutdown_requested();
        },
        600'000);
    if (!shutdown.guest.shutdown_requested()) {
        say("no shutdown request in 10 minutes; exiting");
        return 1;
    }
    say("shutdown requested after %lu heartbeats: halting", heartbeat.guest.heartbeats());
    // Halted for good with interrupts off: the root ends the child as `shutdown`.
    for (;;)
        asm volatile("cli; hlt" ::: "memory");
}
