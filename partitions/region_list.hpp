// A sorted, non-overlapping list of typed physical ranges where a later set() wins over what it
// covers: how the root's memory map is composed from the firmware map, the hypervisor's memory,
// the modules and what the loader placed. Pure and fixed-capacity; unit-tested on the host.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace partitions {

struct TypedRange {
    uint64_t base;
    uint64_t length;
    uint32_t type;
};

class RegionList {
public:
    static constexpr size_t capacity = 256;

    // False (list unchanged) when the range wraps or the list would overflow.
    [[nodiscard]] bool set(uint64_t base, uint64_t length, uint32_t type);
    [[nodiscard]] size_t count() const { return count_; }
    [[nodiscard]] const TypedRange& operator[](size_t i) const { return ranges_[i]; }
    // The type at `addr`, or `none` when no range covers it.
    [[nodiscard]] uint32_t type_at(uint64_t addr, uint32_t none) const;

private:
    TypedRange ranges_[capacity]{};
    size_t count_ = 0;
};

} // namespace partitions
