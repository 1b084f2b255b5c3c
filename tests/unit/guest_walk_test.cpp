#include "hv/virt/guest_walk.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <map>

using hv::virt::GuestPaging;
using hv::virt::translate_linear;
using hv::virt::WalkResult;

namespace {

// A sparse guest memory of 8-byte entries.
struct Mem {
    std::map<uint64_t, uint64_t> q;
    uint64_t limit = 1ull << 32;
    static bool read(void* ctx, uint64_t gpa, unsigned bytes, uint64_t& out) {
        auto* m = static_cast<Mem*>(ctx);
        if (gpa >= m->limit || (bytes != 4 && bytes != 8))
            return false;
        auto it = m->q.find(gpa);
        out = it == m->q.end() ? 0 : it->second;
        if (bytes == 4)
            out &= 0xffffffffu;
        return true;
    }
};

constexpr uint64_t pg = 1ull << 31, pae = 1 << 5, pse = 1 << 4, lma = 1 << 10;

} // namespace

TEST(GuestWalk, PagingOffIsIdentity) {
    Mem m;
    uint64_t gpa = 0;
    ASSERT_EQ(translate_linear({0x11, 0, 0, 0}, 0x12345678, Mem::read, &m, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0x12345678u);
    ASSERT_EQ(translate_linear({0x11, 0, 0, 0}, 0x1'0000'1000ull, Mem::read, &m, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0x1000u) << "32-bit linear addresses wrap";
}

TEST(GuestWalk, FourLevelWith4KAnd2MAnd1G) {
    Mem m;
    m.q[0x1000 + 0 * 8] = 0x2000 | 1;          // PML4[0]
    m.q[0x2000 + 0 * 8] = 0x3000 | 1;          // PDPT[0]
    m.q[0x3000 + 1 * 8] = 0x4000 | 1;          // PD[1] -> PT
    m.q[0x4000 + 2 * 8] = 0xabc000 | 1;        // PT[2]
    m.q[0x3000 + 2 * 8] = 0x40000000ull | 0x81; // PD[2]: 2 MiB page at 1 GiB
    m.q[0x2000 + 1 * 8] = 0x80000000ull | 0x81; // PDPT[1]: 1 GiB page at 2 GiB
    GuestPaging p{pg | 1, 0x1000, pae, lma};
    uint64_t gpa;
    ASSERT_EQ(translate_linear(p, 0x202123, Mem::read, &m, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0xabc123u);
    ASSERT_EQ(translate_linear(p, 0x412345, Mem::read, &m, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0x40012345u);
    ASSERT_EQ(translate_linear(p, 0x40001234, Mem::read, &m, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0x80001234u);
    EXPECT_EQ(translate_linear(p, 0x600000, Mem::read, &m, gpa), WalkResult::not_present);
}

TEST(GuestWalk, PaeAnd32Bit) {
    Mem m;
    m.q[0x1000 + 8] = 0x5000 | 1;              // PDPTE[1]
    m.q[0x5000 + 0] = 0x6000 | 1;              // PD[0]
    m.q[0x6000 + 3 * 8] = 0x777000 | 1;        // PT[3]
    uint64_t gpa;
    ASSERT_EQ(translate_linear({pg | 1, 0x1000, pae, 0}, 0x40003456, Mem::read, &m, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0x777456u);
    Mem n;
    n.q[0x2000 + 1 * 4] = 0x00800083;          // PDE[1]: 4 MiB page at 8 MiB (PS)
    n.q[0x2000 + 2 * 4] = 0x3000 | 1;          // PDE[2] -> PT
    n.q[0x3000 + 5 * 4] = 0x9000 | 1;          // PTE[5]
    GuestPaging p32{pg | 1, 0x2000, pse, 0};
    ASSERT_EQ(translate_linear(p32, 0x00412345, Mem::read, &n, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0x812345u);
    ASSERT_EQ(translate_linear(p32, 0x00805abc, Mem::read, &n, gpa), WalkResult::ok);
    EXPECT_EQ(gpa, 0x9abcu);
}

TEST(GuestWalk, HostileTablesFailCleanly) {
    Mem m;
    m.limit = 0x10000;
    m.q[0x1000] = 0xfff0000000000000ull | 0x7ffff000 | 1;   // points outside guest memory
    uint64_t gpa;
    EXPECT_EQ(translate_linear({pg | 1, 0x1000, pae, lma}, 0x0, Mem::read, &m, gpa), WalkResult::unreadable_table);
    EXPECT_EQ(translate_linear({pg | 1, 0x7fff'ffff'f000ull, pae, lma}, 0x0, Mem::read, &m, gpa),
              WalkResult::unreadable_table);
}
