// 4-level translation tables in three flavours sharing one walker: x86-64 long-mode paging
// (Intel SDM vol 3 4.5), AMD nested paging (same entry format, APM vol 2 15.25) and Intel EPT
// (SDM vol 3 28.3). The entry encoding is a Format traits class; the memory is a policy so that
// host tests can record every table:
//   bool alloc_table(PhysAddr& out)    a zeroed 4 KiB frame, false when out of memory
//   uint64_t* table(PhysAddr)          the hypervisor's pointer to that frame
//   void free_table(PhysAddr)          optional; called for empty tables a large page replaces
// TLB / EPT invalidation after a change to live tables is the caller's business.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hv/lib/addr.hpp"

namespace hv {

enum class PageSize : uint8_t { size_4k = 1, size_2m = 2, size_1g = 3 };   // value = leaf level

constexpr uint64_t level_span(int level) { return 1ull << (page_shift + 9 * (level - 1)); }
constexpr uint64_t bytes_of(PageSize s) { return level_span(static_cast<int>(s)); }

enum class CacheType : uint8_t { write_back, write_through, uncacheable_minus, uncacheable, write_combining };

struct PagePerms {
    bool read = true;
    bool write = false;
    bool execute = false;
    bool user = false;
    CacheType cache = CacheType::write_back;
    constexpr bool operator==(const PagePerms&) const = default;
};

enum class PtError : uint32_t {
    none,
    misaligned,
    bad_input_address,    // non-canonical VA, or a guest-physical address beyond 48 bits
    bad_output_address,   // beyond 2^52 (SDM vol 3 4.1.4 MAXPHYADDR limit)
    bad_permissions,
    bad_size,
    already_mapped,
    not_mapped,
    out_of_memory,
    no_root,
};

constexpr const char* describe(PtError e) {
    switch (e) {
    case PtError::none: return "page table: ok";
    case PtError::misaligned: return "page table: address or size not aligned to the page size";
    case PtError::bad_input_address: return "page table: input address outside the 48-bit space";
    case PtError::bad_output_address: return "page table: physical address beyond 2^52";
    case PtError::bad_permissions: return "page table: permissions this format cannot express";
    case PtError::bad_size: return "page table: zero or wrapping size";
    case PtError::already_mapped: return "page table: part of the range is already mapped";
    case PtError::not_mapped: return "page table: part of the range is not mapped";
    case PtError::out_of_memory: return "page table: no frame for a table";
    case PtError::no_root: return "page table: no root table";
    }
    return "page table: unknown error";
}

struct Translation {
    bool mapped = false;
    PhysAddr phys;
    PagePerms perms;
    PageSize size = PageSize::size_4k;
};

namespace detail {
inline constexpr uint64_t addr_mask = 0x000F'FFFF'FFFF'F000ull;   // bits 51:12
inline constexpr uint64_t input_limit = 1ull << 48;
}

// Intel SDM vol 3 4.5 tables 4-15..4-20; AMD APM vol 2 5.3.
struct LongModeFormat {
    using Input = VirtAddr;
    static constexpr uint64_t p = 1, rw = 2, us = 4, pwt = 8, pcd = 16, ps = 128, nx = 1ull << 63;
    static constexpr uint64_t pat_4k = 1ull << 7, pat_large = 1ull << 12;

