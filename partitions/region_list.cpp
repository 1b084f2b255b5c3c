#include "partitions/region_list.hpp"

namespace partitions {

bool RegionList::set(uint64_t base, uint64_t length, uint32_t type) {
    if (length == 0)
        return true;
    uint64_t end;
    if (__builtin_add_overflow(base, length, &end))
        return false;
    // Build the result in a scratch copy so that an overflow leaves the list as it was.
    TypedRange out[capacity];
    size_t n = 0;
    bool placed = false;
    auto push = [&](uint64_t b, uint64_t e, uint32_t t) {
        if (b >= e)
            return true;
        if (n > 0 && out[n - 1].type == t && out[n - 1].base + out[n - 1].length == b) {
            out[n - 1].length += e - b;
            return true;
        }
        if (n == capacity)
            return false;
        out[n++] = {b, e - b, t};
        return true;
    };
    for (size_t i = 0; i < count_; i++) {
        const TypedRange& r = ranges_[i];
        uint64_t rb = r.base, re = r.base + r.length;
        if (!placed && rb >= base) {
            if (!push(base, end, type))
                return false;
            placed = true;
        }
        // The parts of r outside [base, end) survive.
        if (!push(rb, re < base ? re : base, r.type))
            return false;
        if (!placed && re > base) {
            if (!push(base, end, type))
                return false;
            placed = true;
        }
        if (!push(rb > end ? rb : end, re, r.type))
            return false;
    }
    if (!placed && !push(base, end, type))
        return false;
    for (size_t i = 0; i < n; i++)
        ranges_[i] = out[i];
    count_ = n;
    return true;
}

uint32_t RegionList::type_at(uint64_t addr, uint32_t none) const {
    for (size_t i = 0; i < count_; i++)
        if (addr >= ranges_[i].base && addr - ranges_[i].base < ranges_[i].length)
            return ranges_[i].type;
    return none;
}

} // namespace partitions
