// The usable physical memory, normalized once from the loader's raw map: sorted, non-overlapping,
// page-aligned inward, with every byte any non-usable entry claims removed (reserved wins, since
// firmware maps overlap in practice and handing out an ACPI NVS page is fatal, losing RAM is not).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "boot/boot_info.hpp"
#include "hv/lib/addr.hpp"

namespace hv {

// Intel SDM vol 3 4.1.4: MAXPHYADDR is at most 52; nothing at or above 2^52 can be RAM.
inline constexpr uint64_t max_phys_end = 1ull << 52;

struct PhysRange {
    PhysAddr base;
    uint64_t length = 0;
    [[nodiscard]] constexpr PhysAddr end() const { return base + length; }
};

enum class MemoryMapError : uint32_t {
    none,
    too_many_ranges,
    no_usable_memory,
    bad_reservation,
};

[[nodiscard]] const char* describe(MemoryMapError e);

class MemoryMap {
public:
    static constexpr size_t capacity = 256;

    // Entries reaching past 2^52 (including those whose base + length wraps 2^64) are clipped
    // to 2^52 rather than rejected, and counted in clipped(): a firmware bug in one entry should
    // not stop the machine from booting. Zero-length entries are dropped.
    [[nodiscard]] MemoryMapError build(const boot::MemoryRange* ranges, size_t count);
    [[nodiscard]] MemoryMapError build(const boot::BootInfo& info) {
        return build(info.memory, info.memory_count);
    }

    // Removes [base, base + length) rounded outward to pages. A reservation wrapping 2^64 is
    // bad_reservation; parts beyond the usable memory are simply ignored.
    [[nodiscard]] MemoryMapError reserve(PhysAddr base, uint64_t length);

    // Reserves what the loader owns (its info structure, every module) and the first 1 MiB
    // (real-mode IVT, BDA, EBDA, legacy ROMs, and the AP trampoline's home).
    [[nodiscard]] MemoryMapError reserve_boot_structures(const boot::BootInfo& info);

    // First page-aligned block of `bytes` with `align` (a power of two >= 4096) inside one range.
    [[nodiscard]] bool find_free(uint64_t bytes, uint64_t align, PhysAddr& out) const;

    [[nodiscard]] bool contains(PhysAddr base, uint64_t length) const;
    [[nodiscard]] size_t count() const { return count_; }
    [[nodiscard]] const PhysRange& operator[](size_t i) const { return ranges_[i]; }
    [[nodiscard]] uint64_t total_bytes() const;
    [[nodiscard]] PhysAddr lowest() const { return count_ ? ranges_[0].base : PhysAddr(); }
    [[nodiscard]] PhysAddr highest_end() const { return count_ ? ranges_[count_ - 1].end() : PhysAddr(); }
    [[nodiscard]] size_t clipped() const { return clipped_; }

private:
    MemoryMapError add(uint64_t base, uint64_t end);
    MemoryMapError subtract(uint64_t base, uint64_t end);
    void erase(size_t i);
    bool insert(size_t i, uint64_t base, uint64_t end);

    PhysRange ranges_[capacity]{};
    size_t count_ = 0;
    size_t clipped_ = 0;
};

} // namespace hv
