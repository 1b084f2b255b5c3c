// Strong types for the address spaces the hypervisor juggles. A physical address never turns
// itself into a pointer: only hv::phys_to_virt() (hv/memory/direct_map.hpp) does that.
#pragma once
#include <stdint.h>

namespace hv {

inline constexpr uint64_t page_size = 4096;
inline constexpr uint64_t page_shift = 12;
inline constexpr uint64_t large_page_size = 2ull << 20;
inline constexpr uint64_t huge_page_size = 1ull << 30;

constexpr uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

template <class Tag> class Address {
public:
    constexpr Address() = default;
    constexpr explicit Address(uint64_t v) : value_(v) {}
    [[nodiscard]] constexpr uint64_t raw() const { return value_; }
    [[nodiscard]] constexpr Address page_base() const { return Address(align_down(value_, page_size)); }
    [[nodiscard]] constexpr uint64_t page_offset() const { return value_ & (page_size - 1); }
    [[nodiscard]] constexpr uint64_t frame() const { return value_ >> page_shift; }
    [[nodiscard]] constexpr bool is_page_aligned() const { return page_offset() == 0; }
    constexpr Address operator+(uint64_t off) const { return Address(value_ + off); }
    constexpr Address operator-(uint64_t off) const { return Address(value_ - off); }
    constexpr uint64_t operator-(Address o) const { return value_ - o.value_; }
    // Spelled out rather than `<=>`: the freestanding build has no <compare> (-nostdinc++).
    constexpr bool operator==(const Address&) const = default;
    constexpr bool operator<(Address o) const { return value_ < o.value_; }
    constexpr bool operator<=(Address o) const { return value_ <= o.value_; }
    constexpr bool operator>(Address o) const { return value_ > o.value_; }
    constexpr bool operator>=(Address o) const { return value_ >= o.value_; }

private:
    uint64_t value_ = 0;
};

using PhysAddr = Address<struct PhysTag>;       // host physical
using GuestPhysAddr = Address<struct GpaTag>;   // a partition's guest physical
using GuestVirtAddr = Address<struct GvaTag>;   // a guest's linear address
using VirtAddr = Address<struct HvVirtTag>;     // the hypervisor's own virtual address

} // namespace hv
