#include "hv/lib/format.hpp"
#include "tests/guest/ktap.hpp"

#include <gtest/gtest.h>
#include <string>

TEST(Format, Integers) {
    char b[64];
    hv::format(b, sizeof b, "%d %i %u %x %X %lx", -42, 7, 4000000000u, 0xabcu, 0xabcu, 0x1234567890ul);
    EXPECT_STREQ(b, "-42 7 4000000000 abc ABC 1234567890");
    hv::format(b, sizeof b, "[%5d|%-5d|%05x|%016lx]", 42, 42, 0x2a, 1ul);
    EXPECT_STREQ(b, "[   42|42   |0002a|0000000000000001]");
    hv::format(b, sizeof b, "%ld", static_cast<long>(INT64_MIN));
    EXPECT_STREQ(b, "-9223372036854775808");
}

TEST(Format, StringsCharsPointers) {
    char b[64];
    hv::format(b, sizeof b, "%s|%8s|%-4s|%c|%%", "ab", "right", "l", 'z');
    EXPECT_STREQ(b, "ab|   right|l   |z|%");
    const char* volatile null_string = nullptr;   // volatile: keep the compiler from proving it null
    hv::format(b, sizeof b, "%s", null_string);
    EXPECT_STREQ(b, "(null)");
    hv::format(b, sizeof b, "%p", reinterpret_cast<void*>(0x1000));
    EXPECT_STREQ(b, "0x0000000000001000");
}

TEST(Format, TruncatesAndReportsFullLength) {
    char b[8];
    size_t n = hv::format(b, sizeof b, "%s", "0123456789");
    EXPECT_EQ(n, 10u);
    EXPECT_STREQ(b, "0123456");
    EXPECT_EQ(hv::format(b, 0, "abc"), 3u);
}

namespace {
struct StringSink {
    std::string out;
    void write(const char* s, size_t n) { out.append(s, n); }
};
} // namespace

TEST(Ktap, ReportsVersionPlanResultsAndTotals) {
    StringSink s;
    ktap::Reporter r(s);
    r.begin(3);
    EXPECT_TRUE(r.check(true, "first"));
    EXPECT_FALSE(r.check(false, "second"));
    r.skip("third", "no x2APIC");
    EXPECT_EQ(r.finish(), 1);
    EXPECT_EQ(s.out, "KTAP version 1\n1..3\nok 1 first\nnot ok 2 second\nok 3 third # SKIP no x2APIC\n"
                     "# totals: pass:1 fail:1 skip:1\n");
}

TEST(Ktap, AllPassIsZero) {
    StringSink s;
    ktap::Reporter r(s);
    r.begin(1);
    r.check(true, "only");
    EXPECT_EQ(r.finish(), 0);
}

TEST(Ktap, PlanMismatchFails) {
    StringSink s;
    ktap::Reporter r(s);
    r.begin(2);
    r.check(true, "only one ran");
    EXPECT_EQ(r.finish(), 1);
    EXPECT_NE(s.out.find("plan mismatch"), std::string::npos);
}
