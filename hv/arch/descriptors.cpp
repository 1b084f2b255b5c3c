#include "hv/arch/descriptors.hpp"

#include "hv/lib/string.hpp"

extern "C" char hv_isr_stubs[]; // hv/arch/isr.S: 256 stubs of 16 bytes each

namespace hv::arch {
namespace {

// SDM vol 3 6.14.1, figure 6-8: 64-bit interrupt gate.
struct IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

alignas(4096) IdtGate idt[256];

unsigned ist_for(unsigned vector) {
    switch (vector) {
    case 2:
        return ist_nmi;
    case 8:
        return ist_double_fault;
    case 18:
        return ist_machine_check;
    default:
        return 0;
    }
}

} // namespace

void load_gdt(Gdt& gdt, Tss& tss) {
    memset(&tss, 0, sizeof tss);
    tss.iomap_base = sizeof(Tss); // no I/O bitmap: ring 0 only
    auto base = reinterpret_cast<uint64_t>(&tss);
    uint64_t limit = sizeof(Tss) - 1;
    gdt.entries[0] = 0;
    gdt.entries[1] = 0x00af9a000000ffffull; // 64-bit code, DPL 0 (SDM vol 3 3.4.5)
    gdt.entries[2] = 0x00cf92000000ffffull; // data, writable
    // SDM vol 3 7.2.3, figure 7-4: available 64-bit TSS (type 9), present.
    gdt.entries[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                     (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt.entries[4] = base >> 32;

    DescriptorPointer p{sizeof gdt.entries - 1, reinterpret_cast<uint64_t>(gdt.entries)};
    // A far return reloads CS; the data selectors are loaded directly.
    asm volatile("lgdt %0\n"
                 "pushq %1\n"
                 "leaq 1f(%%rip), %%rax\n"
                 "pushq %%rax\n"
                 "lretq\n"
                 "1:\n"
                 "mov %2, %%ds\n"
                 "mov %2, %%es\n"
                 "mov %2, %%ss\n"
                 :
                 : "m"(p), "i"(sel_code), "r"(static_cast<uint32_t>(sel_data))
                 : "rax", "memory");
    asm volatile("ltr %0" : : "r"(sel_tss));
}

void idt_init() {
    auto stubs = reinterpret_cast<uint64_t>(hv_isr_stubs);
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = stubs + v * 16;
        idt[v] = IdtGate{static_cast<uint16_t>(a),
                         sel_code,
                         static_cast<uint8_t>(ist_for(v)),
                         0x8e, // present, DPL 0, 64-bit interrupt gate (IF cleared on entry)
                         static_cast<uint16_t>(a >> 16),
                         static_cast<uint32_t>(a >> 32),
                         0};
    }
}

void load_idt() {
    DescriptorPointer p{sizeof idt - 1, reinterpret_cast<uint64_t>(idt)};
    asm volatile("lidt %0" : : "m"(p));
}

} // namespace hv::arch
