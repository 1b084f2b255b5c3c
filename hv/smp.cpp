#include "hv/smp.hpp"

#include "hv/arch/apic.hpp"
#include "hv/arch/interrupts.hpp"
#include "hv/arch/tsc.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "hv/lib/string.hpp"
#include "hv/memory/direct_map.hpp"
#include "hv/memory/kernel_map.hpp"
#include "hv/percpu.hpp"

extern "C" char hv_trampoline_start[], hv_trampoline_end[], hv_tr_gdt[], hv_tr_protected[], hv_tr_long[],
    hv_tr_gdtr[], hv_tr_far32[], hv_tr_far64[], hv_tr_cr3[], hv_tr_stack[], hv_tr_percpu[], hv_tr_entry[];
extern "C" [[noreturn]] void hv_ap_entry(hv::PerCpu* c);

namespace hv::smp {
namespace {

PhysAddr trampoline; // 0: none
uint8_t* tramp_virt = nullptr;

uint64_t off(const char* sym) {
    return static_cast<uint64_t>(sym - hv_trampoline_start);
}

template <class T> void patch(const char* sym, T value) {
    memcpy(tramp_virt + off(sym), &value, sizeof value);
}

bool wait_online(const PerCpu& c, uint64_t us) {
    for (uint64_t d = tsc::deadline_us(us); tsc::before(d);)
        if (__atomic_load_n(&c.online, __ATOMIC_ACQUIRE))
            return true;
    return __atomic_load_n(&c.online, __ATOMIC_ACQUIRE);
}

// Runs this processor's pending call, if any. Called from the IPI handler and by a processor
// that waits for another's answer, so two processors calling each other never deadlock.
void serve_mailbox() {
    PerCpu& c = this_cpu();
    uint64_t seq = __atomic_load_n(&c.call_seq, __ATOMIC_ACQUIRE);
    if (seq == __atomic_load_n(&c.call_done, __ATOMIC_RELAXED))
        return;
    c.call_fn(c.call_arg);
    __atomic_store_n(&c.call_done, seq, __ATOMIC_RELEASE);
}

} // namespace

bool prepare_trampoline(const boot::BootInfo& info) {
    uint64_t size = static_cast<uint64_t>(hv_trampoline_end - hv_trampoline_start);
    // A page the firmware calls usable, above the real-mode IVT/BDA area and below the EBDA,
    // that no module occupies (the first MiB is outside the frame allocator already).
    for (uint64_t p = 0x8000; p + page_size <= 0xa0000 && !trampoline.raw(); p += page_size) {
        bool usable = false;
        for (size_t i = 0; i < info.memory_count; i++) {
            const boot::MemoryRange& r = info.memory[i];
            if (r.type == boot::MemoryType::usable && r.base <= p && r.base + r.length >= p + page_size)
                usable = true;
        }
        for (size_t i = 0; i < info.module_count; i++)
            if (info.modules[i].start < p + page_size && info.modules[i].end > p)
                usable = false;
        if (usable)
            trampoline = PhysAddr(p);
    }
    if (!trampoline.raw() || size > page_size)
        return false;
    tramp_virt = static_cast<uint8_t*>(phys_to_virt(trampoline));
    memcpy(tramp_virt, hv_trampoline_start, size);
    auto base = static_cast<uint32_t>(trampoline.raw());
    patch(hv_tr_gdtr + 2, static_cast<uint32_t>(base + off(hv_tr_gdt)));
    patch(hv_tr_far32, static_cast<uint32_t>(base + off(hv_tr_protected)));
    patch(hv_tr_far64, static_cast<uint32_t>(base + off(hv_tr_long)));
    patch(hv_tr_cr3, kmap::root().raw());
    patch(hv_tr_entry, reinterpret_cast<uint64_t>(&hv_ap_entry));
    arch::set_interrupt_handler(arch::vector_call, [](RegisterDump&) {
        serve_mailbox();
        apic::eoi();
    });
    return true;
}

uint32_t start_aps(const uint32_t* apic_ids, size_t count, uint32_t limit) {
    uint32_t self = apic::id();
    if (!trampoline.raw())
        return online_count();
    kmap::map_identity(trampoline);
    auto vector = static_cast<uint8_t>(trampoline.raw() >> 12);
    for (size_t i = 0; i < count && online_count() < limit; i++) {
        uint32_t id = apic_ids[i];
        if (id == self)
            continue;
        uint32_t index = online_count();
        if (!percpu_allocate(index, id)) {
            console::log("hv: smp: out of memory for processor stacks; %u processors\n", index);
            break;
        }
        PerCpu& c = cpu_slot(index);
        patch(hv_tr_stack, c.stack_top);
        patch(hv_tr_percpu, &c);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        // Intel SDM vol 3 8.4.4.1 / MP spec B.4: INIT, 10 ms, SIPI, 200 us, SIPI.
        apic::send(id, apic::Delivery::init);
        tsc::delay_us(10000);
        apic::send(id, apic::Delivery::startup, vector);
        if (!wait_online(c, 200))
            apic::send(id, apic::Delivery::startup, vector);
        if (!wait_online(c, 1000000)) {
            // Park it again so a late start can never run on the next processor's stack.
            apic::send(id, apic::Delivery::init);
            console::log("hv: smp: processor with APIC id %u did not start; skipped\n", id);
        }
    }
    kmap::unmap_identity(trampoline);
    // The others may still cache the identity page; drop it from their TLBs too.
    call_on_all([](void* p) { asm volatile("invlpg (%0)"
                                           :
                                           : "r"(p)
                                           : "memory"); },
                reinterpret_cast<void*>(trampoline.raw()));
    return online_count();
}

bool call_on(uint32_t index, CallFn fn, void* arg) {
    if (index == this_cpu().index) {
        fn(arg);
        return true;
    }
    if (index >= max_processors || !__atomic_load_n(&cpu_slot(index).online, __ATOMIC_ACQUIRE))
        return false;
    PerCpu& c = cpu_slot(index);
    c.call_lock.lock();
    c.call_fn = fn;
    c.call_arg = arg;
    uint64_t seq = c.call_seq + 1;
    __atomic_store_n(&c.call_seq, seq, __ATOMIC_RELEASE);
    bool ok = apic::send(c.apic_id, apic::Delivery::fixed, arch::vector_call);
    if (!ok)
        console::log("hv: smp: the IPI to processor %u stayed pending for 100 ms (ICR delivery status)\n", index);
    const char* was = this_cpu().doing;
    const uint64_t exits_before = c.exits;
    this_cpu().doing = "waiting for a call's answer";
    for (uint64_t d = tsc::deadline_us(5000000); ok;) {
        if (__atomic_load_n(&c.call_done, __ATOMIC_ACQUIRE) == seq)
            break;
        serve_mailbox();
        ok = tsc::before(d);
        x86::pause();
    }
    if (!ok) {
        // Withdraw the request so a late IPI does not run it after we returned.
        __atomic_store_n(&c.call_seq, c.call_done, __ATOMIC_RELEASE);
        console::log("hv: smp: processor %u did not answer a call (it was last %s; %lu guest exits meanwhile)\n", index,
                     c.doing, c.exits - exits_before);
    }
    this_cpu().doing = was;
    c.call_lock.unlock();
    return ok;
}

bool poke(uint32_t index) {
    if (index == this_cpu().index)
        return true;
    if (index >= max_processors || !__atomic_load_n(&cpu_slot(index).online, __ATOMIC_ACQUIRE))
        return false;
    return apic::send(cpu_slot(index).apic_id, apic::Delivery::fixed, arch::vector_call);
}

uint32_t call_on_all(CallFn fn, void* arg) {
    uint32_t ran = 0;
    for (uint32_t i = 0; i < max_processors; i++)
        if (__atomic_load_n(&cpu_slot(i).online, __ATOMIC_ACQUIRE) && call_on(i, fn, arg))
            ran++;
    return ran;
}

void idle() {
    for (;;) {
        asm volatile("sti; hlt; cli" ::: "memory"); // STI's shadow covers HLT: no lost wake-up
        if (auto work = __atomic_exchange_n(&this_cpu().idle_work, nullptr, __ATOMIC_ACQ_REL))
            work();
    }
}

} // namespace hv::smp

extern "C" void hv_ap_entry(hv::PerCpu* c) {
    using namespace hv;
    percpu_init_ap(*c);
    apic::init_this_cpu();
    if (apic::id() != c->apic_id)
        console::log("hv: smp: cpu %u reports APIC id %u, the MADT said %u\n", c->index, apic::id(),
                     c->apic_id);
    c->apic_id = apic::id();
    mark_online(*c);
    smp::idle();
}
