// How the hypervisor hands the machine to the root partition (docs/root-handoff.md).
//
// The bootstrap root VP starts in 64-bit mode at the root image's ELF entry with
//   RDI = guest-physical address of a RootHandoff (page-aligned, in the root's own memory)
//   RSI = kRootHandoffMagic
//   CR3 = initial page tables (in root memory, listed in the memory map as `boot_data`) that map
//         the first 4 GiB identity with 2 MiB pages and the image's segments at their ELF
//         virtual addresses; the root replaces them with its own.
//   a flat 64-bit GDT, interrupts disabled, no IDT: the root loads its own.
// The other root VPs start as on bare metal: the root sends INIT-SIPI-SIPI through its local
// APIC and the matching VP starts in real mode at the SIPI vector.
//
// Guest-physical equals host-physical for the root: its devices' DMA needs no translation.
#pragma once
#include <stdint.h>

namespace root_abi {

inline constexpr uint64_t kRootHandoffMagic = 0x52544f4f52564820ull;   // "HV ROOTR"
inline constexpr uint32_t kRootHandoffVersion = 1;

enum class RegionType : uint32_t {
    usable = 1,        // the root's RAM
    reserved = 2,      // firmware or device ranges, as the firmware reported them
    acpi_reclaimable = 3,
    acpi_nvs = 4,
    bad = 5,
    hypervisor = 16,   // the hypervisor's memory: not mapped; any access is refused with #GP(0)
    boot_data = 17,    // the handoff page and the initial page tables: reusable once read
    image = 18,        // the root image's loaded segments
    module = 19,       // modules given to the root (GRUB module2 lines after the first)
};

struct Region {
    uint64_t base;
    uint64_t length;
    RegionType type;
    uint32_t reserved;
};

struct Module {
    uint64_t base;     // guest-physical
    uint64_t length;
    char cmdline[112];
};

inline constexpr uint32_t kMaxRegions = 160;
inline constexpr uint32_t kMaxModules = 15;
inline constexpr uint32_t kMaxProcessors = 256;

struct RootHandoff {
    uint64_t magic;
    uint32_t version;
    uint32_t size;                      // sizeof(RootHandoff), so later versions can append
    uint64_t rsdp;                      // guest-physical address of the ACPI RSDP, 0 if none
    uint64_t tsc_khz;                   // calibrated by the hypervisor
    uint32_t processor_count;           // root VPs, one per logical processor the hypervisor runs
    uint32_t bsp_apic_id;
    uint32_t apic_ids[kMaxProcessors];  // index = VP index
    uint32_t region_count;
    uint32_t module_count;
    Region regions[kMaxRegions];        // sorted, non-overlapping
    Module modules[kMaxModules];
    char cmdline[256];                  // the root module's command line
    char backend[8];                    // "svm" or "vmx": for logs only; use CPUID to discover
};

static_assert(sizeof(RootHandoff) <= 8192, "the handoff fits in two pages");

} // namespace root_abi
