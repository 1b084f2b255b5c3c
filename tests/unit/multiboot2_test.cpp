// Multiboot2 parsing: a builder assembles real information structures (Multiboot2 spec 3.6),
// then each test breaks one rule and expects the error that names it.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "boot/multiboot2.hpp"
#include "fake_phys_mem.hpp"

using boot::BootInfo;
using boot::Mb2Error;
using hvtest::put32;
using hvtest::put64;

namespace {

class Mb2Builder {
public:
    Mb2Builder() : buf_(8, 0) {}

    Mb2Builder& tag(uint32_t type, const std::vector<uint8_t>& payload) {
        size_t at = buf_.size();
        buf_.resize(at + 8);
        put32(buf_, at, type);
        put32(buf_, at + 4, static_cast<uint32_t>(8 + payload.size()));
        buf_.insert(buf_.end(), payload.begin(), payload.end());
        buf_.resize((buf_.size() + 7) & ~size_t{7}, 0);
        return *this;
    }
    Mb2Builder& str_tag(uint32_t type, const std::string& s) {
        std::vector<uint8_t> p(s.begin(), s.end());
        p.push_back(0);
        return tag(type, p);
    }
    Mb2Builder& module(uint32_t start, uint32_t end, const std::string& s) {
        std::vector<uint8_t> p(8);
        put32(p, 0, start);
        put32(p, 4, end);
        p.insert(p.end(), s.begin(), s.end());
        p.push_back(0);
        return tag(3, p);
    }
    struct Entry {
        uint64_t base, length;
        uint32_t type;
    };
    Mb2Builder& mmap(const std::vector<Entry>& entries, uint32_t entry_size = 24) {
        std::vector<uint8_t> p(8 + entries.size() * entry_size, 0xEE);
        put32(p, 0, entry_size);
        put32(p, 4, 0);
        for (size_t i = 0; i < entries.size(); ++i) {
            size_t o = 8 + i * entry_size;
            put64(p, o, entries[i].base);
            put64(p, o + 8, entries[i].length);
            put32(p, o + 16, entries[i].type);
            put32(p, o + 20, 0);
        }
        return tag(6, p);
    }
    Mb2Builder& default_mmap() { return mmap({{0, 0x9F000, 1}, {0x100000, 0x7F00000, 1}, {0xFEC00000, 0x1000, 2}}); }
    std::vector<uint8_t> finish(bool end_tag = true) {
        if (end_tag) {
            tag(0, {});
        }
        put32(buf_, 0, static_cast<uint32_t>(buf_.size()));
        return buf_;
    }

private:
    std::vector<uint8_t> buf_;
};

std::vector<uint8_t> rsdp_bytes(size_t n, uint8_t fill) {
    std::vector<uint8_t> r(n, fill);
    std::memcpy(r.data(), "RSD PTR ", 8);
    return r;
}

struct Parsed {
    std::unique_ptr<BootInfo> info = std::make_unique<BootInfo>();
    boot::Mb2Result result;
};

Parsed parse(const std::vector<uint8_t>& blob, size_t available = SIZE_MAX) {
    Parsed p;
    // A heap copy of exactly the blob's size so ASan catches any read past it.
    std::vector<uint8_t> copy(blob);
    p.result = boot::parse_multiboot2_at(copy.data(), available == SIZE_MAX ? copy.size() : available, *p.info);
    return p;
}

} // namespace

TEST(Multiboot2, Constants) {
    EXPECT_EQ(boot::mb2_header_magic, 0xE85250D6u);
    EXPECT_EQ(boot::mb2_bootloader_magic, 0x36d76289u);
}

