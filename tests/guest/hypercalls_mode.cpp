// Calls from where the TLFS forbids them (3.x, "Hypercall Restrictions"): ring 3 and real mode
// raise #UD. Ring 3 is reached by IRETQ to a user stub in a low page marked user-accessible;
// real mode by leaving long mode on this very VP (hypercalls_modes.S), since the suite may run
// on one processor.
#include "tests/guest/hypercalls_env.hpp"

extern "C" {
void hc_user_trip(uint64_t user_rip, uint64_t user_rsp, uint64_t control);
void hc_user_ud();
extern uint64_t hc_user_fault_rip;
extern const uint8_t hc_rm_start[], hc_rm_end[], hc_rm_gdt[], hc_rm_gdtr[], hc_rm_idtr[], hc_rm_far[], hc_rm_far64[],
    hc_rm_vector[], hc_rm_ivt[];
extern const uint32_t hc_rm_off_long, hc_rm_off_insn, hc_rm_off_ud, hc_rm_off_iret;
}

namespace hc {
namespace {

struct [[gnu::packed]] Gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, zero;
};
struct [[gnu::packed]] Pointer {
    uint16_t limit;
    uint64_t base;
};
struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1, ist[7], reserved2;
    uint16_t reserved3, iomap;
};

alignas(16) uint64_t gdt[7] = {0, 0x00af9b000000ffff, 0x00cf93000000ffff, 0x00cff3000000ffff, 0x00affb000000ffff, 0, 0};
alignas(16) Tss tss;
alignas(16) uint8_t ring0_stack[8192];

uint64_t cr4() {
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

// Marks the 2 MiB identity page holding `low` user-accessible (the handoff's tables map the first
// 4 GiB with 2 MiB pages) or takes that back.
bool set_user(uint64_t low, bool on) {
    uint64_t cr3;
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    constexpr uint64_t mask = 0x000ffffffffff000ull, user = 4, large = 0x80;
    auto* l4 = static_cast<uint64_t*>(at(cr3 & mask));
    auto* l3 = static_cast<uint64_t*>(at(l4[0] & mask));
    auto* l2 = static_cast<uint64_t*>(at(l3[low >> 30] & mask));
    uint64_t& leaf = l2[(low >> 21) & 511];
    if (!(leaf & large))
        return false;
    uint64_t* entries[] = {&l4[0], &l3[low >> 30], &leaf};
    for (uint64_t* e : entries)
        *e = on ? (*e | user) : (*e & ~user);
    asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
    return true;
}

bool ring3_raises_ud() {
    Env& e = env();
    if (cr4() & (3u << 20))
        return false;   // SMEP/SMAP would fault first; the runtime never sets them
    Pointer old_gdt, old_idt;
    asm volatile("sgdt %0; sidt %1" : "=m"(old_gdt), "=m"(old_idt));
    tss = {};
    tss.rsp[0] = reinterpret_cast<uint64_t>(ring0_stack + sizeof ring0_stack);
    tss.iomap = sizeof tss;
    auto t = reinterpret_cast<uint64_t>(&tss);
    gdt[5] = (sizeof tss - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) | (((t >> 24) & 0xff) << 56);
    gdt[6] = t >> 32;
    Pointer g{sizeof gdt - 1, reinterpret_cast<uint64_t>(gdt)};
    asm volatile("lgdt %0; mov $0x28, %%ax; ltr %%ax" : : "m"(g) : "rax", "memory");
    // The suite's IDT (hypercalls_vp.cpp) is current; its #UD gate goes to hc_user_ud for the trip.
    auto* idt = reinterpret_cast<Gate*>(old_idt.base);
    Gate saved = idt[6];
    auto a = reinterpret_cast<uint64_t>(&hc_user_ud);
    idt[6] = {static_cast<uint16_t>(a), 0x08, 0, 0x8e, static_cast<uint16_t>(a >> 16), static_cast<uint32_t>(a >> 32), 0};
    auto* stub = static_cast<uint8_t*>(at(e.low_page));
    const uint8_t stub_bytes[] = {0x0f, 0x01, static_cast<uint8_t>(e.amd ? 0xd9 : 0xc1), 0x0f, 0x0b};   // call; ud2
    __builtin_memcpy(stub, stub_bytes, sizeof stub_bytes);
    bool mapped = set_user(e.low_page, true);
    hc_user_fault_rip = 0;
    if (mapped)
        hc_user_trip(e.low_page, e.low_page + 4096, tlfs::control::make(tlfs::call::get_partition_id));
    set_user(e.low_page, false);
    idt[6] = saved;
    // Back to the runtime's GDT; TR keeps our TSS's cached descriptor, which nothing uses again.
    asm volatile("lgdt %0" : : "m"(old_gdt) : "memory");
    return mapped && hc_user_fault_rip == e.low_page;
}

template <class T> void put(uint8_t* page, const void* sym, T v) {
    __builtin_memcpy(page + (static_cast<const uint8_t*>(sym) - hc_rm_start), &v, sizeof v);
}

int real_mode_vector() {
    Env& e = env();
    uint64_t p = e.low_page;
    auto* page = static_cast<uint8_t*>(at(p));
    uint64_t size = static_cast<uint64_t>(hc_rm_end - hc_rm_start);
    if (size > 4096 || p >= 0x100000)
        return -2;
    __builtin_memcpy(page, hc_rm_start, size);
    uint64_t base_bits = ((p & 0xffffff) << 16);
    put(page, hc_rm_gdt + 24, 0x00009b000000ffffull | base_bits);
    put(page, hc_rm_gdt + 32, 0x000093000000ffffull | base_bits);
    put(page, hc_rm_gdtr + 2, p + static_cast<uint64_t>(hc_rm_gdt - hc_rm_start));
    put(page, hc_rm_idtr + 2, static_cast<uint32_t>(p + static_cast<uint64_t>(hc_rm_ivt - hc_rm_start)));
    put(page, hc_rm_far + 2, static_cast<uint16_t>(p >> 4));
    put(page, hc_rm_far64, static_cast<uint32_t>(p + hc_rm_off_long));
    for (uint32_t v = 0; v < 32; v++)
        put(page, hc_rm_ivt + 4 * v, static_cast<uint32_t>(((p >> 4) << 16) | (v == 6 ? hc_rm_off_ud : hc_rm_off_iret)));
    page[hc_rm_off_insn + 2] = e.amd ? 0xd9 : 0xc1;
    reinterpret_cast<void (*)()>(p)();
    uint16_t v;
    __builtin_memcpy(&v, page + (hc_rm_vector - hc_rm_start), sizeof v);
    return v;
}

} // namespace

void run_mode_checks(suite::Reporter& r) {
    r.check(ring3_raises_ud(), "a hypercall from ring 3 raises #UD at the instruction");
    int v = real_mode_vector();
    r.diag("real-mode trip: vector %d", v);
    r.check(v != -2, "the real-mode trip returns to long mode");
    r.check(v == 6, "a hypercall from real mode raises #UD");
    zero_page(env().page(pg_out));
    Ret id = call(tlfs::control::make(tlfs::call::get_partition_id), 0, env().page(pg_out));
    r.check(id.status() == Status::success, "the interface works after both trips");
}

} // namespace hc
