#include "hv/virt/uart.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

using hv::virt::Uart16550;

namespace {
std::string feed(Uart16550& u, const std::string& s, std::vector<std::string>& lines) {
    char line[Uart16550::line_max + 1];
    for (char c : s)
        if (u.write(0x3f8, static_cast<uint8_t>(c), line))
            lines.emplace_back(line);
    return lines.empty() ? "" : lines.back();
}
} // namespace

TEST(Uart, CollectsLinesAndDropsCarriageReturns) {
    Uart16550 u;
    std::vector<std::string> lines;
    feed(u, "hello\r\nworld\n", lines);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "hello");
    EXPECT_EQ(lines[1], "world");
}

TEST(Uart, LongLinesAreSplitNotOverrun) {
    Uart16550 u;
    std::vector<std::string> lines;
    feed(u, std::string(450, 'x'), lines);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].size(), Uart16550::line_max);
    char rest[Uart16550::line_max + 1];
    ASSERT_TRUE(u.flush(rest));
    EXPECT_EQ(std::string(rest).size(), 50u);
    EXPECT_FALSE(u.flush(rest));
}

TEST(Uart, ControlCharactersAreNeutralized) {
    Uart16550 u;
    std::vector<std::string> lines;
    feed(u, std::string("a\x1b[2Jb\tc\x7f\n"), lines);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "a.[2Jb\tc.");
}

TEST(Uart, RegistersBehaveForPolledOutput) {
    Uart16550 u;
    char line[Uart16550::line_max + 1];
    EXPECT_EQ(u.read(0x3fd) & 0x60, 0x60) << "THR empty so a polling driver never spins";
    u.write(0x3ff, 0x5a, line);
    EXPECT_EQ(u.read(0x3ff), 0x5a);
    u.write(0x3fb, 0x80, line);   // DLAB on
    u.write(0x3f8, 0x01, line);   // divisor low, not data
    u.write(0x3f9, 0x00, line);
    EXPECT_EQ(u.read(0x3f8), 0x01);
    u.write(0x3fb, 0x03, line);
    EXPECT_FALSE(u.flush(line)) << "divisor writes are not output";
    EXPECT_TRUE(Uart16550::claims(0x3f8));
    EXPECT_TRUE(Uart16550::claims(0x3ff));
    EXPECT_FALSE(Uart16550::claims(0x400));
    EXPECT_FALSE(Uart16550::claims(0x2f8));
}