TEST(Multiboot2, ParsesFullStructure) {
    auto blob = Mb2Builder()
                    .str_tag(1, "console=com1 verbose")
                    .str_tag(2, "GRUB 2.06")
                    .module(0x200000, 0x280000, "root.elf arg")
                    .module(0x300000, 0x300000, "")
                    .default_mmap()
                    .tag(42, {1, 2, 3})   // unknown tags are skipped
                    .finish();
    Parsed p = parse(blob);
    ASSERT_EQ(p.result.error, Mb2Error::none) << boot::describe(p.result.error);
    const BootInfo& b = *p.info;
    EXPECT_EQ(b.loader, boot::Loader::multiboot2);
    EXPECT_STREQ(b.str(b.cmdline), "console=com1 verbose");
    EXPECT_STREQ(b.str(b.loader_name), "GRUB 2.06");
    ASSERT_EQ(b.module_count, 2u);
    EXPECT_EQ(b.modules[0].start, 0x200000u);
    EXPECT_EQ(b.modules[0].end, 0x280000u);
    EXPECT_STREQ(b.str(b.modules[0].cmdline), "root.elf arg");
    EXPECT_STREQ(b.str(b.modules[1].cmdline), "");
    ASSERT_EQ(b.memory_count, 3u);
    EXPECT_EQ(b.memory[1].base, 0x100000u);
    EXPECT_EQ(b.memory[1].length, 0x7F00000u);
    EXPECT_EQ(b.memory[1].type, boot::MemoryType::usable);
    EXPECT_EQ(b.memory[2].type, boot::MemoryType::reserved);
    EXPECT_EQ(b.info_size, blob.size());
    EXPECT_EQ(b.rsdp_length, 0u);
}

TEST(Multiboot2, MemoryTypesMapped) {
    auto blob = Mb2Builder().mmap({{0, 1, 1}, {1, 1, 3}, {2, 1, 4}, {3, 1, 5}, {4, 1, 2}, {5, 1, 77}}).finish();
    Parsed p = parse(blob);
    ASSERT_EQ(p.result.error, Mb2Error::none);
    using T = boot::MemoryType;
    T want[] = {T::usable, T::acpi_reclaimable, T::acpi_nvs, T::bad, T::reserved, T::reserved};
    ASSERT_EQ(p.info->memory_count, 6u);
    for (size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(p.info->memory[i].type, want[i]) << i;
    }
}

TEST(Multiboot2, HonoursLargerEntrySize) {
    auto blob = Mb2Builder().mmap({{0x1000, 0x2000, 1}, {0x5000, 0x3000, 1}}, 40).finish();
    Parsed p = parse(blob);
    ASSERT_EQ(p.result.error, Mb2Error::none);
    ASSERT_EQ(p.info->memory_count, 2u);
    EXPECT_EQ(p.info->memory[1].base, 0x5000u);
    EXPECT_EQ(p.info->memory[1].length, 0x3000u);
}

TEST(Multiboot2, RejectsSmallEntrySize) {
    std::vector<uint8_t> payload(8 + 32, 0);
    put32(payload, 0, 16);   // entry_size 16: two truncated entries
    auto blob = Mb2Builder().tag(6, payload).finish();
    EXPECT_EQ(parse(blob).result.error, Mb2Error::bad_memory_map_entry_size);
}

TEST(Multiboot2, RejectsEntrySizeNotMultipleOf8) {
    auto blob = Mb2Builder().mmap({{0x1000, 0x2000, 1}}, 28).finish();
    EXPECT_EQ(parse(blob).result.error, Mb2Error::bad_memory_map_entry_size);
}

TEST(Multiboot2, NewRsdpWinsOverOld) {
    auto v1 = rsdp_bytes(20, 1), v2 = rsdp_bytes(36, 2);
    Parsed a = parse(Mb2Builder().default_mmap().tag(15, v2).tag(14, v1).finish());
    Parsed b = parse(Mb2Builder().default_mmap().tag(14, v1).tag(15, v2).finish());
    for (Parsed* p : {&a, &b}) {
        ASSERT_EQ(p->result.error, Mb2Error::none);
        EXPECT_EQ(p->info->rsdp_length, 36u);
        EXPECT_EQ(p->info->rsdp[35], 2);
    }
}

