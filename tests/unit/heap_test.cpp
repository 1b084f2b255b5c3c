// The kernel heap: first fit, coalescing, alignment, and refusal of bad or double frees.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "hv/memory/heap.hpp"

using hv::Heap;

namespace {

struct Arena {
    std::unique_ptr<uint8_t[]> mem;
    size_t size;
    explicit Arena(size_t n) : mem(new uint8_t[n + 64]), size(n) {}
    uint8_t* base() { return mem.get(); }
};

} // namespace

TEST(Heap, AllocReturnsAlignedDistinctWritableBlocks) {
    Arena a(4096);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    std::vector<void*> ptrs;
    for (size_t n : {1u, 16u, 17u, 100u, 0u}) {
        void* p = h.alloc(n);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
        std::memset(p, 0xAB, n);
        ptrs.push_back(p);
    }
    for (size_t i = 0; i < ptrs.size(); ++i) {
        for (size_t j = i + 1; j < ptrs.size(); ++j) {
            EXPECT_NE(ptrs[i], ptrs[j]);
        }
    }
    EXPECT_TRUE(h.check());
}

TEST(Heap, FreeCoalescesBackToOneBlock) {
    Arena a(4096);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    size_t initial = h.free_bytes();
    void* p1 = h.alloc(100);
    void* p2 = h.alloc(200);
    void* p3 = h.alloc(300);
    ASSERT_TRUE(p1 && p2 && p3);
    EXPECT_LT(h.free_bytes(), initial);
    EXPECT_TRUE(h.free(p2));
    EXPECT_TRUE(h.free(p1));   // merges forward into p2's block
    EXPECT_TRUE(h.free(p3));   // merges backward and forward
    EXPECT_EQ(h.free_block_count(), 1u);
    EXPECT_EQ(h.free_bytes(), initial);
    EXPECT_TRUE(h.check());
}

TEST(Heap, OutOfMemoryReturnsNull) {
    Arena a(256);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    EXPECT_EQ(h.alloc(4096), nullptr);
    EXPECT_EQ(h.alloc(SIZE_MAX), nullptr);
    EXPECT_EQ(h.alloc(SIZE_MAX - 8), nullptr);
    Heap empty;
    EXPECT_EQ(empty.alloc(1), nullptr);
}

TEST(Heap, FirstFitReusesFreedHole) {
    Arena a(4096);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    void* p1 = h.alloc(64);
    void* p2 = h.alloc(64);
    ASSERT_TRUE(p1 && p2);
    ASSERT_TRUE(h.free(p1));
    EXPECT_EQ(h.alloc(48), p1);
}

TEST(Heap, DoubleFreeDetected) {
    Arena a(4096);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    void* p1 = h.alloc(64);
    void* p2 = h.alloc(64);
    void* p3 = h.alloc(64);
    ASSERT_TRUE(h.free(p2));
    EXPECT_FALSE(h.free(p2));
    ASSERT_TRUE(h.free(p1));   // p2's header is now swallowed into p1's block
    EXPECT_FALSE(h.free(p2));
    EXPECT_FALSE(h.free(p1));
    EXPECT_TRUE(h.free(p3));
    EXPECT_TRUE(h.check());
    EXPECT_EQ(h.free_block_count(), 1u);
}

TEST(Heap, ForeignAndCorruptPointersRejected) {
    Arena a(4096);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    auto* p = static_cast<uint8_t*>(h.alloc(64));
    ASSERT_NE(p, nullptr);
    int local = 0;
    EXPECT_FALSE(h.free(&local));
    EXPECT_FALSE(h.free(p + 16));   // inside the payload: no header there
    EXPECT_FALSE(h.free(p + 1));
    EXPECT_TRUE(h.free(nullptr));
    p[-16] ^= 0x40;                 // scribble over the size
    EXPECT_FALSE(h.free(p));
    p[-16] ^= 0x40;
    EXPECT_TRUE(h.free(p));
}

TEST(Heap, AlignedAllocation) {
    Arena a(64 * 1024);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    void* small = h.alloc(8);
    for (size_t align : {32u, 64u, 256u, 4096u}) {
        void* p = h.alloc_aligned(100, align);
        ASSERT_NE(p, nullptr) << align;
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << align;
        std::memset(p, 0x5A, 100);
        EXPECT_TRUE(h.check());
        EXPECT_TRUE(h.free(p));
    }
    EXPECT_EQ(h.alloc_aligned(16, 48), nullptr);   // not a power of two
    EXPECT_TRUE(h.free(small));
    EXPECT_EQ(h.free_block_count(), 1u);
}

TEST(Heap, AddRegionValidates) {
    Arena a(4096);
    Heap h;
    EXPECT_FALSE(h.add_region(nullptr, 4096));
    EXPECT_FALSE(h.add_region(a.base(), 16));          // too small for one block
    ASSERT_TRUE(h.add_region(a.base(), 1024));
    EXPECT_FALSE(h.add_region(a.base() + 512, 1024));  // overlaps
    EXPECT_TRUE(h.add_region(a.base() + 1024, 1024));  // adjacent: extends and coalesces
    EXPECT_EQ(h.free_block_count(), 1u);
    void* big = h.alloc(1800);
    EXPECT_NE(big, nullptr);
    EXPECT_TRUE(h.check());
}

TEST(Heap, MultipleRegions) {
    Arena a(1024), b(1024);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base(), a.size));
    ASSERT_TRUE(h.add_region(b.base(), b.size));
    EXPECT_EQ(h.free_block_count(), 2u);
    EXPECT_EQ(h.alloc(1500), nullptr);   // no single region has it
    void* p = h.alloc(900);
    void* q = h.alloc(900);
    EXPECT_NE(p, nullptr);
    EXPECT_NE(q, nullptr);
    EXPECT_TRUE(h.free(p));
    EXPECT_TRUE(h.free(q));
    EXPECT_TRUE(h.check());
}

TEST(Heap, StressRandomAllocFree) {
    Arena a(256 * 1024);
    Heap h;
    ASSERT_TRUE(h.add_region(a.base() + 3, a.size - 3));   // an unaligned region is trimmed
    size_t initial = h.free_bytes();
    std::vector<std::pair<uint8_t*, size_t>> live;
    uint32_t seed = 12345;
    auto rnd = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 8); };
    for (int i = 0; i < 5000; ++i) {
        if (live.empty() || rnd() % 3 != 0) {
            size_t n = rnd() % 700, al = size_t{16} << (rnd() % 4);
            auto* p = static_cast<uint8_t*>(h.alloc_aligned(n, al));
            if (p != nullptr) {
                ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % al, 0u);
                std::memset(p, static_cast<int>(n & 0xFF), n);
                live.push_back({p, n});
            }
        } else {
            size_t k = rnd() % live.size();
            auto [p, n] = live[k];
            for (size_t j = 0; j < n; ++j) {
                ASSERT_EQ(p[j], static_cast<uint8_t>(n & 0xFF)) << "block overwritten";
            }
            ASSERT_TRUE(h.free(p));
            live.erase(live.begin() + static_cast<long>(k));
        }
    }
    ASSERT_TRUE(h.check());
    for (auto [p, n] : live) {
        ASSERT_TRUE(h.free(p));
    }
    EXPECT_EQ(h.free_block_count(), 1u);
    EXPECT_EQ(h.free_bytes(), initial);
}
