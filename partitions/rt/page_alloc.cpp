// A bitmap over the usable pages below 4 GiB, one bit per page (set = free), under one lock.
// First fit from a moving hint: child RAM is allocated in long runs and given back whole, so
// fragmentation stays low without anything cleverer.
#include "partitions/rt/page_alloc.hpp"

#include "hv/lib/spinlock.hpp"

namespace rt::pages {
namespace {

constexpr uint64_t low_limit = 1ull << 20;
constexpr uint64_t high_limit = 4ull << 30;
constexpr uint64_t max_pages = high_limit / page_size;

uint64_t bitmap[max_pages / 64];
hv::Spinlock lock;
uint64_t first_page, end_page, hint, free_pages, total_pages;

bool is_free(uint64_t p) { return bitmap[p / 64] & (1ull << (p % 64)); }
void set_free(uint64_t p, bool f) {
    if (f)
        bitmap[p / 64] |= 1ull << (p % 64);
    else
        bitmap[p / 64] &= ~(1ull << (p % 64));
}

// First free run of `count` pages in [from, to).
uint64_t find_run(uint64_t from, uint64_t to, uint64_t count) {
    uint64_t run = 0;
    for (uint64_t p = from; p < to; p++) {
        if (run == 0 && (p % 64) == 0 && bitmap[p / 64] == 0 && p + 64 <= to) {
            p += 63;   // a whole word in use: skip it
            continue;
        }
        run = is_free(p) ? run + 1 : 0;
        if (run == count)
            return p + 1 - count;
    }
    return 0;
}

} // namespace

void init(const root_abi::RootHandoff& h) {
    first_page = max_pages;
    for (uint32_t i = 0; i < h.region_count && i < root_abi::kMaxRegions; i++) {
        const root_abi::Region& r = h.regions[i];
        if (r.type != root_abi::RegionType::usable)
            continue;
        uint64_t b = (r.base + page_size - 1) / page_size, e = (r.base + r.length) / page_size;
        if (b < low_limit / page_size)
            b = low_limit / page_size;
        if (e > max_pages)
            e = max_pages;
        for (uint64_t p = b; p < e; p++) {
            set_free(p, true);
            total_pages++;
        }
        if (b < e && b < first_page)
            first_page = b;
        if (b < e && e > end_page)
            end_page = e;
    }
    free_pages = total_pages;
    hint = first_page;
}

uint64_t alloc_run(uint64_t count) {
    if (count == 0)
        return 0;
    uint64_t p;
    {
        hv::IrqLockGuard g(lock);
        if (count > free_pages)
            return 0;
        p = find_run(hint, end_page, count);
        if (!p)
            p = find_run(first_page, end_page, count);
        if (!p)
            return 0;
        for (uint64_t i = 0; i < count; i++)
            set_free(p + i, false);
        free_pages -= count;
        hint = p + count;
    }
    __builtin_memset(ptr(p * page_size), 0, count * page_size);
    return p * page_size;
}

void free_run(uint64_t base, uint64_t count) {
    hv::IrqLockGuard g(lock);
    uint64_t p = base / page_size;
    for (uint64_t i = 0; i < count; i++) {
        if (p + i < end_page && !is_free(p + i)) {
            set_free(p + i, true);
            free_pages++;
        }
    }
    if (p < hint)
        hint = p;
}

uint64_t free_count() { return __atomic_load_n(&free_pages, __ATOMIC_RELAXED); }
uint64_t total_count() { return total_pages; }

} // namespace rt::pages