TEST(Multiboot2, OldRsdpAlone) {
    Parsed p = parse(Mb2Builder().default_mmap().tag(14, rsdp_bytes(20, 7)).finish());
    ASSERT_EQ(p.result.error, Mb2Error::none);
    EXPECT_EQ(p.info->rsdp_length, 20u);
    EXPECT_EQ(std::memcmp(p.info->rsdp, "RSD PTR ", 8), 0);
    EXPECT_EQ(p.info->rsdp[19], 7);
}

TEST(Multiboot2, RejectsShortRsdpTag) {
    EXPECT_EQ(parse(Mb2Builder().default_mmap().tag(15, rsdp_bytes(20, 0)).finish()).result.error,
              Mb2Error::rsdp_tag_too_small);
}

TEST(Multiboot2, RejectsNull) {
    BootInfo b;
    EXPECT_EQ(boot::parse_multiboot2(nullptr, 100, b), Mb2Error::null_info);
}

TEST(Multiboot2, RejectsTotalSizeTooSmall) {
    auto blob = Mb2Builder().default_mmap().finish();
    put32(blob, 0, 8);
    EXPECT_EQ(parse(blob).result.error, Mb2Error::total_size_too_small);
}

TEST(Multiboot2, RejectsTotalSizeBeyondAvailable) {
    auto blob = Mb2Builder().default_mmap().finish();
    EXPECT_EQ(parse(blob, blob.size() - 8).result.error, Mb2Error::total_size_exceeds_available);
    EXPECT_EQ(parse(blob, 4).result.error, Mb2Error::total_size_exceeds_available);
}

TEST(Multiboot2, RejectsMissingEndTag) {
    auto blob = Mb2Builder().default_mmap().finish(false);
    EXPECT_EQ(parse(blob).result.error, Mb2Error::missing_end_tag);
}

TEST(Multiboot2, RejectsBadEndTagSize) {
    auto blob = Mb2Builder().default_mmap().tag(0, {0, 0, 0, 0, 0, 0, 0, 0}).finish(false);
    EXPECT_EQ(parse(blob).result.error, Mb2Error::bad_end_tag);
}

TEST(Multiboot2, RejectsMissingMemoryMap) {
    auto blob = Mb2Builder().str_tag(1, "x").finish();
    EXPECT_EQ(parse(blob).result.error, Mb2Error::missing_memory_map);
}

TEST(Multiboot2, RejectsZeroSizeTag) {
    auto blob = Mb2Builder().default_mmap().str_tag(1, "abc").finish();
    size_t cmd_at = blob.size() - 8 - 16;   // the cmdline tag, before the end tag
    put32(blob, cmd_at + 4, 0);
    Parsed p = parse(blob);
    EXPECT_EQ(p.result.error, Mb2Error::tag_too_small);
    EXPECT_EQ(p.result.offset, cmd_at);
}

TEST(Multiboot2, RejectsTagOverrun) {
    auto blob = Mb2Builder().default_mmap().str_tag(1, "abc").finish();
    size_t cmd_at = blob.size() - 8 - 16;
    put32(blob, cmd_at + 4, 0x1000);
    Parsed p = parse(blob);
    EXPECT_EQ(p.result.error, Mb2Error::tag_overrun);
    EXPECT_EQ(p.result.offset, cmd_at);
}

TEST(Multiboot2, RejectsPaddingPastEnd) {
    // total_size cuts the structure right after an unpadded 12-byte tag.
    auto blob = Mb2Builder().default_mmap().tag(77, {1, 2, 3, 4}).finish(false);
    put32(blob, 0, static_cast<uint32_t>(blob.size() - 4));
    EXPECT_EQ(parse(blob).result.error, Mb2Error::tag_misaligned);
}

