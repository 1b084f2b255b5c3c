// A sparse fake of physical memory for the accessor-based parsers (PVH, ACPI): byte regions at
// chosen physical addresses; map() succeeds only for a range wholly inside one region, as a
// real direct map would refuse a range that runs into a hole.
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace hvtest {

class FakePhysMem {
public:
    // Places `bytes` at `phys`, zero-padded to the end of its last page (memory is readable
    // in whole pages, as through a real direct map). A region at the same base is replaced.
    void put(uint64_t phys, std::vector<uint8_t> bytes) {
        uint64_t end = phys + bytes.size();
        bytes.resize(((end + 0xFFF) & ~uint64_t{0xFFF}) - phys, 0);
        for (auto& r : regions_) {
            if (r.base == phys) {
                r.bytes = std::move(bytes);
                return;
            }
        }
        regions_.push_back({phys, std::move(bytes)});
    }
    // Writes into an existing region (to corrupt something after building it).
    uint8_t* at(uint64_t phys) {
        for (auto& r : regions_) {
            if (phys >= r.base && phys < r.base + r.bytes.size()) {
                return r.bytes.data() + (phys - r.base);
            }
        }
        return nullptr;
    }

    const uint8_t* map(uint64_t phys, uint64_t len) const {
        ++maps;
        for (const auto& r : regions_) {
            if (phys >= r.base && phys - r.base <= r.bytes.size() && len <= r.bytes.size() - (phys - r.base)) {
                return r.bytes.data() + (phys - r.base);
            }
        }
        return nullptr;
    }

    mutable size_t maps = 0;

private:
    struct Region {
        uint64_t base;
        std::vector<uint8_t> bytes;
    };
    std::vector<Region> regions_;
};

inline void put32(std::vector<uint8_t>& v, size_t off, uint32_t x) { std::memcpy(&v[off], &x, 4); }
inline void put64(std::vector<uint8_t>& v, size_t off, uint64_t x) { std::memcpy(&v[off], &x, 8); }
inline void put16(std::vector<uint8_t>& v, size_t off, uint16_t x) { std::memcpy(&v[off], &x, 2); }

// Makes the byte sum of v[begin, end) zero by adjusting v[at].
inline void fix_checksum(std::vector<uint8_t>& v, size_t at, size_t begin, size_t end) {
    v[at] = 0;
    uint8_t sum = 0;
    for (size_t i = begin; i < end; ++i) {
        sum = static_cast<uint8_t>(sum + v[i]);
    }
    v[at] = static_cast<uint8_t>(-sum);
}

} // namespace hvtest
