#include "tests/guest/vectors.hpp"

#include "partitions/rt/rt.hpp"

extern "C" {
extern const uint8_t vectors_stubs[];
void vectors_dispatch(uint64_t* frame);
}

namespace vectors {
namespace {

constexpr uint32_t msr_eoi = 0x80b;   // x2APIC EOI (SDM vol 3 11.12.1.2)

uint32_t apic_to_vp[256];
Hook hooks[256];
bool no_eoi[256];

struct PerVp {
    uint32_t count[256];
    uint64_t rip[256];
    uint64_t ref[256];
};
PerVp seen[max_vps];

using Isr = void (*)();
Isr stub(uint8_t v) { return reinterpret_cast<Isr>(const_cast<uint8_t*>(vectors_stubs) + 16u * v); }

} // namespace

void init(const root_abi::RootHandoff& h) {
    for (unsigned v = 32; v < 256; v++)   // in the runtime's IDT, every processor's already
        rt::set_interrupt_gate(static_cast<uint8_t>(v), stub(static_cast<uint8_t>(v)));
    for (uint32_t i = 0; i < h.processor_count && i < max_vps; i++)
        if (h.apic_ids[i] < 256)
            apic_to_vp[h.apic_ids[i]] = i;
}

uint32_t this_vp() {
    uint32_t id = rt::apic_id();
    return id < 256 ? apic_to_vp[id] : 0;
}

void set_hook(uint8_t vector, Hook hook) { __atomic_store_n(&hooks[vector], hook, __ATOMIC_RELEASE); }
void set_eoi(uint8_t vector, bool eoi) { no_eoi[vector] = !eoi; }
void claim_vector15(bool claim) { rt::set_interrupt_gate(15, claim ? stub(15) : nullptr); }

uint32_t count(uint32_t vp, uint8_t vector) { return __atomic_load_n(&seen[vp].count[vector], __ATOMIC_ACQUIRE); }
uint64_t last_rip(uint32_t vp, uint8_t vector) { return __atomic_load_n(&seen[vp].rip[vector], __ATOMIC_ACQUIRE); }
uint64_t last_ref(uint32_t vp, uint8_t vector) { return __atomic_load_n(&seen[vp].ref[vector], __ATOMIC_ACQUIRE); }

void reset(uint8_t vector, uint32_t vp) {
    __atomic_store_n(&seen[vp].count[vector], 0, __ATOMIC_RELEASE);
    seen[vp].rip[vector] = seen[vp].ref[vector] = 0;
}

void reset(uint8_t vector) {
    for (uint32_t vp = 0; vp < max_vps; vp++)
        reset(vector, vp);
}

bool wait_count(uint32_t vp, uint8_t vector, uint32_t want, uint64_t ms) {
    uint64_t end = ref_now() + ms * 10'000;
    uint64_t flags;
    asm volatile("pushfq; popq %0" : "=r"(flags));
    sti();
    while (count(vp, vector) < want && ref_now() < end)
        asm volatile("pause");
    if (!(flags & (1u << 9)))
        cli();
    return count(vp, vector) >= want;
}

void spin_ms(uint64_t ms) {
    for (uint64_t end = ref_now() + ms * 10'000; ref_now() < end;)
        asm volatile("pause");
}

} // namespace vectors

void vectors_dispatch(uint64_t* frame) {
    using namespace vectors;
    uint64_t ref = ref_now();
    auto v = static_cast<uint8_t>(frame[15]);
    uint32_t vp = this_vp();
    if (vp >= max_vps)
        vp = 0;
    seen[vp].rip[v] = frame[16];
    seen[vp].ref[v] = ref;
    __atomic_fetch_add(&seen[vp].count[v], 1, __ATOMIC_ACQ_REL);
    Event e{vp, v, frame};
    if (Hook h = __atomic_load_n(&hooks[v], __ATOMIC_ACQUIRE))
        h(e);
    if (!no_eoi[v] && v >= 16)
        rt::wrmsr(msr_eoi, 0);
}
