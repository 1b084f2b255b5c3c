// Guest suite `synic`, run as the root partition's image: the SynIC (TLFS ch. 11) within the root.
// Hypothesis: CPUID 0x40000003 offers the SynIC MSRs; SCONTROL, SVERSION, SIMP, SIEFP, EOM and
// the SINTs behave as the TLFS says, with #GP for reserved bits, read-only and write-only forms
// and pages outside the partition's RAM; the root creates message and event ports on itself and
// connects to them; PostMessage fills the SINT's slot when it is empty and queues (bounded, with
// the message-pending flag) when busy, EOM delivers the next; SignalEvent sets the flag bit;
// every misuse gets its TLFS status. SINTs run in polling mode (bit 18): the suite reads slots,
// no interrupt is needed. With more processors, a port on VP 1 is served by that VP.
// The slot and flag layouts are spelled out here from the TLFS, not taken from the hypervisor.
#include "hypercalls/abi/partition.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/suite.hpp"

namespace {

namespace r = tlfs::root;
using rt::hc::Status;
namespace msr = tlfs::msr;

constexpr unsigned planned = 74;
constexpr uint64_t polling = 1ull << 18, masked = 1ull << 16, auto_eoi = 1ull << 17;
constexpr uint32_t sint_msg = 2, sint_evt = 3;
constexpr uint32_t port_msg = 1, port_evt = 2, port_ap = 3;
constexpr uint32_t conn_msg = 0x100, conn_evt = 0x101, conn_ap = 0x102;

struct Slot { // HV_MESSAGE, TLFS 11.x
    volatile uint32_t type;
    volatile uint8_t size;
    volatile uint8_t flags; // bit 0: message pending
    uint16_t reserved;
    volatile uint64_t origin;
    volatile uint64_t payload[30];
};
static_assert(sizeof(Slot) == 256);

struct Env {
    uint64_t self = 0;   // the root's partition id
    uint64_t simp = 0, siefp = 0, ap_simp = 0;
    uint64_t hv_gpa = 0;
} env;

volatile bool ap_go, ap_ready, ap_quit;
volatile uint64_t ap_got, ap_count;
volatile uint32_t ap_type;

Slot& slot(uint64_t page, uint32_t sint) { return reinterpret_cast<Slot*>(page)[sint]; }
volatile uint64_t* flags(uint64_t page, uint32_t sint) { return reinterpret_cast<volatile uint64_t*>(page + sint * 256); }

uint64_t find_hv_page(const root_abi::RootHandoff& h) {
    for (uint32_t i = 0; i < h.region_count && i < root_abi::kMaxRegions; i++) {
        const auto& reg = h.regions[i];
        if (reg.type == root_abi::RegionType::hypervisor && reg.length >= 2 * rt::pages::page_size)
            return (reg.base + reg.length / 2) & ~(rt::pages::page_size - 1);
    }
    return 0;
}

Status create_message_port(uint64_t part, uint32_t id, uint32_t vp, uint32_t sint) {
    auto& in = rt::hc::input<r::CreatePortInput>();
    in = {};
    in.port_partition_id = part;
    in.port_id = id;
    in.port_info.type = r::PortType::message;
    in.port_info.info.message.target_sint = sint;
    in.port_info.info.message.target_vp = vp;
    return rt::hc::call(tlfs::call::create_port);
}
Status create_event_port(uint64_t part, uint32_t id, uint32_t vp, uint32_t sint, uint16_t base, uint16_t count) {
    auto& in = rt::hc::input<r::CreatePortInput>();
    in = {};
    in.port_partition_id = part;
    in.port_id = id;
    in.port_info.type = r::PortType::event;
    in.port_info.info.event.target_sint = sint;
    in.port_info.info.event.target_vp = vp;
    in.port_info.info.event.base_flag_number = base;
    in.port_info.info.event.flag_count = count;
    return rt::hc::call(tlfs::call::create_port);
}
Status connect(uint64_t part, uint32_t conn, uint64_t port_part, uint32_t port, r::PortType type) {
    auto& in = rt::hc::input<r::ConnectPortInput>();
    in = {};
    in.connection_partition_id = part;
    in.connection_id = conn;
    in.port_partition_id = port_part;
    in.port_id = port;
    in.connection_info.type = type;
    return rt::hc::call(tlfs::call::connect_port);
}
Status post(uint32_t conn, uint32_t type, uint64_t word, uint32_t size = 16) {
    auto& in = rt::hc::input<tlfs::PostMessageInput>();
    in.connection_id = conn;
    in.reserved = 0;
    in.message_type = type;
    in.payload_size = size;
    in.payload[0] = word;
    in.payload[1] = ~word;
    return rt::hc::call(tlfs::call::post_message);
}
Status signal_fast(uint32_t conn, uint16_t flag) {
    return rt::hc::fast(tlfs::call::signal_event, conn | (uint64_t{flag} << 32));
}
Status delete_port(uint64_t part, uint32_t port) {
    auto& in = rt::hc::input<r::DeletePortInput>();
    in = {part, port, 0};
    return rt::hc::call(r::call_code::delete_port);
}
Status disconnect(uint64_t part, uint32_t conn) {
    auto& in = rt::hc::input<r::DisconnectPortInput>();
    in = {part, conn, 0};
    return rt::hc::call(r::call_code::disconnect_port);
}

bool is(Status s, Status want, suite::Reporter& r, const char* what) {
    if (s != want)
        r.diag("%s: status 0x%x, want 0x%x", what, rt::hc::code(s), rt::hc::code(want));
    return s == want;
}
#define EXPECT_STATUS(call, want, name) r.check(is((call), (want), r, name), name)

bool gp_on_write(uint32_t m, uint64_t v) { return rt::probe_wrmsr(m, v).vector == 13; }

void msr_checks(suite::Reporter& r) {
    r.check(rt::cpuid(tlfs::cpuid::features).eax & tlfs::privilege::synic_msrs, "cpuid.40000003 offers the SynIC MSRs");
    auto v = rt::probe_rdmsr(msr::sversion);
    r.check(v.vector < 0 && v.value == 1, "SVERSION reads 1");
    r.check(gp_on_write(msr::sversion, 1), "SVERSION is read-only (#GP)");
    r.check(rt::rdmsr(msr::scontrol) == 0, "SCONTROL reads 0 (disabled) at start");
    r.check(gp_on_write(msr::scontrol, 2), "SCONTROL reserved bits #GP");
    rt::wrmsr(msr::scontrol, 1);
    r.check(rt::rdmsr(msr::scontrol) == 1, "SCONTROL enables");
    r.check(rt::rdmsr(msr::sint0 + sint_msg) == masked, "SINT2 reads masked at start");
    r.check(gp_on_write(msr::sint0 + sint_msg, 15) && gp_on_write(msr::sint0 + sint_msg, 0),
            "an unmasked SINT vector below 16 #GP");
    r.check(!gp_on_write(msr::sint0 + sint_msg, masked) && rt::rdmsr(msr::sint0 + sint_msg) == masked,
            "the reset value (masked, vector 0) writes back");
    r.check(gp_on_write(msr::sint0 + sint_msg, 0x50 | (1ull << 19)) && gp_on_write(msr::sint0 + sint_msg, 0x50 | (1ull << 8)),
            "SINT reserved bits #GP");
    rt::wrmsr(msr::sint0 + sint_msg, 0x50 | polling);
    r.check(rt::rdmsr(msr::sint0 + sint_msg) == (0x50 | polling), "SINT2 takes vector 0x50 in polling mode");
    rt::wrmsr(msr::sint0 + sint_evt, 0x51 | polling | auto_eoi);
    r.check(rt::rdmsr(msr::sint0 + sint_evt) == (0x51 | polling | auto_eoi), "SINT3 keeps the auto-EOI bit");
    r.check(rt::probe_rdmsr(msr::eom).vector == 13, "EOM is write-only (#GP on read)");
    r.check(gp_on_write(msr::simp, env.simp | 1 | 0x10), "SIMP reserved bits #GP");
    r.check(!env.hv_gpa || gp_on_write(msr::simp, env.hv_gpa | 1), "SIMP on a hypervisor page #GP");
    r.check(gp_on_write(msr::siefp, (1ull << 51) | 1), "SIEFP beyond the address width #GP");
    r.check(rt::rdmsr(msr::simp) == 0 && rt::rdmsr(msr::siefp) == 0, "refused page writes leave the MSRs as they were");
    rt::wrmsr(msr::simp, env.simp | 1);
    rt::wrmsr(msr::siefp, env.siefp | 1);
    r.check(rt::rdmsr(msr::simp) == (env.simp | 1) && rt::rdmsr(msr::siefp) == (env.siefp | 1),
            "SIMP and SIEFP enable on pages of the root's RAM");
}

void port_checks(suite::Reporter& r) {
    EXPECT_STATUS(create_message_port(env.self, port_msg, 0, sint_msg), Status::success,
                  "CreatePort: a message port of the root on VP 0 SINT 2");
    EXPECT_STATUS(create_message_port(env.self, port_msg, 0, sint_msg), Status::invalid_port_id,
                  "CreatePort: a port id in use answers INVALID_PORT_ID");
    EXPECT_STATUS(create_message_port(env.self, 9, 0, 16), Status::invalid_parameter,
                  "CreatePort: SINT 16 answers INVALID_PARAMETER");
    EXPECT_STATUS(create_message_port(0x7777, 9, 0, sint_msg), Status::invalid_partition_id,
                  "CreatePort: an unknown partition answers INVALID_PARTITION_ID");
    EXPECT_STATUS(create_message_port(env.self, 9, 200, sint_msg), Status::invalid_vp_index,
                  "CreatePort: an unknown VP answers INVALID_VP_INDEX");
    EXPECT_STATUS(create_message_port(env.self, 0x1000000, 0, sint_msg), Status::invalid_parameter,
                  "CreatePort: a port id beyond 24 bits answers INVALID_PARAMETER");
    EXPECT_STATUS(create_event_port(env.self, 9, 0, sint_evt, 2040, 16), Status::invalid_parameter,
                  "CreatePort: event flags beyond 2048 answer INVALID_PARAMETER");
    {
        auto& in = rt::hc::input<r::CreatePortInput>();
        in = {};
        in.port_partition_id = env.self;
        in.port_id = 9;
        in.port_info.type = r::PortType::monitor;
        EXPECT_STATUS(rt::hc::call(tlfs::call::create_port), Status::invalid_parameter,
                      "CreatePort: monitor ports are not offered (INVALID_PARAMETER)");
    }
    EXPECT_STATUS(create_event_port(env.self, port_evt, 0, sint_evt, 10, 16), Status::success,
                  "CreatePort: an event port on SINT 3, flags 10-25");
    EXPECT_STATUS(connect(env.self, conn_msg, env.self, port_msg, r::PortType::message), Status::success,
                  "ConnectPort: the root to its message port");
    EXPECT_STATUS(connect(env.self, conn_msg, env.self, port_msg, r::PortType::message), Status::invalid_connection_id,
                  "ConnectPort: a connection id in use answers INVALID_CONNECTION_ID");
    EXPECT_STATUS(connect(env.self, 0x1ff, env.self, 77, r::PortType::message), Status::invalid_port_id,
                  "ConnectPort: an unknown port answers INVALID_PORT_ID");
    EXPECT_STATUS(connect(env.self, 0x1ff, env.self, port_msg, r::PortType::event), Status::invalid_parameter,
                  "ConnectPort: a type other than the port's answers INVALID_PARAMETER");
    EXPECT_STATUS(connect(0x7777, 0x1ff, env.self, port_msg, r::PortType::message), Status::invalid_partition_id,
                  "ConnectPort: an unknown partition answers INVALID_PARTITION_ID");
    EXPECT_STATUS(connect(env.self, conn_evt, env.self, port_evt, r::PortType::event), Status::success,
                  "ConnectPort: the root to its event port");
}

void message_checks(suite::Reporter& r) {
    Slot& s = slot(env.simp, sint_msg);
    EXPECT_STATUS(post(conn_msg, 0x42, 0x1234), Status::success, "PostMessage to the root's own port");
    r.check(s.type == 0x42 && s.size == 16 && s.payload[0] == 0x1234 && s.payload[1] == ~0x1234ull && s.origin == port_msg &&
                !(s.flags & 1),
            "the message is in SINT 2's slot: type, size, payload, origin = the port id");
    bool queued = true;
    for (uint64_t i = 1; i <= 8; i++)
        queued = queued && post(conn_msg, 0x43, 0x1234 + i) == Status::success;
    r.check(queued, "eight more messages queue behind the busy slot");
    r.check(s.type == 0x42 && s.payload[0] == 0x1234, "the busy slot is not overwritten");
    r.check(s.flags & 1, "the busy slot shows message-pending");
    EXPECT_STATUS(post(conn_msg, 0x43, 0xdead), Status::insufficient_buffers,
                  "a ninth queued message answers INSUFFICIENT_BUFFERS");
    s.type = 0;
    rt::wrmsr(msr::eom, 0);
    r.check(s.type == 0x43 && s.payload[0] == 0x1235 && (s.flags & 1), "EOM delivers the next queued message, still pending");
    bool order = true;
    for (uint64_t i = 2; i <= 8; i++) {
        s.type = 0;
        rt::wrmsr(msr::eom, 0);
        order = order && s.type == 0x43 && s.payload[0] == 0x1234 + i;
    }
    r.check(order, "the queue drains in order, one message per EOM");
    r.check(!(s.flags & 1), "the last queued message clears message-pending");
    s.type = 0;
    rt::wrmsr(msr::eom, 0);
    r.check(s.type == 0, "EOM with nothing queued leaves the slot empty");
    EXPECT_STATUS(post(0x999, 0x42, 1), Status::invalid_connection_id, "PostMessage: an unknown connection");
    EXPECT_STATUS(post(conn_msg, 0x42, 1, 241), Status::invalid_parameter, "PostMessage: a 241-byte payload");
    EXPECT_STATUS(post(conn_msg, 0, 1), Status::invalid_parameter, "PostMessage: message type 0");
    EXPECT_STATUS(post(conn_msg, 0x80000000u, 1), Status::invalid_parameter, "PostMessage: a hypervisor message type");
    EXPECT_STATUS(post(conn_evt, 0x42, 1), Status::invalid_connection_id, "PostMessage on an event connection");
    EXPECT_STATUS(post(conn_msg, 0x44, 0x5555, 240), Status::success, "PostMessage: a 240-byte payload");
    r.check(s.type == 0x44 && s.size == 240, "the full payload arrives");
    s.type = 0;
    rt::wrmsr(msr::sint0 + sint_msg, 0x50 | masked);
    EXPECT_STATUS(post(conn_msg, 0x45, 7), Status::success, "PostMessage to a masked SINT");
    r.check(s.type == 0x45 && s.payload[0] == 7, "a masked SINT still gets the message in its slot");
    s.type = 0;
    rt::wrmsr(msr::sint0 + sint_msg, 0x50 | polling);
    rt::wrmsr(msr::simp, env.simp);
    EXPECT_STATUS(post(conn_msg, 0x46, 8), Status::invalid_synic_state, "PostMessage with the SIMP off: INVALID_SYNIC_STATE");
    rt::wrmsr(msr::simp, env.simp | 1);
    rt::wrmsr(msr::scontrol, 0);
    EXPECT_STATUS(post(conn_msg, 0x46, 8), Status::invalid_synic_state, "PostMessage with SCONTROL off: INVALID_SYNIC_STATE");
    rt::wrmsr(msr::scontrol, 1);
}

void event_checks(suite::Reporter& r) {
    volatile uint64_t* f = flags(env.siefp, sint_evt);
    EXPECT_STATUS(signal_fast(conn_evt, 3), Status::success, "SignalEvent (fast) on the event connection");
    r.check(f[0] == (1ull << 13), "flag 3 of the port sets bit 13 of SINT 3's flags");
    EXPECT_STATUS(signal_fast(conn_evt, 3), Status::success, "SignalEvent on a flag already set succeeds");
    r.check(f[0] == (1ull << 13), "the bit stays set, nothing else changes");
    auto& in = rt::hc::input<tlfs::SignalEventInput>();
    in = {conn_evt, 15, 0};
    EXPECT_STATUS(rt::hc::call(tlfs::call::signal_event), Status::success, "SignalEvent (memory) flag 15");
    r.check(f[0] == ((1ull << 13) | (1ull << 25)) && f[1] == 0 && *flags(env.siefp, sint_msg) == 0,
            "bit 25 joins it; other SINTs' flags stay clear");
    EXPECT_STATUS(signal_fast(conn_evt, 16), Status::invalid_parameter, "SignalEvent beyond the port's flags");
    EXPECT_STATUS(signal_fast(conn_msg, 0), Status::invalid_connection_id, "SignalEvent on a message connection");
    EXPECT_STATUS(signal_fast(0x999, 0), Status::invalid_connection_id, "SignalEvent on an unknown connection");
    f[0] = 0;
}

void ap_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    if (h.processor_count < 2 || rt::processors_online() < 2) {
        r.skip("cross-VP: a message to VP 1's SINT 2 is served by VP 1", "one processor");
        r.skip("cross-VP: a second message after VP 1's EOM", "one processor");
        return;
    }
    __atomic_store_n(&ap_go, true, __ATOMIC_RELEASE);
    for (uint64_t t = rt::rdtsc(); !ap_ready && rt::rdtsc() - t < rt::tsc_khz() * 5000;)
        asm volatile("pause");
    bool ok = ap_ready && create_message_port(env.self, port_ap, 1, sint_msg) == Status::success &&
              connect(env.self, conn_ap, env.self, port_ap, r::PortType::message) == Status::success &&
              post(conn_ap, 0x60, 0xa1) == Status::success && post(conn_ap, 0x61, 0xa2) == Status::success;
    auto wait_count = [](uint64_t n) {
        for (uint64_t t = rt::rdtsc(); ap_count < n && rt::rdtsc() - t < rt::tsc_khz() * 5000;)
            asm volatile("pause");
    };
    wait_count(1);
    r.check(ok && ap_count >= 1 && (ap_got == 0xa1 || ap_got == 0xa2), "cross-VP: a message to VP 1's SINT 2 is served by VP 1");
    wait_count(2);
    r.check(ok && ap_count == 2 && ap_got == 0xa2 && ap_type == 0x61, "cross-VP: a second message after VP 1's EOM");
    if (!ok)
        r.diag("ready %d count %lu got %lx", ap_ready, ap_count, ap_got);
}

