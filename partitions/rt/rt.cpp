#include "partitions/rt/rt.hpp"

#include <stdarg.h>

#include "hv/lib/format.hpp"
#include "hv/lib/spinlock.hpp"

extern "C" {
[[noreturn]] void rt_main(uint64_t handoff_gpa, uint64_t magic);
[[noreturn]] void rt_ap_main(uint32_t index);
void rt_exception(uint64_t* frame);
uint64_t rt_probe_rdmsr(uint32_t msr, int* vector);
void rt_probe_wrmsr(uint32_t msr, int* vector, uint64_t value);
uint64_t rt_probe_read64(uint64_t addr, int* vector);
void rt_probe_write64(uint64_t addr, int* vector, uint64_t value);
void rt_probe_ud2(uint64_t, int* vector);
void rt_probe_int3(uint64_t, int* vector);
void rt_probe_div0(uint64_t, int* vector);
uint8_t rt_probe_inb(uint16_t port, int* vector);
void rt_probe_xsetbv(uint32_t xcr, int* vector, uint64_t value);
extern const uint64_t rt_isr_table[32];
extern const uint64_t rt_fixup_start[], rt_fixup_end[];
extern void (*const rt_init_array_start[])(), (*const rt_init_array_end[])();
}

namespace rt {
namespace {

// Frame layout built by isr.S: 15 GPRs (rax first), vector, error code, then the CPU's frame.
enum FrameSlot { f_rax = 0, f_vector = 15, f_error = 16, f_rip = 17, f_cs = 18, f_rflags = 19, f_rsp = 20 };

struct [[gnu::packed]] IdtGate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, zero;
};
struct [[gnu::packed]] DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};

// Every vector: 0-31 are the runtime's exception handlers; a kernel or suite adds its own
// interrupts with set_interrupt_gate (the same table on every processor).
alignas(16) IdtGate idt[256];

IdtGate gate_to(uint64_t a) {
    return {static_cast<uint16_t>(a), 0x08, 0, 0x8e, static_cast<uint16_t>(a >> 16), static_cast<uint32_t>(a >> 32), 0};
}
// Accessed bits preset: the table is read-only and a segment load would otherwise write it.
alignas(16) const uint64_t gdt[3] = {0, 0x00af9b000000ffff, 0x00cf93000000ffff};
hv::Spinlock console_lock;
uint64_t khz = 1000000;   // until the handoff says

void load_descriptor_tables() {
    DescriptorPointer g{sizeof gdt - 1, reinterpret_cast<uint64_t>(gdt)};
    DescriptorPointer i{sizeof idt - 1, reinterpret_cast<uint64_t>(idt)};
    asm volatile("lgdt %0\n"
                 "pushq $0x08\n"
                 "leaq 1f(%%rip), %%rax\n"
                 "pushq %%rax\n"
                 "lretq\n"
                 "1: mov $0x10, %%eax\n"
                 "mov %%eax, %%ds\n"
                 "mov %%eax, %%es\n"
                 "mov %%eax, %%ss\n"
                 "lidt %1"
                 :
                 : "m"(g), "m"(i)
                 : "rax", "memory");
}

void build_idt() {
    for (int v = 0; v < 32; v++)
        idt[v] = gate_to(rt_isr_table[v]);
}

void serial_put(char c) {
    for (int i = 0; i < 100000 && !(inb(0x3f8 + 5) & 0x20); i++)
        asm volatile("pause");
    outb(0x3f8, static_cast<uint8_t>(c));
}

} // namespace

void set_interrupt_gate(uint8_t vector, void (*isr)()) {
    IdtGate g = isr ? gate_to(reinterpret_cast<uint64_t>(isr)) : vector < 32 ? gate_to(rt_isr_table[vector]) : IdtGate{};
    __builtin_memcpy(const_cast<IdtGate*>(&idt[vector]), &g, sizeof g);
}

void init_processor() {
    load_descriptor_tables();
    // x2APIC mode, EN and EXTD in IA32_APIC_BASE (SDM vol 3 11.12.1): the root's APIC is in it
    // already; a child's starts as an xAPIC on every processor.
    uint64_t base = rdmsr(0x1b);
    if ((base & 0xc00) != 0xc00)
        wrmsr(0x1b, base | 0xc00);
}

