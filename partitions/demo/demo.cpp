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

vmbus::ClientChannel* open(const vmbus::Guid& cls) { return vmbus_session::open_device(cls.bytes, 2, 2); }

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
    vectors::init(h);
    rt::wrmsr(0x80f, 0x1ff);   // x2APIC SVR: software-enabled (SDM vol 3 11.9)
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
