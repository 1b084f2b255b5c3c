// Segment descriptors, the 64-bit TSS and the IDT (Intel SDM vol 3 ch. 3, 6.14, 7.7).
// Long mode ignores segment bases and limits except for the TSS and GS/FS, so every processor
// gets one flat code/data pair, its own TSS (IST stacks) and a shared IDT.
#pragma once
#include <stdint.h>

namespace hv::arch {

// Selectors: the same code/data layout as the boot GDT in boot/entry32.S.
inline constexpr uint16_t sel_code = 0x08;
inline constexpr uint16_t sel_data = 0x10;
inline constexpr uint16_t sel_tss = 0x18;

// Interrupt stack table slots (SDM vol 3 6.14.5): separate known-good stacks for the events
// that may arrive on a broken stack or in the middle of anything.
inline constexpr unsigned ist_nmi = 1;
inline constexpr unsigned ist_double_fault = 2;
inline constexpr unsigned ist_machine_check = 3;
inline constexpr unsigned ist_count = 3;

// SDM vol 3 figure 7-11.
struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

struct alignas(16) Gdt {
    uint64_t entries[5]; // null, code64, data, TSS (two slots in long mode)
};

// Fills `gdt` with the flat segments and a descriptor for `tss`, then loads GDTR, reloads
// every segment register and the task register. GS base is left alone (per-CPU pointer).
void load_gdt(Gdt& gdt, Tss& tss);

// Loads the one shared IDT (built on first use by idt_init).
void idt_init();
void load_idt();

struct [[gnu::packed]] DescriptorPointer {
    uint16_t limit;
    uint64_t base;
};

} // namespace hv::arch
