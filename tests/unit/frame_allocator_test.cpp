// The frame allocator over a normalized map: bookkeeping sizing, single and contiguous aligned
// allocation, and refusal of bad frees without state change.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <vector>

#include "hv/memory/frame_allocator.hpp"

using boot::MemoryRange;
using boot::MemoryType;
using hv::FrameAllocator;
using hv::MemoryMap;
using hv::PhysAddr;

namespace {

struct Fixture {
    std::unique_ptr<MemoryMap> map = std::make_unique<MemoryMap>();
    std::unique_ptr<FrameAllocator> fa = std::make_unique<FrameAllocator>();
    std::vector<uint64_t> bits;

    explicit Fixture(const std::vector<MemoryRange>& r) {
        EXPECT_EQ(map->build(r.data(), r.size()), hv::MemoryMapError::none);
        bits.assign(FrameAllocator::bookkeeping_bytes(*map) / 8, 0xDEADBEEF);
        EXPECT_TRUE(fa->init(*map, bits.data(), bits.size() * 8));
    }
};

constexpr MemoryType usable = MemoryType::usable;

} // namespace

TEST(FrameAllocator, BookkeepingSize) {
    auto m = std::make_unique<MemoryMap>();
    std::vector<MemoryRange> r{{0x100000, 0x100000, usable}, {0x40000000, 0x1000, usable}};
    ASSERT_EQ(m->build(r.data(), r.size()), hv::MemoryMapError::none);
    // Bits from frame 0x100 (rounded down to 64) to frame 0x40001.
    EXPECT_EQ(FrameAllocator::bookkeeping_bytes(*m), (0x40001u - 0x100u + 63) / 64 * 8);
    PhysAddr at;
    ASSERT_TRUE(FrameAllocator::find_bookkeeping(*m, at));
    EXPECT_EQ(at.raw(), 0x100000u);
    EXPECT_EQ(FrameAllocator::bookkeeping_bytes(MemoryMap{}), 0u);
}

TEST(FrameAllocator, InitRejectsSmallOrMisalignedBuffer) {
    auto m = std::make_unique<MemoryMap>();
    std::vector<MemoryRange> r{{0, 0x1000000, usable}};
    ASSERT_EQ(m->build(r.data(), r.size()), hv::MemoryMapError::none);
    uint64_t need = FrameAllocator::bookkeeping_bytes(*m);
    std::vector<uint64_t> buf(need / 8 + 1);
    auto fa = std::make_unique<FrameAllocator>();
    EXPECT_FALSE(fa->init(*m, buf.data(), need - 8));
    EXPECT_FALSE(fa->init(*m, reinterpret_cast<uint8_t*>(buf.data()) + 1, need));
    EXPECT_FALSE(fa->init(*m, nullptr, need));
    PhysAddr p;
    EXPECT_FALSE(fa->allocate(p));
    EXPECT_TRUE(fa->init(*m, buf.data(), need));
    EXPECT_EQ(fa->free_frames(), 0x1000u);
}

TEST(FrameAllocator, AllocatesOnlyUsableFramesOnce) {
    Fixture f({{0x1000, 0x3000, usable}, {0x10000, 0x2000, usable}, {0x2000, 0x1000, MemoryType::reserved}});
    EXPECT_EQ(f.fa->total_frames(), 4u);
    std::set<uint64_t> got;
    PhysAddr p;
    while (f.fa->allocate(p)) {
        EXPECT_TRUE(f.map->contains(p, 0x1000)) << std::hex << p.raw();
        EXPECT_TRUE(got.insert(p.raw()).second);
    }
    EXPECT_EQ(got, (std::set<uint64_t>{0x1000, 0x3000, 0x10000, 0x11000}));
    EXPECT_EQ(f.fa->free_frames(), 0u);
}

TEST(FrameAllocator, FreeMakesFrameAvailableAgain) {
    Fixture f({{0x100000, 0x4000, usable}});
    PhysAddr a, b;
    ASSERT_TRUE(f.fa->allocate(a));
    ASSERT_TRUE(f.fa->allocate(b));
    EXPECT_FALSE(f.fa->is_free(a));
    EXPECT_TRUE(f.fa->free(a));
    EXPECT_TRUE(f.fa->is_free(a));
    EXPECT_EQ(f.fa->free_frames(), 3u);
}

TEST(FrameAllocator, DoubleFreeDetected) {
    Fixture f({{0x100000, 0x4000, usable}});
    PhysAddr a;
    ASSERT_TRUE(f.fa->allocate(a));
    ASSERT_TRUE(f.fa->free(a));
    EXPECT_FALSE(f.fa->free(a));
    EXPECT_EQ(f.fa->free_frames(), 4u);
}

TEST(FrameAllocator, FreeOutsideMapOrUnalignedDetected) {
    Fixture f({{0x100000, 0x4000, usable}, {0x200000, 0x1000, usable}});
    uint64_t before = f.fa->free_frames();
    EXPECT_FALSE(f.fa->free(PhysAddr(0x150000)));      // hole between ranges, inside the bitmap
    EXPECT_FALSE(f.fa->free(PhysAddr(0x1000)));        // below
    EXPECT_FALSE(f.fa->free(PhysAddr(0x80000000)));    // above
    PhysAddr a;
    ASSERT_TRUE(f.fa->allocate(a));
    EXPECT_FALSE(f.fa->free(a + 8));                    // unaligned
    EXPECT_EQ(f.fa->free_frames(), before - 1);
}

