#include "hv/memory/memory_map.hpp"

namespace hv {
namespace {

// Clips [base, base + length) to [0, 2^52); returns false when nothing is left.
bool clip(uint64_t base, uint64_t length, uint64_t& end, size_t& clipped) {
    if (length == 0) {
        return false;
    }
    if (base >= max_phys_end) {
        ++clipped;
        return false;
    }
    if (length > max_phys_end - base) {
        ++clipped;
        end = max_phys_end;
    } else {
        end = base + length;
    }
    return true;
}

} // namespace

void MemoryMap::erase(size_t i) {
    for (size_t j = i; j + 1 < count_; ++j) {
        ranges_[j] = ranges_[j + 1];
    }
    --count_;
}

bool MemoryMap::insert(size_t i, uint64_t base, uint64_t end) {
    if (count_ == capacity) {
        return false;
    }
    for (size_t j = count_; j > i; --j) {
        ranges_[j] = ranges_[j - 1];
    }
    ranges_[i] = {PhysAddr(base), end - base};
    ++count_;
    return true;
}

// Union: ranges that overlap or touch [base, end) are folded into one.
MemoryMapError MemoryMap::add(uint64_t base, uint64_t end) {
    size_t i = 0;
    while (i < count_ && ranges_[i].end().raw() < base) {
        ++i;
    }
    size_t j = i;
    while (j < count_ && ranges_[j].base.raw() <= end) {
        base = ranges_[j].base.raw() < base ? ranges_[j].base.raw() : base;
        end = ranges_[j].end().raw() > end ? ranges_[j].end().raw() : end;
        ++j;
    }
    if (j == i) {
        return insert(i, base, end) ? MemoryMapError::none : MemoryMapError::too_many_ranges;
    }
    ranges_[i] = {PhysAddr(base), end - base};
    for (size_t k = i + 1; k < j; ++k) {
        erase(i + 1);
    }
    return MemoryMapError::none;
}

MemoryMapError MemoryMap::subtract(uint64_t base, uint64_t end) {
    for (size_t i = 0; i < count_;) {
        uint64_t rb = ranges_[i].base.raw(), re = ranges_[i].end().raw();
        if (re <= base || rb >= end) {
            ++i;
        } else if (base <= rb && end >= re) {
            erase(i);
        } else if (base > rb && end < re) {
            ranges_[i].length = base - rb;
            return insert(i + 1, end, re) ? MemoryMapError::none : MemoryMapError::too_many_ranges;
        } else if (base <= rb) {
            ranges_[i] = {PhysAddr(end), re - end};
            ++i;
        } else {
            ranges_[i].length = base - rb;
            ++i;
        }
    }
    return MemoryMapError::none;
}

MemoryMapError MemoryMap::build(const boot::MemoryRange* ranges, size_t count) {
    count_ = 0;
    clipped_ = 0;
    if (ranges == nullptr) {
        count = 0;
    }
    size_t ignored = 0;
    for (size_t i = 0; i < count; ++i) {
        uint64_t end;
        if (ranges[i].type == boot::MemoryType::usable &&
            clip(ranges[i].base, ranges[i].length, end, clipped_)) {
            if (MemoryMapError e = add(ranges[i].base, end); e != MemoryMapError::none) {
                return e;
            }
        }
    }
    // Second pass so that the order of entries cannot let a usable entry override a reserved one.
    for (size_t i = 0; i < count; ++i) {
        uint64_t end;
        if (ranges[i].type != boot::MemoryType::usable &&
            clip(ranges[i].base, ranges[i].length, end, ignored)) {
            if (MemoryMapError e = subtract(ranges[i].base, end); e != MemoryMapError::none) {
                return e;
            }
        }
    }
    // Inward page alignment: a partial page shares its frame with something that is not RAM.
    for (size_t i = 0; i < count_;) {
        uint64_t b = align_up(ranges_[i].base.raw(), page_size);
        uint64_t e = align_down(ranges_[i].end().raw(), page_size);
        if (e <= b) {
            erase(i);
        } else {
            ranges_[i] = {PhysAddr(b), e - b};
            ++i;
        }
    }
    return count_ == 0 ? MemoryMapError::no_usable_memory : MemoryMapError::none;
}

MemoryMapError MemoryMap::reserve(PhysAddr base, uint64_t length) {
    if (length == 0) {
        return MemoryMapError::none;
    }
    if (length > ~0ull - base.raw()) {
        return MemoryMapError::bad_reservation;
    }
    uint64_t end = base.raw() + length;
    if (base.raw() >= max_phys_end) {
        return MemoryMapError::none;
    }
    end = end > max_phys_end ? max_phys_end : end;
    return subtract(align_down(base.raw(), page_size), align_up(end, page_size));
}

MemoryMapError MemoryMap::reserve_boot_structures(const boot::BootInfo& info) {
    MemoryMapError e = reserve(PhysAddr(0), 1ull << 20);
    if (e == MemoryMapError::none) {
        e = reserve(PhysAddr(info.info_phys), info.info_size);
    }
    for (size_t i = 0; e == MemoryMapError::none && i < info.module_count && i < boot::max_modules; ++i) {
        const boot::Module& m = info.modules[i];
        e = m.end < m.start ? MemoryMapError::bad_reservation : reserve(PhysAddr(m.start), m.end - m.start);
    }
    return e;
}

bool MemoryMap::find_free(uint64_t bytes, uint64_t align, PhysAddr& out) const {
    if (bytes == 0 || bytes > max_phys_end || align < page_size || (align & (align - 1)) != 0 ||
        align > max_phys_end) {
        return false;
    }
    bytes = align_up(bytes, page_size);
    for (size_t i = 0; i < count_; ++i) {
        uint64_t start = align_up(ranges_[i].base.raw(), align), end = ranges_[i].end().raw();
        if (start < end && end - start >= bytes) {
            out = PhysAddr(start);
            return true;
        }
    }
    return false;
}

bool MemoryMap::contains(PhysAddr base, uint64_t length) const {
    for (size_t i = 0; i < count_; ++i) {
        const PhysRange& r = ranges_[i];
        if (base >= r.base && base < r.end()) {
            return length <= r.end() - base;
        }
    }
    return false;
}

uint64_t MemoryMap::total_bytes() const {
    uint64_t total = 0;
    for (size_t i = 0; i < count_; ++i) {
        total += ranges_[i].length;
    }
    return total;
}

const char* describe(MemoryMapError e) {
    switch (e) {
    case MemoryMapError::none: return "memory map: ok";
    case MemoryMapError::too_many_ranges: return "memory map: more disjoint ranges than the map holds";
    case MemoryMapError::no_usable_memory: return "memory map: no usable page-aligned memory";
    case MemoryMapError::bad_reservation: return "memory map: a reservation wraps past 2^64";
    }
    return "memory map: unknown error";
}

} // namespace hv
