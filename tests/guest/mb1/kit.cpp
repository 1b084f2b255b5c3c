#include "tests/guest/mb1/kit.hpp"
#include "hv/lib/string.hpp"

extern "C" {
[[noreturn]] void mb1_ap_main(uint32_t number);
void mb1_fault(uint32_t vector, uint32_t error_or_eip);
void mb1_timer();
extern const uint32_t mb1_isr_table[32];
extern const uint8_t mb1_tramp[], mb1_tramp_end[];
void mb1_timer_isr();
}

namespace mb1::kit {
namespace {

const char* kernel_name = "kernel";

constexpr uint8_t timer_vector = 0x40;
constexpr uint32_t tramp_page = 0x8000;   // mb1/boot.S's MB1_TRAMP

struct [[gnu::packed]] Gate {
    uint16_t offset_low, selector;
    uint8_t zero, type;
    uint16_t offset_high;
};
Gate idt[256];
volatile uint32_t ticks, reported;
void (*ap_entry)(uint32_t);
uint32_t planned, number, failed;

// The bootstrap processor's way back out of an exception it provoked (try_run).
struct Recovery {
    void* buf[5];   // __builtin_setjmp's buffer (GCC: five words)
    volatile bool armed;
    volatile uint32_t vector;
} recovery;

void set_gate(uint32_t v, void (*fn)()) {
    auto a = reinterpret_cast<uint32_t>(fn);
    idt[v] = {static_cast<uint16_t>(a), 0x08, 0, 0x8e, static_cast<uint16_t>(a >> 16)};   // 32-bit interrupt gate
}

void send_ipi(uint32_t apic_id, uint32_t low) {
    apic::reg(apic::icr_high) = apic_id << 24;
    apic::reg(apic::icr_low) = low;
    for (int i = 0; i < 1000000 && (apic::reg(apic::icr_low) & (1u << 12)); i++)
        cpu_relax();   // delivery status (SDM vol 3 10.6.1)
}

void print_line_number() { print_u(number); }

} // namespace

void set_name(const char* name) { kernel_name = name; }
uint32_t tick_count() { return ticks; }

void ktap_begin(uint32_t n) {
    planned = n;
    print("KTAP version 1\n1..");
    print_u(n);
    print("\n");
}

bool ktap_check(bool pass, const char* name) {
    number++;
    failed += !pass;
    print(pass ? "ok " : "not ok ");
    print_line_number();
    print(" ");
    print(name);
    print("\n");
    return pass;
}

void ktap_skip(const char* name, const char* reason) {
    number++;
    print("ok ");
    print_line_number();
    print(" ");
    print(name);
    print(" # SKIP ");
    print(reason);
    print("\n");
}

void diag(const char* text, uint32_t v) {
    print("# ");
    print(text);
    print(" ");
    print_x(v);
    print("\n");
}

uint32_t ktap_finish() {
    if (number != planned) {
        print("# plan mismatch: planned ");
        print_u(planned);
        print(", ran ");
        print_u(number);
        print("\n");
        return 1;
    }
    print("# totals: pass:");
    print_u(number - failed);
    print(" fail:");
    print_u(failed);
    print("\n");
    return failed ? 1 : 0;
}

int try_run(void (*fn)(void*), void* arg) {
    recovery.vector = 0;
    if (__builtin_setjmp(recovery.buf) == 0) {
        recovery.armed = true;
        fn(arg);
        recovery.armed = false;
        return no_fault;
    }
    recovery.armed = false;
    return static_cast<int>(recovery.vector);
}

void init_cpu_tables() {
    for (uint32_t v = 0; v < 32; v++)
        set_gate(v, reinterpret_cast<void (*)()>(mb1_isr_table[v]));
    set_gate(timer_vector, mb1_timer_isr);
    load_idt();
}

void load_idt() {
    struct [[gnu::packed]] {
        uint16_t limit;
        uint32_t base;
    } d{sizeof idt - 1, reinterpret_cast<uint32_t>(idt)};
    asm volatile("lidt %0" : : "m"(d));
}

// Periodic, divide by 1, 10,000,000 counts: 10 ms on QEMU's 1 GHz APIC bus, which the root's
// emulated APIC counts too (SDM vol 3 10.5.4). Not shorter: under an instruction emulator one
// tick's round trip through the root's APIC emulation can take longer than a millisecond, and a
// period shorter than its interrupt's service time livelocks any machine.
void start_timer() {
    apic::reg(apic::svr) = 0x1ff;
    apic::reg(apic::divide) = 0xb;
    apic::reg(apic::lvt_timer) = (1u << 17) | timer_vector;
    apic::reg(apic::initial_count) = 10000000;
}

void stop_timer() { apic::reg(apic::lvt_timer) = 1u << 16; }

void wait_ticks(uint32_t n) {
    uint32_t end = ticks + n;
    while (static_cast<int32_t>(ticks - end) < 0)
        asm volatile("sti; hlt; cli" ::: "memory");
}

uint32_t cpu_count() {
    uint32_t ids[max_cpus];
    uint32_t n = madt_apic_ids(ids, max_cpus);
    return n ? n : 1;
}

uint32_t start_aps(void (*ap)(uint32_t)) {
    uint32_t ids[max_cpus];
    uint32_t n = madt_apic_ids(ids, max_cpus);
    uint32_t self = apic::reg(apic::id) >> 24;
    ap_entry = ap;
    reported = 1;
    memcpy(phys<void>(tramp_page), mb1_tramp, static_cast<size_t>(mb1_tramp_end - mb1_tramp));
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == self)
            continue;
        uint32_t before = reported;
        // SDM vol 3 8.4.4.1: INIT, 10 ms, SIPI, 200 us, SIPI.
        send_ipi(ids[i], 0x4500);
        wait_ticks(1);
        send_ipi(ids[i], 0x4600 | (tramp_page >> 12));
        wait_ticks(1);
        if (reported == before)
            send_ipi(ids[i], 0x4600 | (tramp_page >> 12));
        for (uint32_t t = 0; t < 2000 && reported == before; t++)
            wait_ticks(1);
    }
    return reported;
}