TEST(Multiboot2, RejectsUnterminatedString) {
    auto blob = Mb2Builder().default_mmap().tag(1, {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}).finish();
    EXPECT_EQ(parse(blob).result.error, Mb2Error::string_not_terminated);
}

TEST(Multiboot2, RejectsModuleEndBeforeStart) {
    auto blob = Mb2Builder().default_mmap().module(0x3000, 0x2000, "m").finish();
    EXPECT_EQ(parse(blob).result.error, Mb2Error::module_end_before_start);
}

TEST(Multiboot2, RejectsShortModuleTag) {
    auto blob = Mb2Builder().default_mmap().tag(3, {0, 0, 0, 0}).finish();
    EXPECT_EQ(parse(blob).result.error, Mb2Error::tag_too_small);
}

TEST(Multiboot2, RejectsTooManyModules) {
    Mb2Builder b;
    b.default_mmap();
    for (size_t i = 0; i <= boot::max_modules; ++i) {
        b.module(0x1000, 0x2000, "");
    }
    EXPECT_EQ(parse(b.finish()).result.error, Mb2Error::too_many_modules);
}

TEST(Multiboot2, RejectsTooManyRanges) {
    std::vector<Mb2Builder::Entry> many(boot::max_memory_ranges + 1, {0x1000, 0x1000, 1});
    EXPECT_EQ(parse(Mb2Builder().mmap(many).finish()).result.error, Mb2Error::too_many_ranges);
}

TEST(Multiboot2, ExactlyMaxRangesFits) {
    std::vector<Mb2Builder::Entry> many(boot::max_memory_ranges, {0x1000, 0x1000, 1});
    Parsed p = parse(Mb2Builder().mmap(many).finish());
    EXPECT_EQ(p.result.error, Mb2Error::none);
    EXPECT_EQ(p.info->memory_count, boot::max_memory_ranges);
}

TEST(Multiboot2, RejectsStringPoolOverflow) {
    std::string big(3000, 'x');
    auto blob = Mb2Builder().default_mmap().str_tag(1, big).str_tag(2, big).finish();
    EXPECT_EQ(parse(blob).result.error, Mb2Error::string_pool_full);
}

TEST(Multiboot2, ResetsPreviousContents) {
    Parsed p;
    p.info->memory_count = 99;
    p.info->strings_used = 4000;
    auto blob = Mb2Builder().str_tag(1, "abc").default_mmap().finish();
    ASSERT_EQ(boot::parse_multiboot2(blob.data(), blob.size(), *p.info), Mb2Error::none);
    EXPECT_EQ(p.info->memory_count, 3u);
    EXPECT_STREQ(p.info->str(p.info->cmdline), "abc");
}

TEST(Multiboot2, TruncationAtEveryLengthIsSafe) {
    auto blob = Mb2Builder().str_tag(1, "cmd").module(1, 2, "m").default_mmap().tag(15, rsdp_bytes(36, 0)).finish();
    for (size_t n = 0; n < blob.size(); ++n) {
        // The structure claims exactly the bytes that remain, so parsing goes deep before failing.
        std::vector<uint8_t> cut(blob.begin(), blob.begin() + static_cast<long>(n));
        if (n >= 4) {
            put32(cut, 0, static_cast<uint32_t>(n));
        }
        auto b = std::make_unique<BootInfo>();
        Mb2Error e = boot::parse_multiboot2(cut.empty() ? blob.data() : cut.data(), n, *b);
        EXPECT_NE(e, Mb2Error::none) << n;
    }
}

TEST(Multiboot2, DescribeNamesEveryError) {
    for (uint32_t i = 0; i <= static_cast<uint32_t>(Mb2Error::rsdp_tag_too_small); ++i) {
        std::string s = boot::describe(static_cast<Mb2Error>(i));
        EXPECT_EQ(s.rfind("multiboot2: ", 0), 0u);
        EXPECT_EQ(s.find("unknown"), std::string::npos) << i;
    }
}
