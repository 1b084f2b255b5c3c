#include "hv/cmdline.hpp"

#include <gtest/gtest.h>
#include <string>

using hv::BackendChoice;
using hv::Options;
using hv::parse_cmdline;

TEST(Cmdline, EmptyAndNullKeepDefaults) {
    Options o;
    EXPECT_TRUE(parse_cmdline(nullptr, o).ok);
    EXPECT_TRUE(parse_cmdline("", o).ok);
    EXPECT_TRUE(parse_cmdline("   \t ", o).ok);
    EXPECT_EQ(o.backend, BackendChoice::automatic);
    EXPECT_EQ(o.on_stop, hv::StopAction::halt);
    EXPECT_EQ(o.max_cpus, 0u);
    EXPECT_FALSE(o.bench);
}

TEST(Cmdline, ParsesEveryOption) {
    Options o;
    auto e = parse_cmdline(
        "backend=vmx on_stop=exit cpus=3 min_memory=64 console=none verbose bench suite=hv-selftest", o);
    ASSERT_TRUE(e.ok) << e.message;
    EXPECT_EQ(o.backend, BackendChoice::vmx);
    EXPECT_EQ(o.on_stop, hv::StopAction::emulator_exit);
    EXPECT_EQ(o.max_cpus, 3u);
    EXPECT_EQ(o.min_memory_mib, 64u);
    EXPECT_FALSE(o.console);
    EXPECT_TRUE(o.verbose);
    EXPECT_TRUE(o.bench);
    EXPECT_STREQ(o.suite, "hv-selftest");
}

TEST(Cmdline, SkipsLeadingImagePath) {
    Options o;
    auto e = parse_cmdline("/boot/hv.elf backend=svm", o);
    ASSERT_TRUE(e.ok) << e.message;
    EXPECT_EQ(o.backend, BackendChoice::svm);
}

TEST(Cmdline, PathAfterFirstWordIsAnError) {
    Options o;
    EXPECT_FALSE(parse_cmdline("backend=svm /boot/hv.elf", o).ok);
}

TEST(Cmdline, UnknownOptionIsNamed) {
    Options o;
    auto e = parse_cmdline("cpus=2 frobnicate=1", o);
    EXPECT_FALSE(e.ok);
    EXPECT_STREQ(e.message, "unknown option 'frobnicate=1'");
}

TEST(Cmdline, BadValuesAreNamed) {
    for (const char* bad : {"backend=arm", "backend=", "backend", "on_stop=reboot", "cpus=x", "cpus=",
                            "cpus=99999999999", "min_memory=-1", "console=com9", "verbose=1", "suite=",
                            "suite=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bench=1"}) {
        Options o;
        auto e = parse_cmdline(bad, o);
        EXPECT_FALSE(e.ok) << bad;
        EXPECT_NE(std::string(e.message).find('\''), std::string::npos) << bad;
    }
}

TEST(Cmdline, VeryLongTokenIsTruncatedInTheMessage) {
    std::string s(5000, 'a');
    Options o;
    auto e = parse_cmdline(s.c_str(), o);
    EXPECT_FALSE(e.ok);
    EXPECT_LT(std::string(e.message).size(), sizeof e.message);
}