Cpuid cpuid(uint32_t leaf, uint32_t subleaf) {
    Cpuid r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

bool word_is(const char* p, const char* w) {
    for (; *w; p++, w++)
        if (*p != *w)
            return false;
    return *p == 0 || *p == ' ';
}

const char* value(const char* cmdline, const char* key) {
    size_t n = 0;
    while (key[n])
        n++;
    for (const char* p = cmdline; p && *p; p++)
        if ((p == cmdline || p[-1] == ' ') && memcmp(p, key, n) == 0)
            return p + n;
    return nullptr;
}

uint32_t parse_number(const char* p) {
    uint32_t v = 0;
    if (p[0] == '0' && p[1] == 'x') {
        for (p += 2;; p++) {
            uint32_t d = *p >= '0' && *p <= '9' ? static_cast<uint32_t>(*p - '0')
                         : *p >= 'a' && *p <= 'f' ? static_cast<uint32_t>(*p - 'a' + 10) : 16;
            if (d == 16)
                return v;
            v = v * 16 + d;
        }
    }
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + static_cast<uint32_t>(*p - '0');
    return v;
}

} // namespace mb1::kit

using namespace mb1::kit;

void mb1_ap_main(uint32_t n) {
    load_idt();
    ap_entry(n);
    __atomic_fetch_add(&reported, 1u, __ATOMIC_ACQ_REL);
    for (;;)
        asm volatile("cli; hlt");
}

void mb1_fault(uint32_t vector, uint32_t error_or_eip) {
    if (recovery.armed) {
        recovery.vector = vector;
        __builtin_longjmp(recovery.buf, 1);
    }
    mb1::lock_console();
    mb1::print(kernel_name);
    mb1::print(": unexpected exception ");
    mb1::print_u(vector);
    mb1::print(" ");
    mb1::print_x(error_or_eip);
    mb1::print("\n");
    mb1::unlock_console();
    mb1::exit(2);
}

void mb1_timer() {
    ticks = ticks + 1;
    mb1::apic::reg(mb1::apic::eoi) = 0;
}