void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void log(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = hv::vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    console_lock.lock();
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            serial_put('\r');
        serial_put(buf[i]);
    }
    console_lock.unlock();
}

void exit(int code) {
    outb(0xf4, static_cast<uint8_t>(code));
    for (;;)
        asm volatile("cli; hlt");
}

uint64_t tsc_khz() { return khz; }

void delay_us(uint64_t us) {
    uint64_t end = rdtsc() + us * khz / 1000;
    while (rdtsc() < end)
        asm volatile("pause");
}

Cpuid cpuid(uint32_t leaf, uint32_t subleaf) {
    Cpuid r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t{hi} << 32) | lo;
}

void wrmsr(uint32_t msr, uint64_t v) {
    asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32)) : "memory");
}

Probe probe_rdmsr(uint32_t msr) {
    Probe p{};
    p.value = rt_probe_rdmsr(msr, &p.vector);
    return p;
}
Probe probe_wrmsr(uint32_t msr, uint64_t value) {
    Probe p{};
    rt_probe_wrmsr(msr, &p.vector, value);
    return p;
}
Probe probe_read64(uint64_t virt) {
    Probe p{};
    p.value = rt_probe_read64(virt, &p.vector);
    return p;
}
Probe probe_write64(uint64_t virt, uint64_t value) {
    Probe p{};
    rt_probe_write64(virt, &p.vector, value);
    return p;
}
Probe probe_ud2() {
    Probe p{};
    rt_probe_ud2(0, &p.vector);
    return p;
}
Probe probe_int3() {
    Probe p{};
    rt_probe_int3(0, &p.vector);
    return p;
}
Probe probe_div0() {
    Probe p{};
    rt_probe_div0(0, &p.vector);
    return p;
}
Probe probe_xsetbv(uint32_t xcr, uint64_t value) {
    Probe p{};
    rt_probe_xsetbv(xcr, &p.vector, value);
    return p;
}
Probe probe_inb(uint16_t port) {
    Probe p{};
    p.value = rt_probe_inb(port, &p.vector);
    return p;
}

} // namespace rt

// The runtime's own entry points (partitions/rt/entry.S).
void rt_exception(uint64_t* frame) {
    for (const uint64_t* f = rt_fixup_start; f < rt_fixup_end; f += 2) {
        if (f[0] == frame[rt::f_rip]) {
            frame[rt::f_rax] = frame[rt::f_vector];
            frame[rt::f_rip] = f[1];
            return;
        }
    }
    rt::log("partition: unexpected exception %lu error=%lx at rip=%lx rsp=%lx\n", frame[rt::f_vector],
            frame[rt::f_error], frame[rt::f_rip], frame[rt::f_rsp]);
    rt::exit(3);
}

void rt_main(uint64_t handoff_gpa, uint64_t magic) {
    // Constructors of global objects (C++ [basic.start.dynamic]): nothing else runs them here.
    for (auto* f = rt_init_array_start; f != rt_init_array_end; f++)
        (*f)();
    rt::build_idt();
    rt::init_processor();
    // The first 4 GiB are mapped one-to-one by the hypervisor's initial tables, where it places
    // the handoff (partitions/abi/root_handoff.hpp).
    const auto* h = reinterpret_cast<const root_abi::RootHandoff*>(handoff_gpa);
    if (magic != root_abi::kRootHandoffMagic || handoff_gpa == 0 || h->magic != root_abi::kRootHandoffMagic ||
        h->version != root_abi::kRootHandoffVersion) {
        rt::log("partition: bad handoff (magic %lx at %lx)\n", magic, handoff_gpa);
        rt::exit(2);
    }
    if (h->tsc_khz)
        rt::khz = h->tsc_khz;
    rt::exit(rt::partition_main(*h));
}

void rt_ap_main(uint32_t index) {
    rt::init_processor();
    rt::report_ap_online();
    rt::ap_main(index);
    for (;;)
        asm volatile("cli; hlt");
}