TEST(FrameAllocator, ContiguousAligned2MiB) {
    Fixture f({{0x101000, 0x600000, usable}});
    PhysAddr p;
    ASSERT_TRUE(f.fa->allocate_contiguous(512, hv::large_page_size, p));
    EXPECT_EQ(p.raw() % hv::large_page_size, 0u);
    EXPECT_EQ(p.raw(), 0x200000u);
    ASSERT_TRUE(f.fa->allocate_contiguous(512, hv::large_page_size, p));
    EXPECT_EQ(p.raw(), 0x400000u);
    EXPECT_FALSE(f.fa->allocate_contiguous(512, hv::large_page_size, p));   // [0x600000, 0x701000) too short
    EXPECT_EQ(f.fa->free_frames(), 0x600u - 1024u);
}

TEST(FrameAllocator, ContiguousSkipsBusyFrames) {
    Fixture f({{0x0, 0x10000, usable}});
    ASSERT_TRUE(f.fa->claim(PhysAddr(0x0), 1));
    ASSERT_TRUE(f.fa->claim(PhysAddr(0x2000), 1));
    PhysAddr p;
    ASSERT_TRUE(f.fa->allocate_contiguous(3, 0x1000, p));
    EXPECT_EQ(p.raw(), 0x3000u);
    ASSERT_TRUE(f.fa->allocate_contiguous(2, 0x4000, p));
    EXPECT_EQ(p.raw(), 0x8000u);
    ASSERT_TRUE(f.fa->allocate_contiguous(2, 0x1000, p));
    EXPECT_EQ(p.raw(), 0x6000u);
}

TEST(FrameAllocator, ContiguousDoesNotSpanHoles) {
    Fixture f({{0x0, 0x2000, usable}, {0x3000, 0x2000, usable}});
    PhysAddr p;
    EXPECT_FALSE(f.fa->allocate_contiguous(3, 0x1000, p));
    EXPECT_TRUE(f.fa->allocate_contiguous(2, 0x1000, p));
    EXPECT_FALSE(f.fa->allocate_contiguous(0, 0x1000, p));
    EXPECT_FALSE(f.fa->allocate_contiguous(1, 0x1800, p));   // alignment not a power of two
    EXPECT_FALSE(f.fa->allocate_contiguous(1, 0x800, p));    // below a page
}

TEST(FrameAllocator, FreeContiguousAllOrNothing) {
    Fixture f({{0x0, 0x10000, usable}});
    PhysAddr p;
    ASSERT_TRUE(f.fa->allocate_contiguous(4, 0x1000, p));
    ASSERT_TRUE(f.fa->free(p + 0x2000));
    uint64_t before = f.fa->free_frames();
    EXPECT_FALSE(f.fa->free_contiguous(p, 4));   // one of them is already free
    EXPECT_EQ(f.fa->free_frames(), before);
    EXPECT_FALSE(f.fa->is_free(p));
    EXPECT_TRUE(f.fa->free_contiguous(p, 2));
    EXPECT_TRUE(f.fa->free(p + 0x3000));
    EXPECT_EQ(f.fa->free_frames(), 16u);
}

TEST(FrameAllocator, ClaimRejectsBusyOrOutside) {
    Fixture f({{0x0, 0x4000, usable}});
    EXPECT_TRUE(f.fa->claim(PhysAddr(0x1000), 2));
    EXPECT_FALSE(f.fa->claim(PhysAddr(0x2000), 2));   // 0x2000 busy
    EXPECT_FALSE(f.fa->claim(PhysAddr(0x3000), 2));   // runs past the map
    EXPECT_FALSE(f.fa->claim(PhysAddr(0x3001), 1));
    EXPECT_EQ(f.fa->free_frames(), 2u);
}

TEST(FrameAllocator, ManyFramesAcrossWordsAndHintWraps) {
    Fixture f({{0x100000, 0x1000 * 1000, usable}});
    std::vector<PhysAddr> got(1000);
    for (auto& p : got) {
        ASSERT_TRUE(f.fa->allocate(p));
    }
    PhysAddr extra;
    EXPECT_FALSE(f.fa->allocate(extra));
    ASSERT_TRUE(f.fa->free(got[3]));   // behind the hint: the search must wrap to find it
    ASSERT_TRUE(f.fa->allocate(extra));
    EXPECT_EQ(extra, got[3]);
}

TEST(FrameAllocator, RandomOperationsMatchModel) {
    Fixture f({{0x3000, 0x20000, usable}, {0x40000, 0x8000, usable}, {0x9000, 0x1000, MemoryType::reserved}});
    std::set<uint64_t> allocated;
    uint32_t seed = 99;
    auto rnd = [&] { return seed = seed * 1664525u + 1013904223u, seed >> 8; };
    for (int i = 0; i < 4000; ++i) {
        PhysAddr p;
        switch (rnd() % 4) {
        case 0:
            if (f.fa->allocate(p)) {
                ASSERT_TRUE(f.map->contains(p, 0x1000));
                ASSERT_TRUE(allocated.insert(p.raw()).second) << "handed out twice";
            }
            break;
        case 1: {
            uint64_t n = 1 + rnd() % 5, align = 0x1000ull << (rnd() % 4);
            if (f.fa->allocate_contiguous(n, align, p)) {
                ASSERT_EQ(p.raw() % align, 0u);
                for (uint64_t k = 0; k < n; ++k) {
                    ASSERT_TRUE(f.map->contains(p + k * 0x1000, 0x1000));
                    ASSERT_TRUE(allocated.insert(p.raw() + k * 0x1000).second);
                }
            }
            break;
        }
        default: {
            uint64_t frame = (rnd() % 0x50) * 0x1000;
            bool expect = allocated.count(frame) != 0;
            ASSERT_EQ(f.fa->free(PhysAddr(frame)), expect) << std::hex << frame;
            allocated.erase(frame);
            break;
        }
        }
        ASSERT_EQ(f.fa->free_frames() + allocated.size(), f.fa->total_frames());
    }
}