    static constexpr bool valid_input(uint64_t a) {   // canonical for 48-bit linear addresses
        uint64_t top = a >> 47;
        return top == 0 || top == (1ull << 17) - 1;
    }
    static constexpr bool valid_perms(const PagePerms& pp) {
        return pp.read && pp.cache != CacheType::write_combining;   // WC needs a reprogrammed PAT
    }
    static constexpr uint64_t make_table(PhysAddr t) { return t.raw() | p | rw | us; }
    static constexpr uint64_t make_leaf(PhysAddr a, const PagePerms& pp, int level) {
        // Default PAT (SDM vol 3 11.12.4): index PCD*2+PWT selects WB, WT, UC-, UC.
        uint64_t e = a.raw() | p | (pp.write ? rw : 0) | (pp.user ? us : 0) | (pp.execute ? 0 : nx);
        e |= pp.cache == CacheType::write_through ? pwt : 0;
        e |= pp.cache == CacheType::uncacheable_minus ? pcd : 0;
        e |= pp.cache == CacheType::uncacheable ? (pcd | pwt) : 0;
        return level > 1 ? e | ps : e;
    }
    static constexpr bool present(uint64_t e) { return (e & p) != 0; }
    static constexpr bool is_leaf(uint64_t e, int level) { return level == 1 || (e & ps) != 0; }
    static constexpr PhysAddr table_address(uint64_t e) { return PhysAddr(e & detail::addr_mask); }
    static constexpr PhysAddr leaf_address(uint64_t e, int level) {
        return PhysAddr(e & detail::addr_mask & ~(level_span(level) - 1));
    }
    static constexpr PagePerms decode(uint64_t e, int level) {
        constexpr CacheType types[4] = {CacheType::write_back, CacheType::write_through,
                                         CacheType::uncacheable_minus, CacheType::uncacheable};
        uint64_t pat = e & (level > 1 ? pat_large : pat_4k);
        PagePerms pp{true, (e & rw) != 0, (e & nx) == 0, (e & us) != 0, types[(e >> 3) & 3]};
        pp.cache = pat ? CacheType::uncacheable : pp.cache;   // PAT entries 4-7 are not ours
        return pp;
    }
};

// APM vol 2 15.25.5: nested walks are user accesses, so every NPT leaf carries U/S.
struct NptFormat : LongModeFormat {
    using Input = GuestPhysAddr;
    static constexpr bool valid_input(uint64_t a) { return a < detail::input_limit; }
    static constexpr uint64_t make_leaf(PhysAddr a, const PagePerms& pp, int level) {
        return LongModeFormat::make_leaf(a, pp, level) | us;
    }
};

// Intel SDM vol 3 28.3.2 (EPT entry formats) and 28.3.7 (memory type in bits 5:3).
struct EptFormat {
    using Input = GuestPhysAddr;
    static constexpr uint64_t r = 1, w = 2, x = 4, large = 128;
    static constexpr bool valid_input(uint64_t a) { return a < detail::input_limit; }
    static constexpr bool valid_perms(const PagePerms& pp) {
        // 28.3.3.1: write without read is a misconfiguration; no access at all is "not present".
        return !(pp.write && !pp.read) && (pp.read || pp.execute);
    }
    static constexpr uint64_t make_table(PhysAddr t) { return t.raw() | r | w | x; }
    static constexpr uint64_t memory_type(CacheType c) {
        switch (c) {
        case CacheType::write_back: return 6;
        case CacheType::write_through: return 4;
        case CacheType::write_combining: return 1;
        case CacheType::uncacheable_minus:
        case CacheType::uncacheable: return 0;
        }
        return 0;
    }
    static constexpr uint64_t make_leaf(PhysAddr a, const PagePerms& pp, int level) {
        uint64_t e = a.raw() | (pp.read ? r : 0) | (pp.write ? w : 0) | (pp.execute ? x : 0) |
                     (memory_type(pp.cache) << 3);
        return level > 1 ? e | large : e;
    }
    static constexpr bool present(uint64_t e) { return (e & 7) != 0; }
    static constexpr bool is_leaf(uint64_t e, int level) { return level == 1 || (e & large) != 0; }
    static constexpr PhysAddr table_address(uint64_t e) { return PhysAddr(e & detail::addr_mask); }
    static constexpr PhysAddr leaf_address(uint64_t e, int level) {
        return PhysAddr(e & detail::addr_mask & ~(level_span(level) - 1));
    }
    static constexpr PagePerms decode(uint64_t e, int) {
        uint64_t mt = (e >> 3) & 7;
        CacheType c = mt == 6 ? CacheType::write_back
                    : mt == 4 ? CacheType::write_through
                    : mt == 1 ? CacheType::write_combining
                              : CacheType::uncacheable;
        return {(e & r) != 0, (e & w) != 0, (e & x) != 0, false, c};
    }
};

template <class Format, class Mem> class PageTable {
public:
    using Input = typename Format::Input;
    static constexpr size_t entries = 512;

    explicit PageTable(Mem& mem) : mem_(mem) {}

    [[nodiscard]] PtError create() {
        PhysAddr t;
        if (!mem_.alloc_table(t)) {
            return PtError::out_of_memory;
        }
        root_ = t;
        has_root_ = true;
        return PtError::none;
    }
    void adopt(PhysAddr root) {
        root_ = root;
        has_root_ = true;
    }
    [[nodiscard]] PhysAddr root() const { return root_; }

    [[nodiscard]] PtError map(Input in, PhysAddr pa, PageSize size, const PagePerms& perms) {
        uint64_t va = in.raw(), span = bytes_of(size);
        if (PtError e = check_range(va, span, perms); e != PtError::none) {
            return e;
        }
        if (pa.raw() % span != 0 || va % span != 0) {
            return PtError::misaligned;
        }
        if (pa.raw() >= max_output || span > max_output - pa.raw()) {
            return PtError::bad_output_address;
        }
        int leaf_level = static_cast<int>(size);
        uint64_t* t = mem_.table(root_);
        for (int level = 4; level > leaf_level; --level) {
            uint64_t& e = t[index(va, level)];
            if (!Format::present(e)) {
                PhysAddr child;
                if (!mem_.alloc_table(child)) {
                    return PtError::out_of_memory;
                }
                e = Format::make_table(child);
            } else if (Format::is_leaf(e, level)) {
                return PtError::already_mapped;
            }
            t = mem_.table(Format::table_address(e));
        }
        uint64_t& e = t[index(va, leaf_level)];
        if (Format::present(e)) {
            // An empty table left behind by unmap() may give way to a large page.
            if (Format::is_leaf(e, leaf_level) || !table_empty(Format::table_address(e))) {
                return PtError::already_mapped;
            }
            release(Format::table_address(e));
        }
        e = Format::make_leaf(pa, perms, leaf_level);
        return PtError::none;
    }

    // Uses the largest page size up to `largest` that the alignment of both addresses and the
    // remaining length allow. On failure, whatever this call mapped is unmapped again.
    [[nodiscard]] PtError map_range(Input in, PhysAddr pa, uint64_t bytes, const PagePerms& perms,
                                    PageSize largest = PageSize::size_1g) {
        uint64_t va = in.raw();
        if (PtError e = check_range(va, bytes, perms); e != PtError::none) {
            return e;
        }
        for (uint64_t done = 0; done < bytes;) {
            PageSize s = largest;
            while (s != PageSize::size_4k &&
                   ((va + done) % bytes_of(s) != 0 || (pa.raw() + done) % bytes_of(s) != 0 ||
                    bytes - done < bytes_of(s))) {
                s = static_cast<PageSize>(static_cast<int>(s) - 1);
            }
            if (PtError e = map(Input(va + done), pa + done, s, perms); e != PtError::none) {
                if (done != 0) {
                    static_cast<void>(unmap(in, done));   // exact pages just mapped: no split, no alloc
                }
                return e;
            }
            done += bytes_of(s);
        }
        return PtError::none;
    }

    // Removes every mapping in [in, in + bytes), splitting large pages that straddle an end.
    // not_mapped only when nothing at all was mapped there. Emptied tables are kept for reuse.
    [[nodiscard]] PtError unmap(Input in, uint64_t bytes) {
        bool any = false;
        PtError e = modify(in.raw(), bytes, nullptr, any);
        return e == PtError::none && !any ? PtError::not_mapped : e;
    }

    // Changes permissions of [in, in + bytes), all of which must be mapped (checked first).
    [[nodiscard]] PtError protect(Input in, uint64_t bytes, const PagePerms& perms) {
        uint64_t va = in.raw();
        if (PtError e = check_range(va, bytes, perms); e != PtError::none) {
            return e;
        }
        for (uint64_t done = 0; done < bytes;) {
            Translation tr = translate(Input(va + done));
            if (!tr.mapped) {
                return PtError::not_mapped;
            }
            uint64_t span = bytes_of(tr.size);
            uint64_t step = span - ((va + done) & (span - 1));
            done += step < bytes - done ? step : bytes - done;
        }
        bool any = false;
        return modify(va, bytes, &perms, any);
    }

    [[nodiscard]] Translation translate(Input in) const {
        uint64_t va = in.raw();
        if (!has_root_ || !Format::valid_input(va)) {
            return {};
        }
        const uint64_t* t = mem_.table(root_);
        for (int level = 4; level >= 1; --level) {
            uint64_t e = t[index(va, level)];
            if (!Format::present(e)) {
                return {};
            }
            if (Format::is_leaf(e, level)) {
                PhysAddr base = Format::leaf_address(e, level);
                return {true, base + (va & (level_span(level) - 1)), Format::decode(e, level),
                        static_cast<PageSize>(level)};
            }
            t = mem_.table(Format::table_address(e));
        }
        return {};
    }

private:
    static constexpr uint64_t max_output = 1ull << 52;

    static constexpr size_t index(uint64_t va, int level) {
        return static_cast<size_t>((va >> (page_shift + 9 * (level - 1))) & (entries - 1));
    }

    PtError check_range(uint64_t va, uint64_t bytes, const PagePerms& perms) const {
        if (!has_root_) {
            return PtError::no_root;
        }
        if (bytes == 0 || bytes - 1 > ~0ull - va) {
            return PtError::bad_size;
        }
        uint64_t last = va + (bytes - 1);
        // Both ends valid and on the same side of the non-canonical hole (bit 47 equal).
        if (!Format::valid_input(va) || !Format::valid_input(last) || ((va ^ last) >> 47) != 0) {
            return PtError::bad_input_address;
        }
        if (va % page_size != 0 || bytes % page_size != 0) {
            return PtError::misaligned;
        }
        return Format::valid_perms(perms) ? PtError::none : PtError::bad_permissions;
    }

    bool table_empty(PhysAddr t) const {
        const uint64_t* p = mem_.table(t);
        for (size_t i = 0; i < entries; ++i) {
            if (Format::present(p[i])) {
                return false;
            }
        }
        return true;
    }

    void release(PhysAddr t) {
        if constexpr (requires { mem_.free_table(t); }) {
            mem_.free_table(t);
        }
    }

    // Replaces the large leaf `e` at `level` by a table of 512 leaves one level down.
    PtError split(uint64_t& e, int level) {
        PhysAddr child;
        if (!mem_.alloc_table(child)) {
            return PtError::out_of_memory;
        }
        uint64_t* t = mem_.table(child);
        PhysAddr base = Format::leaf_address(e, level);
        PagePerms perms = Format::decode(e, level);
        for (size_t i = 0; i < entries; ++i) {
            t[i] = Format::make_leaf(base + i * level_span(level - 1), perms, level - 1);
        }
        e = Format::make_table(child);
        return PtError::none;
    }

    // Walks [va, va + bytes): clears leaves (perms == nullptr) or rewrites their permissions,
    // splitting any large leaf the range covers only partly.
    PtError modify(uint64_t va, uint64_t bytes, const PagePerms* perms, bool& any) {
        if (PtError e = check_range(va, bytes, perms ? *perms : PagePerms{}); e != PtError::none) {
            return e;
        }
        for (uint64_t done = 0; done < bytes;) {
            uint64_t a = va + done, left = bytes - done;
            uint64_t* t = mem_.table(root_);
            for (int level = 4; level >= 1; --level) {
                uint64_t& e = t[index(a, level)];
                uint64_t span = level_span(level), step = span - (a & (span - 1));
                if (!Format::present(e)) {
                    done += step < left ? step : left;
                    break;
                }
                if (Format::is_leaf(e, level)) {
                    if (step == span && left >= span) {
                        any = true;
                        e = perms ? Format::make_leaf(Format::leaf_address(e, level), *perms, level) : 0;
                        done += span;
                        break;
                    }
                    if (PtError err = split(e, level); err != PtError::none) {
                        return err;
                    }
                }
                t = mem_.table(Format::table_address(e));
            }
        }
        return PtError::none;
    }

    Mem& mem_;
    PhysAddr root_;
    bool has_root_ = false;
};

} // namespace hv
