#include "hv/memory/direct_map.hpp"

#include "hv/panic.hpp"

namespace hv {
namespace {
uint64_t limit = 4ull << 30;
}

uint64_t direct_map_limit() {
    return limit;
}
void set_direct_map_limit(uint64_t bytes) {
    limit = bytes;
}

PhysAddr virt_to_phys(const void* p) {
    auto v = reinterpret_cast<uint64_t>(p);
    if (v >= image_base)
        return PhysAddr(v - image_base);
    if (v >= direct_map_base && v - direct_map_base < limit)
        return PhysAddr(v - direct_map_base);
    panic("virt_to_phys: %p is neither in the image nor in the direct map", p);
}

} // namespace hv