void teardown_checks(suite::Reporter& r) {
    EXPECT_STATUS(delete_port(env.self, port_msg), Status::success, "DeletePort");
    EXPECT_STATUS(post(conn_msg, 0x42, 1), Status::invalid_port_id, "PostMessage after DeletePort: INVALID_PORT_ID");
    EXPECT_STATUS(delete_port(env.self, port_msg), Status::invalid_port_id, "DeletePort of a deleted port");
    EXPECT_STATUS(disconnect(env.self, conn_msg), Status::success, "DisconnectPort");
    EXPECT_STATUS(post(conn_msg, 0x42, 1), Status::invalid_connection_id, "PostMessage after DisconnectPort");
    EXPECT_STATUS(disconnect(env.self, conn_msg), Status::invalid_connection_id, "DisconnectPort of a gone connection");
    EXPECT_STATUS(disconnect(0x7777, conn_evt), Status::invalid_partition_id, "DisconnectPort: an unknown partition");
    bool ok = delete_port(env.self, port_evt) == Status::success && disconnect(env.self, conn_evt) == Status::success;
    EXPECT_STATUS(signal_fast(conn_evt, 0), Status::invalid_connection_id, "SignalEvent after teardown");
    r.check(ok, "the event port and its connection go away");
}

} // namespace

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    r.begin(planned);
    r.diag("synic: backend %s, %u processors", h.backend, h.processor_count);
    rt::pages::init(h);
    if (!rt::hc::init(h)) {
        r.diag("the hypercall interface refused the root: cannot run");
        return 1;
    }
    rt::hc::init_cpu(0);
    env.self = 1;
    if (rt::hc::call(tlfs::call::get_partition_id) == Status::success)
        env.self = rt::hc::output<uint64_t>();
    env.simp = rt::pages::alloc();
    env.siefp = rt::pages::alloc();
    env.ap_simp = rt::pages::alloc();
    env.hv_gpa = find_hv_page(h);
    if (h.processor_count > 1)
        rt::start_aps(h);
    msr_checks(r);
    port_checks(r);
    message_checks(r);
    event_checks(r);
    ap_checks(r, h);
    teardown_checks(r);
    __atomic_store_n(&ap_quit, true, __ATOMIC_RELEASE);
    return r.finish();
}

void rt::ap_main(uint32_t index) {
    while (index != 1 || !__atomic_load_n(&ap_go, __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(&ap_quit, __ATOMIC_ACQUIRE))
            return;
        asm volatile("pause");
    }
    rt::wrmsr(msr::scontrol, 1);
    rt::wrmsr(msr::simp, env.ap_simp | 1);
    rt::wrmsr(msr::sint0 + sint_msg, 0x52 | polling);
    __atomic_store_n(&ap_ready, true, __ATOMIC_RELEASE);
    Slot& s = slot(env.ap_simp, sint_msg);
    while (!__atomic_load_n(&ap_quit, __ATOMIC_ACQUIRE)) {
        if (s.type) {
            ap_type = s.type;
            ap_got = s.payload[0];
            bool pending = s.flags & 1;
            s.type = 0;
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            if (pending)
                rt::wrmsr(msr::eom, 0);
            __atomic_fetch_add(&ap_count, 1, __ATOMIC_RELEASE);
        }
        asm volatile("pause");
    }
}
