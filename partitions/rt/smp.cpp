// Starting a partition's application processors as an operating system does on bare metal:
// INIT, 10 ms, SIPI, 200 us, SIPI (Intel SDM vol 3 8.4.4.1), through the x2APIC ICR (MSR 0x830).
// In a partition the hypervisor intercepts these ICR writes and starts the matching VP in real
// mode at the SIPI vector, so this code is the same as on hardware.
#include "partitions/rt/rt.hpp"

extern "C" {
extern const uint8_t rt_tramp[], rt_tramp_params[], rt_tramp_end[];
extern const uint8_t rt_trampoline_image[];
void rt_ap_entry64();
}

namespace rt {
namespace {

constexpr uint32_t x2apic_id_msr = 0x802;
constexpr uint32_t x2apic_icr_msr = 0x830;
constexpr uint32_t apic_base_msr = 0x1b;
constexpr uint64_t max_aps = 64;
constexpr uint64_t ap_stack_bytes = 16384;

alignas(16) uint8_t ap_stacks[max_aps][ap_stack_bytes];
uint32_t online = 1;

struct [[gnu::packed]] TrampolineParams {
    uint32_t cr3;
    uint32_t index;
    uint64_t stack;
    uint64_t entry;
};

// A page below 1 MiB that the handoff lists as usable: the SIPI vector names it.
uint64_t find_trampoline_page(const root_abi::RootHandoff& h) {
    for (uint32_t i = 0; i < h.region_count && i < root_abi::kMaxRegions; i++) {
        const auto& r = h.regions[i];
        if (r.type != root_abi::RegionType::usable)
            continue;
        uint64_t base = (r.base + 0xfff) & ~0xfffull;
        if (base < 0x1000)
            base = 0x1000;
        if (base + 0x1000 <= r.base + r.length && base + 0x1000 <= 0x100000)
            return base;
    }
    return 0;
}

} // namespace

uint32_t apic_id() { return static_cast<uint32_t>(rdmsr(x2apic_id_msr)); }

void apic_send_icr(uint32_t dest, uint32_t low) { wrmsr(x2apic_icr_msr, (uint64_t{dest} << 32) | low); }

uint32_t processors_online() { return __atomic_load_n(&online, __ATOMIC_ACQUIRE); }

uint32_t start_aps(const root_abi::RootHandoff& h) {
    // x2APIC mode: EN (bit 11) and EXTD (bit 10) in IA32_APIC_BASE (SDM vol 3 10.12.1).
    wrmsr(apic_base_msr, rdmsr(apic_base_msr) | (1u << 11) | (1u << 10));
    uint64_t page = find_trampoline_page(h);
    if (!page) {
        log("partition: no usable page below 1 MiB for the AP trampoline\n");
        return processors_online();
    }
    auto* dst = reinterpret_cast<uint8_t*>(page);
    uint64_t size = static_cast<uint64_t>(rt_tramp_end - rt_tramp);
    __builtin_memcpy(dst, rt_tramp, size);
    auto* params = reinterpret_cast<volatile TrampolineParams*>(dst + (rt_tramp_params - rt_tramp));
    uint64_t cr3;
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    uint32_t self = apic_id();
    uint32_t index = 1;
    for (uint32_t i = 0; i < h.processor_count && i < root_abi::kMaxProcessors && index < max_aps; i++) {
        uint32_t target = h.apic_ids[i];
        if (target == self)
            continue;
        uint32_t before = processors_online();
        params->cr3 = static_cast<uint32_t>(cr3);
        params->index = index;
        params->stack = reinterpret_cast<uint64_t>(ap_stacks[index] + ap_stack_bytes);
        params->entry = reinterpret_cast<uint64_t>(&rt_ap_entry64);
        apic_send_icr(target, 0x4500);                                 // INIT, assert
        delay_us(10000);
        apic_send_icr(target, 0x4600 | static_cast<uint32_t>(page >> 12));   // SIPI
        delay_us(200);
        apic_send_icr(target, 0x4600 | static_cast<uint32_t>(page >> 12));
        uint64_t deadline = rdtsc() + 1000 * tsc_khz();                // a second per processor
        while (processors_online() == before && rdtsc() < deadline)
            asm volatile("pause");
        if (processors_online() == before)
            log("partition: processor with APIC id %u did not start\n", target);
        else
            index++;
    }
    return processors_online();
}

void report_ap_online() { __atomic_fetch_add(&online, 1, __ATOMIC_ACQ_REL); }

} // namespace rt
