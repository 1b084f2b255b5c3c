#include "tests/guest/vmbus_session.hpp"

#include "hypercalls/abi/partition.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"

namespace vmbus_session {
namespace {

namespace msr = tlfs::msr;
using Message = tlfs::root::Message;   // HV_MESSAGE (TLFS 11.9.2)

constexpr uint32_t sint = vmbus::message_sint;
constexpr uint32_t channel_message_type = 1;   // HvPostMessage type of VMBus messages (Linux)

volatile Message* simp;
volatile uint64_t* siefp;
tlfs::Status posted = tlfs::Status::success;
uint32_t seen;
uint64_t signals;
uint64_t halts;
bool (*message_hook)(const uint8_t*, uint32_t);

bool post_message(void*, uint32_t conn, const void* msg, uint32_t size) {
    auto& in = rt::hc::input<tlfs::PostMessageInput>();
    in.connection_id = conn;
    in.reserved = 0;
    in.message_type = channel_message_type;
    in.payload_size = size;
    __builtin_memcpy(in.payload, msg, size < sizeof in.payload ? size : sizeof in.payload);
    posted = rt::hc::call(tlfs::call::post_message);
    return posted == tlfs::Status::success;
}

// Channel signals: fast HvSignalEvent on the offer's connection id, flag 0 (HYPERV-FACTS).
void signal(void*, uint32_t conn) {
    __atomic_fetch_add(&signals, 1, __ATOMIC_RELAXED);
    static_cast<void>(rt::hc::fast(tlfs::call::signal_event, conn));
}

vmbus::VmbusClient the_client({nullptr, post_message, signal});

} // namespace

bool init(const root_abi::RootHandoff& h, uint8_t vector) {
    // The counting gates (their EOI) and a software-enabled x2APIC (SDM vol 3 11.9): SINT 2's
    // vector and idle()'s wake-up timer are delivered through them.
    vectors::init(h);
    rt::wrmsr(0x80f, 0x1ff);
    rt::pages::init(h);
    bool interface = rt::hc::init(h);
    rt::hc::init_cpu(0);
    uint64_t page = rt::pages::alloc(), flags = rt::pages::alloc();
    simp = reinterpret_cast<volatile Message*>(page);
    siefp = reinterpret_cast<volatile uint64_t*>(flags);
    // TLFS 11.8: message and event-flag pages, SINT 2 unmasked with our vector, then the SynIC.
    return interface && page && flags && rt::probe_wrmsr(msr::simp, page | 1).vector < 0 &&
           rt::probe_wrmsr(msr::siefp, flags | 1).vector < 0 &&
           rt::probe_wrmsr(msr::sint0 + sint, vector).vector < 0 && rt::probe_wrmsr(msr::scontrol, 1).vector < 0;
}

vmbus::VmbusClient& client() { return the_client; }
void set_message_hook(bool (*hook)(const uint8_t*, uint32_t)) { message_hook = hook; }
uint32_t messages_seen() { return seen; }
void reset_messages_seen() { seen = 0; }
tlfs::Status last_post() { return posted; }
uint64_t idle_halts() { return halts; }
uint64_t signals_sent() { return __atomic_load_n(&signals, __ATOMIC_RELAXED); }
bool post(uint32_t connection, const void* message, uint32_t size) {
    return post_message(nullptr, connection, message, size);
}

// SINT 2's message (type 0, then EOM when message-pending: TLFS 11.10.3) and its event flags
// (the root sets flag = relid).
bool pump_once() {
    bool any = false;
    volatile Message& slot = simp[sint];
    if (slot.header.type != tlfs::root::MessageType::none) {
        any = true;
        alignas(8) uint8_t bytes[240];
        uint32_t size = slot.header.payload_size <= sizeof bytes ? slot.header.payload_size : sizeof bytes;
        __builtin_memcpy(bytes, const_cast<const uint64_t*>(slot.payload), size);
        slot.header.type = tlfs::root::MessageType::none;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (slot.header.flags & tlfs::root::message_flag::pending)
            rt::wrmsr(msr::eom, 0);
        seen++;
        if (!message_hook || !message_hook(bytes, size))
            the_client.on_message(bytes, size);
    }
    volatile uint64_t* flags = event_flags(sint);
    uint64_t set = __atomic_exchange_n(const_cast<uint64_t*>(flags), 0, __ATOMIC_ACQ_REL);
    any = any || set != 0;
    for (uint32_t bit = 0; set; bit++, set >>= 1)
        if (set & 1)
            the_client.on_event(bit);
    return any;
}

void idle(uint64_t end) {
    // The x2APIC timer, one-shot at the APIC frequency divided by 1 (SDM vol 3 11.5.4), counts to
    // the wake-up; its gate is one of tests/guest/vectors' counting gates, which sends the EOI.
    constexpr uint32_t lvt_timer = 0x832, initial_count = 0x838, divide = 0x83e;
    constexpr uint8_t v_wake = 0x5f;
    static uint64_t apic_hz = ~0ull;   // ~0: not looked at yet; 0: no frequency MSR, so spin
    if (apic_hz == ~0ull) {
        rt::Probe f = rt::probe_rdmsr(msr::apic_frequency);
        apic_hz = f.vector < 0 ? f.value : 0;
        if (apic_hz && (rt::probe_wrmsr(divide, 0xb).vector >= 0 || rt::probe_wrmsr(lvt_timer, v_wake).vector >= 0))
            apic_hz = 0;
    }
    uint64_t flags;
    asm volatile("pushfq; pop %0" : "=r"(flags));
    uint64_t now = vectors::ref_now();
    if (apic_hz == 0 || !(flags & (1u << 9)) || now >= end)
        return;
    uint64_t ticks = end - now < idle_wake_ms * 10'000 ? end - now : idle_wake_ms * 10'000;
    uint64_t count = apic_hz / 10'000 * ticks / 1000;
    vectors::cli();
    // Looked at with interrupts off, then `sti; hlt`: an interrupt after the look is taken once
    // the HLT has begun (the STI shadow, SDM vol 3 6.8.3), so it cannot be slept through.
    // pump_once takes the first word of flags only (relids stay below 64).
    bool pending = simp[sint].header.type != tlfs::root::MessageType::none || event_flags(sint)[0] != 0;
    if (!pending) {
        rt::wrmsr(initial_count, count ? count : 1);
        halts++;
        asm volatile("sti; hlt" ::: "memory");
        // Woken by anything else, the timer is stopped: it would fire later in whatever the VP
        // does next (a timed transfer, say).
        rt::wrmsr(initial_count, 0);
    }
    vectors::sti();
}

volatile uint64_t* event_flags(uint32_t sint) { return siefp + sint * (2048 / 64); }

void pump_for(uint64_t ms) {
    pump_until([] { return false; }, ms);
}

bool connect() {
    using S = vmbus::VmbusClient::State;
    return the_client.connect() && pump_until([] { return the_client.state() != S::contacting; }) &&
           the_client.state() == S::connected && the_client.request_offers() &&
           pump_until([] { return the_client.offers_complete(); });
}

vmbus::ClientChannel* open_device(const uint8_t (&class_id)[16], uint32_t send_pages, uint32_t recv_pages,
                                  uint32_t target_vp, uint8_t** ring_out) {
    vmbus::Guid cls{};
    __builtin_memcpy(cls.bytes, class_id, 16);
    vmbus::ClientChannel* ch = the_client.find(cls);
    uint64_t ring = rt::pages::alloc_run(send_pages + recv_pages);
    if (!ch || !ring)
        return nullptr;
    uint32_t id = the_client.create_gpadl(ch->relid(), ring / 4096, send_pages + recv_pages);
    const vmbus::ClientGpadl* g = id ? the_client.gpadl(id) : nullptr;
    if (!g || !pump_until([g] { return g->state != vmbus::ClientGpadl::State::pending; }) ||
        g->state != vmbus::ClientGpadl::State::created)
        return nullptr;
    using S = vmbus::ClientChannel::State;
    if (!the_client.open(ch->relid(), id, static_cast<uint8_t*>(rt::pages::ptr(ring)), send_pages, recv_pages,
                         target_vp) ||
        !pump_until([ch] { return ch->state() != S::opening; }) || ch->state() != S::open)
        return nullptr;
    if (ring_out)
        *ring_out = static_cast<uint8_t*>(rt::pages::ptr(ring));
    return ch;
}

} // namespace vmbus_session
