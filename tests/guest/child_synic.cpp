// Guest suite `child-synic`, run as a CHILD partition (`tools/run --suite child-synic
// --suite-smp N`): the SynIC (TLFS ch. 11) of a child, across partitions, against the root's
// echo service (partitions/abi/echo.hpp: the root posts a message back to the VP and SINT asked
// for, and answers an event with an event). Hypothesis: CPUID offers a child the SynIC, posting
// and signalling but no port management; messages from the root land in the right VP's slot
// with the right bytes and one interrupt; a busy slot holds the next message with
// message-pending until the child empties it and writes EOM; a masked or polling SINT gets the
// message without an interrupt; an event sets its flag and interrupts once; every misuse a child
// can make answers its TLFS status. The layouts are spelled out here from the TLFS.
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/abi/echo.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/suite.hpp"
#include "tests/guest/vectors.hpp"

namespace {

using tlfs::Status;
namespace msr = tlfs::msr;
namespace echo = root_abi::echo;

constexpr unsigned planned = 24;
constexpr uint32_t msg_sint = 2, evt_sint = echo::answer_sint;
constexpr uint8_t v_msg = 0x52, v_evt = 0x51;
constexpr uint64_t masked = 1ull << 16, auto_eoi = 1ull << 17, polling = 1ull << 18;
constexpr uint32_t msg_type = 0x4d;            // any type below 0x80000000 is the sender's to choose
constexpr uint64_t wait_ms = 2000;

struct Message {                                // HV_MESSAGE (TLFS 11.9.2)
    volatile uint32_t type;
    uint8_t payload_size;
    volatile uint8_t flags;                     // bit 0: message pending
    uint16_t reserved;
    uint64_t origin;
    uint64_t payload[30];
};
static_assert(sizeof(Message) == 256);

struct Pages {
    uint64_t simp = 0, siefp = 0;
};
Pages synic_pages[vectors::max_vps];
uint32_t vps_online = 1;
volatile uint64_t ap_word[vectors::max_vps];   // what each AP found in its slot
volatile uint32_t ap_ready;

Message* slot(uint32_t vp, uint32_t sint) { return reinterpret_cast<Message*>(synic_pages[vp].simp) + sint; }
volatile uint64_t* flags(uint32_t vp, uint32_t sint) {
    return reinterpret_cast<volatile uint64_t*>(synic_pages[vp].siefp + sint * 256);
}

// Empties this VP's slot the TLFS way: type 0, then EOM if message-pending was set.
void release(Message* m) {
    m->type = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (m->flags & 1)
        rt::wrmsr(msr::eom, 0);
}

bool wait_message(Message* m, uint64_t ms) {
    for (uint64_t end = vectors::ref_now() + ms * 10'000; vectors::ref_now() < end;)
        if (m->type != 0)
            return true;
    return m->type != 0;
}

Status post(uint32_t conn, uint32_t type, uint32_t size, const void* payload) {
    auto& in = rt::hc::input<tlfs::PostMessageInput>();
    in.connection_id = conn;
    in.reserved = 0;
    in.message_type = type;
    in.payload_size = size;
    __builtin_memcpy(in.payload, payload, size < sizeof in.payload ? size : sizeof in.payload);
    return rt::hc::call(tlfs::call::post_message);
}

Status echo_to(uint32_t vp, uint32_t sint, uint32_t count, uint64_t word) {
    echo::EchoRequest req{};
    req.vp = vp;
    req.sint = sint;
    req.count = count;
    __builtin_memcpy(req.data, &word, 8);
    uint64_t inverse = ~word;
    __builtin_memcpy(req.data + 8, &inverse, 8);
    return post(echo::message_connection, msg_type, 32, &req);
}

// The message an echo of `word` to (vp, sint) must be, byte for byte.
bool is_echo(const Message* m, uint32_t vp, uint32_t sint, uint64_t word) {
    return m->type == msg_type && m->payload_size == 32 && m->payload[0] == (uint64_t{sint} << 32 | vp) &&
           m->payload[2] == word && m->payload[3] == ~word;
}

bool is(Status s, Status want, suite::Reporter& r, const char* what) {
    if (s != want)
        r.diag("%s: status 0x%x, want 0x%x", what, rt::hc::code(s), rt::hc::code(want));
    return s == want;
}
#define EXPECT_STATUS(call, want, name) r.check(is((call), (want), r, name), name)

bool gp_on_write(uint32_t m, uint64_t v) { return rt::probe_wrmsr(m, v).vector == 13; }

uint64_t ram_end(const root_abi::RootHandoff& h) {
    uint64_t end = 0;
    for (uint32_t i = 0; i < h.region_count && i < root_abi::kMaxRegions; i++)
        if (h.regions[i].type == root_abi::RegionType::usable && h.regions[i].base + h.regions[i].length > end)
            end = h.regions[i].base + h.regions[i].length;
    return (end + 0xfff) & ~0xfffull;
}

void enable_synic(uint32_t vp) {
    rt::wrmsr(msr::simp, synic_pages[vp].simp | 1);
    rt::wrmsr(msr::siefp, synic_pages[vp].siefp | 1);
    rt::wrmsr(msr::sint0 + msg_sint, v_msg);
    rt::wrmsr(msr::sint0 + evt_sint, v_evt);
    rt::wrmsr(msr::scontrol, 1);
}

void discovery_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    auto f = rt::cpuid(tlfs::cpuid::features);
    uint64_t priv = f.eax | (uint64_t{f.ebx} << 32);
    r.check((priv & tlfs::privilege::synic_msrs) && (priv & tlfs::privilege::post_messages) &&
                (priv & tlfs::privilege::signal_events),
            "cpuid.40000003 offers a child the SynIC MSRs, PostMessage and SignalEvent");
    r.check(!(priv & (tlfs::privilege::create_port | tlfs::privilege::connect_port | tlfs::privilege::cpu_management)),
            "cpuid.40000003 offers a child no CreatePort, ConnectPort or CpuManagement");
    auto v = rt::probe_rdmsr(msr::sversion);
    r.check(v.vector < 0 && v.value == 1 && rt::rdmsr(msr::scontrol) == 0 && rt::rdmsr(msr::sint0 + msg_sint) == masked,
            "SVERSION reads 1; SCONTROL and every SINT start disabled and masked");
    uint64_t past = ram_end(h);
    r.check(gp_on_write(msr::simp, past | 1) && gp_on_write(msr::siefp, past | 1) && rt::rdmsr(msr::simp) == 0,
            "SIMP and SIEFP on the first page past the child's RAM #GP");
    enable_synic(0);
    r.check(rt::rdmsr(msr::simp) == (synic_pages[0].simp | 1) && rt::rdmsr(msr::sint0 + msg_sint) == v_msg &&
                rt::rdmsr(msr::scontrol) == 1,
            "SIMP, SIEFP, SINTs and SCONTROL enable on pages of the child's RAM");
}

void message_checks(suite::Reporter& r) {
    Message* m = slot(0, msg_sint);
    vectors::reset(v_msg);
    EXPECT_STATUS(echo_to(0, msg_sint, 1, 0x1111), Status::success, "PostMessage to the root's echo connection");
    bool got = wait_message(m, wait_ms) && vectors::wait_count(0, v_msg, 1, wait_ms);
    r.check(got && is_echo(m, 0, msg_sint, 0x1111) && !(m->flags & 1),
            "the root's answer lands in SINT 2's slot: type, size and payload as posted, no message-pending");
    vectors::spin_ms(20);
    r.check(vectors::count(0, v_msg) == 1, "one message, one interrupt on SINT 2's vector");
    release(m);

    // Three answers into a slot the child leaves full: one waits behind the other (TLFS 11.10.3).
    vectors::reset(v_msg);
    EXPECT_STATUS(echo_to(0, msg_sint, 3, 0x2222), Status::success, "PostMessage asking for three answers");
    got = wait_message(m, wait_ms);
    vectors::spin_ms(50);
    r.check(got && is_echo(m, 0, msg_sint, 0x2222) && (m->flags & 1) && vectors::count(0, v_msg) == 1,
            "a busy slot: the first answer waits in it with message-pending set, one interrupt so far");
    uint32_t seen = got ? 1 : 0;
    for (int i = 0; i < 2 && got; i++) {
        release(m);   // type 0, then EOM: the next one comes
        got = wait_message(m, wait_ms) && is_echo(m, 0, msg_sint, 0x2222);
        seen += got;
    }
    bool last_clear = got && !(m->flags & 1);
    release(m);
    vectors::spin_ms(50);
    r.check(seen == 3 && last_clear && m->type == 0 && vectors::count(0, v_msg) == 3,
            "after each empty slot and EOM the next answer arrives: three in order, three interrupts, then none");
    if (seen != 3)
        r.diag("answers seen %u, interrupts %u", seen, vectors::count(0, v_msg));

    // Masked and polling: the message arrives, the interrupt does not (TLFS 11.8.4).
    const uint64_t modes[] = {masked, polling};
    for (uint64_t mode : modes) {
        rt::wrmsr(msr::sint0 + msg_sint, v_msg | mode);
        vectors::reset(v_msg);
        Status st = echo_to(0, msg_sint, 1, 0x3333);
        got = wait_message(m, wait_ms) && is_echo(m, 0, msg_sint, 0x3333);
        vectors::spin_ms(20);
        r.check(st == Status::success && got && vectors::count(0, v_msg) == 0,
                mode == masked ? "a masked SINT gets the message and no interrupt"
                               : "a polling SINT gets the message and no interrupt");
        release(m);
    }
    rt::wrmsr(msr::sint0 + msg_sint, v_msg | auto_eoi);
    r.check(rt::rdmsr(msr::sint0 + msg_sint) == (v_msg | auto_eoi), "a SINT keeps the auto-EOI bit it was given");
    rt::wrmsr(msr::sint0 + msg_sint, v_msg);
}

void event_checks(suite::Reporter& r) {
    volatile uint64_t* f = flags(0, evt_sint);
    vectors::reset(v_evt);
    Status st = rt::hc::fast(tlfs::call::signal_event, echo::event_connection);
    bool got = false;
    for (uint64_t end = vectors::ref_now() + wait_ms * 10'000; !got && vectors::ref_now() < end;)
        got = (f[0] >> echo::answer_flag) & 1;
    got = got && vectors::wait_count(0, v_evt, 1, wait_ms);
    vectors::spin_ms(20);
    r.check(st == Status::success && got && vectors::count(0, v_evt) == 1,
            "SignalEvent to the root: its answer sets flag 5 of SINT 1 and interrupts once");
    __atomic_fetch_and(&f[0], ~(1ull << echo::answer_flag), __ATOMIC_ACQ_REL);
    EXPECT_STATUS(rt::hc::fast(tlfs::call::signal_event, echo::event_connection | (1ull << 32)),
                  Status::invalid_parameter, "SignalEvent flag 1 of a one-flag port: INVALID_PARAMETER");
}

void error_checks(suite::Reporter& r) {
    uint64_t word[32] = {1, 2};   // as large as any payload: the 241-byte post reads 240 of it
    EXPECT_STATUS(post(0x7d, msg_type, 16, word), Status::invalid_connection_id,
                  "PostMessage to a connection the child does not have: INVALID_CONNECTION_ID");
    EXPECT_STATUS(rt::hc::fast(tlfs::call::signal_event, echo::message_connection), Status::invalid_connection_id,
                  "SignalEvent on a message connection: INVALID_CONNECTION_ID");
    EXPECT_STATUS(post(echo::message_connection, 0x80000001u, 16, word), Status::invalid_parameter,
                  "PostMessage with a hypervisor message type: INVALID_PARAMETER");
    EXPECT_STATUS(post(echo::message_connection, msg_type, 241, word), Status::invalid_parameter,
                  "PostMessage of 241 payload bytes: INVALID_PARAMETER");
    EXPECT_STATUS(rt::hc::call(tlfs::call::create_port), Status::access_denied, "CreatePort from a child: ACCESS_DENIED");
    EXPECT_STATUS(rt::hc::call(tlfs::call::connect_port), Status::access_denied, "ConnectPort from a child: ACCESS_DENIED");
}

void cross_vp_checks(suite::Reporter& r) {
    if (vps_online < 2) {
        r.skip("an answer to each other VP lands in that VP's slot and interrupts only it", "one VP");
        return;
    }
    bool each = true;
    for (uint32_t k = 1; k < vps_online; k++) {
        vectors::reset(v_msg);
        ap_word[k] = 0;
        Status st = echo_to(k, msg_sint, 1, 0x4400 + k);
        for (uint64_t end = vectors::ref_now() + wait_ms * 10'000; ap_word[k] == 0 && vectors::ref_now() < end;)
            asm volatile("pause");
        bool ok = st == Status::success && ap_word[k] == 0x4400 + k && vectors::count(k, v_msg) == 1 &&
                  vectors::count(0, v_msg) == 0 && slot(0, msg_sint)->type == 0;
        if (!ok)
            r.diag("VP %u: status 0x%x, word %lx, interrupts there %u, on VP 0 %u", k, rt::hc::code(st), ap_word[k],
                   vectors::count(k, v_msg), vectors::count(0, v_msg));
        each = each && ok;
    }
    r.check(each, "an answer to each other VP lands in that VP's slot and interrupts only it");
}

} // namespace

void rt::ap_main(uint32_t index) {
    uint32_t vp = vectors::this_vp();
    rt::wrmsr(0x80f, 0x1ff);   // x2APIC SVR: software-enabled (SDM vol 3 11.9)
    enable_synic(vp);
    __atomic_fetch_add(&ap_ready, 1, __ATOMIC_ACQ_REL);
    static_cast<void>(index);
    Message* m = slot(vp, msg_sint);
    for (;;) {
        asm volatile("sti; hlt; cli" ::: "memory");
        if (m->type != 0) {
            uint64_t w = is_echo(m, vp, msg_sint, m->payload[2]) ? m->payload[2] : 1;
            release(m);
            ap_word[vp] = w;
        }
    }
}

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(planned);
    r.diag("child-synic: backend %s, %u processors", h.backend, h.processor_count);
    rt::pages::init(h);
    bool interface = rt::hc::init(h);
    rt::hc::init_cpu(0);
    vectors::init(h);
    rt::wrmsr(0x80f, 0x1ff);
    uint32_t n = h.processor_count < vectors::max_vps ? h.processor_count : vectors::max_vps;
    for (uint32_t i = 0; i < n; i++)
        synic_pages[i] = {rt::pages::alloc(), rt::pages::alloc()};
    r.check(interface && synic_pages[n - 1].siefp, "the hypercall interface and a SynIC page pair per VP");
    discovery_checks(r, h);
    if (n > 1) {
        uint32_t started = rt::start_aps(h);
        for (uint64_t end = vectors::ref_now() + 2000 * 10'000ull;
             __atomic_load_n(&ap_ready, __ATOMIC_ACQUIRE) + 1 < started && vectors::ref_now() < end;)
            asm volatile("pause");
        vps_online = __atomic_load_n(&ap_ready, __ATOMIC_ACQUIRE) + 1;
    }
    vectors::sti();
    message_checks(r);
    event_checks(r);
    error_checks(r);
    cross_vp_checks(r);
    return r.finish();
}
