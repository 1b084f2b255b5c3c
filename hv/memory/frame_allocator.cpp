#include "hv/memory/frame_allocator.hpp"

namespace hv {
namespace {

constexpr uint64_t bits_per_word = 64;

uint64_t first_frame(const MemoryMap& map) { return align_down(map.lowest().frame(), bits_per_word); }

} // namespace

uint64_t FrameAllocator::bookkeeping_bytes(const MemoryMap& map) {
    if (map.count() == 0) {
        return 0;
    }
    uint64_t span = map.highest_end().frame() - first_frame(map);
    return (span + bits_per_word - 1) / bits_per_word * sizeof(uint64_t);
}

bool FrameAllocator::find_bookkeeping(const MemoryMap& map, PhysAddr& out) {
    uint64_t bytes = bookkeeping_bytes(map);
    return bytes != 0 && map.find_free(bytes, page_size, out);
}

bool FrameAllocator::init(const MemoryMap& map, void* buffer, uint64_t buffer_bytes) {
    bits_ = nullptr;
    free_ = total_ = hint_ = 0;
    range_count_ = 0;
    uint64_t need = bookkeeping_bytes(map);
    if (need == 0 || buffer == nullptr || buffer_bytes < need ||
        reinterpret_cast<uintptr_t>(buffer) % alignof(uint64_t) != 0) {
        return false;
    }
    bits_ = static_cast<uint64_t*>(buffer);
    base_frame_ = first_frame(map);
    end_frame_ = map.highest_end().frame();
    words_ = need / sizeof(uint64_t);
    __builtin_memset(bits_, 0, need);
    for (size_t i = 0; i < map.count(); ++i) {
        ranges_[i] = map[i];
        set_bits(map[i].base.frame(), map[i].length / page_size, true);
        total_ += map[i].length / page_size;
    }
    range_count_ = map.count();
    free_ = total_;
    return true;
}

bool FrameAllocator::managed(uint64_t frame) const {
    // Binary search: ranges_ is sorted and disjoint.
    size_t lo = 0, hi = range_count_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const PhysRange& r = ranges_[mid];
        if (frame < r.base.frame()) {
            hi = mid;
        } else if (frame >= r.end().frame()) {
            lo = mid + 1;
        } else {
            return true;
        }
    }
    return false;
}

bool FrameAllocator::test(uint64_t frame) const {
    uint64_t i = frame - base_frame_;
    return (bits_[i / bits_per_word] >> (i % bits_per_word)) & 1;
}

void FrameAllocator::set_bits(uint64_t first, uint64_t count, bool value) {
    uint64_t i = first - base_frame_, end = i + count;
    while (i < end) {
        uint64_t bit = i % bits_per_word;
        uint64_t n = bits_per_word - bit < end - i ? bits_per_word - bit : end - i;
        uint64_t mask = (n == bits_per_word ? ~0ull : ((1ull << n) - 1)) << bit;
        bits_[i / bits_per_word] = value ? bits_[i / bits_per_word] | mask : bits_[i / bits_per_word] & ~mask;
        i += n;
    }
}

// First frame in [from, to) whose bit is clear (allocated or unmanaged), or `to`.
uint64_t FrameAllocator::first_clear(uint64_t from, uint64_t to) const {
    uint64_t i = from - base_frame_, end = to - base_frame_;
    while (i < end) {
        uint64_t word = ~bits_[i / bits_per_word] >> (i % bits_per_word);
        if (word != 0) {
            uint64_t hit = i + static_cast<uint64_t>(__builtin_ctzll(word));
            return (hit < end ? hit : end) + base_frame_;
        }
        i = align_down(i, bits_per_word) + bits_per_word;
    }
    return to;
}

bool FrameAllocator::allocate(PhysAddr& out) {
    if (free_ == 0) {
        return false;
    }
    for (uint64_t n = 0; n < words_; ++n) {
        uint64_t w = (hint_ + n) % words_;
        if (bits_[w] != 0) {
            uint64_t frame = base_frame_ + w * bits_per_word + static_cast<uint64_t>(__builtin_ctzll(bits_[w]));
            bits_[w] &= bits_[w] - 1;
            --free_;
            hint_ = w;
            out = PhysAddr(frame << page_shift);
            return true;
        }
    }
    return false;   // unreachable while free_ is consistent with the bitmap
}

bool FrameAllocator::allocate_contiguous(uint64_t frames, uint64_t align, PhysAddr& out) {
    if (frames == 0 || frames > free_ || align < page_size || (align & (align - 1)) != 0) {
        return false;
    }
    uint64_t step = align / page_size;
    if (step > end_frame_) {
        return false;
    }
    uint64_t c = align_up(base_frame_, step);
    while (c < end_frame_ && frames <= end_frame_ - c) {
        uint64_t busy = first_clear(c, c + frames);
        if (busy == c + frames) {
            set_bits(c, frames, false);
            free_ -= frames;
            out = PhysAddr(c << page_shift);
            return true;
        }
        c = align_up(busy + 1, step);
    }
    return false;
}

bool FrameAllocator::claim(PhysAddr base, uint64_t frames) {
    uint64_t f = base.frame();
    if (bits_ == nullptr || !base.is_page_aligned() || frames == 0 || f < base_frame_ ||
        f >= end_frame_ || frames > end_frame_ - f || first_clear(f, f + frames) != f + frames) {
        return false;
    }
    set_bits(f, frames, false);
    free_ -= frames;
    return true;
}

bool FrameAllocator::all_allocated_and_managed(uint64_t first, uint64_t count) const {
    if (bits_ == nullptr || count == 0 || first < base_frame_ || first >= end_frame_ ||
        count > end_frame_ - first) {
        return false;
    }
    for (uint64_t f = first; f < first + count; ++f) {
        if (!managed(f) || test(f)) {
            return false;
        }
    }
    return true;
}

bool FrameAllocator::free(PhysAddr frame) { return free_contiguous(frame, 1); }

bool FrameAllocator::free_contiguous(PhysAddr base, uint64_t frames) {
    // Checked in full before any bit changes, so a bad request leaves the state untouched.
    if (!base.is_page_aligned() || !all_allocated_and_managed(base.frame(), frames)) {
        return false;
    }
    set_bits(base.frame(), frames, true);
    free_ += frames;
    return true;
}

bool FrameAllocator::is_free(PhysAddr frame) const {
    uint64_t f = frame.frame();
    return bits_ != nullptr && f >= base_frame_ && f < end_frame_ && test(f);
}

} // namespace hv
