#include "hv/percpu.hpp"

#include "hv/arch/x86.hpp"
#include "hv/memory/physical.hpp"

namespace hv {
namespace {

PerCpu slots[max_processors];
uint32_t online = 0;
alignas(16) uint8_t bsp_ist[arch::ist_count][ist_stack_bytes]; // before the heap exists

void load_this(PerCpu& c) {
    // Processors leave reset with caching disabled (CR0.CD|NW, SDM vol 3 9.1.1) and some
    // firmware and loaders hand over that way: turn caching on and report x87 errors natively
    // (NE); keep supervisor write protection (WP).
    constexpr uint64_t cd = 1u << 30, nw = 1u << 29, wp = 1u << 16, ne = 1u << 5;
    x86::write_cr0((x86::read_cr0() & ~(cd | nw)) | wp | ne);
    c.self = &c;
    arch::load_gdt(c.gdt, c.tss);
    for (unsigned i = 0; i < arch::ist_count; i++)
        c.tss.ist[i] = c.ist_top[i]; // TSS.ISTn is ist[n-1]
    c.tss.rsp[0] = c.stack_top;
    arch::load_idt();
    x86::wrmsr(x86::msr::gs_base, reinterpret_cast<uint64_t>(&c));
    x86::wrmsr(x86::msr::tsc_aux, c.index); // rdtscp/rdpid tell the processor without GS
}

} // namespace

PerCpu& cpu_slot(uint32_t index) {
    return slots[index];
}
uint32_t online_count() {
    return __atomic_load_n(&online, __ATOMIC_ACQUIRE);
}

void mark_online(PerCpu& c) {
    // The count first: the boot processor waits for this flag and then takes online_count() as
    // the next processor's slot. With the flag first, a processor stopped between the two stores
    // (an emulator's thread descheduled) let the next one be given the same slot: four online,
    // three slots, and "3 of 4 answered" at the first call on every processor.
    __atomic_fetch_add(&online, 1, __ATOMIC_ACQ_REL);
    __atomic_store_n(&c.online, true, __ATOMIC_RELEASE);
}

void percpu_init_bsp(uint64_t stack_top) {
    PerCpu& c = slots[0];
    c.index = 0;
    c.stack_top = stack_top;
    for (unsigned i = 0; i < arch::ist_count; i++)
        c.ist_top[i] = reinterpret_cast<uint64_t>(bsp_ist[i] + ist_stack_bytes);
    arch::idt_init();
    load_this(c);
}

void percpu_init_ap(PerCpu& c) {
    load_this(c);
}

bool percpu_allocate(uint32_t index, uint32_t apic_id) {
    PerCpu& c = slots[index];
    c.index = index;
    c.apic_id = apic_id;
    auto* stack = static_cast<uint8_t*>(mem::alloc_aligned(stack_bytes, 16));
    if (!stack)
        return false;
    c.stack_top = reinterpret_cast<uint64_t>(stack + stack_bytes);
    for (unsigned i = 0; i < arch::ist_count; i++) {
        auto* ist = static_cast<uint8_t*>(mem::alloc_aligned(ist_stack_bytes, 16));
        if (!ist)
            return false;
        c.ist_top[i] = reinterpret_cast<uint64_t>(ist + ist_stack_bytes);
    }
    return true;
}

} // namespace hv
