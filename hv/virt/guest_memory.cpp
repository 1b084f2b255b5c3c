#include "hv/virt/guest_memory.hpp"

#include "hv/virt/children.hpp"
#include "hv/virt/nested_map.hpp"

namespace hv::virt {
namespace {

template <class Format> bool translate(const Partition& p, GuestPhysAddr gpa, bool write, PhysAddr& out) {
    PoolTableMem mem;
    NestedMap<Format> map(mem);
    map.adopt(p.hw.nested_root);
    Translation t = map.translate(gpa);
    if (!t.mapped || (write && !t.perms.write) || !t.perms.read)
        return false;
    out = t.phys;
    return true;
}

template <bool Write> bool copy(const Partition& p, GuestPhysAddr gpa, uint8_t* hv, size_t n) {
    uint64_t end;
    if (__builtin_add_overflow(gpa.raw(), n, &end))
        return false;
    // Check every page first, so a refused copy has no partial effect.
    for (uint64_t a = gpa.page_base().raw(); a < end; a += page_size) {
        PhysAddr h;
        if (!gpa_to_hpa(p, GuestPhysAddr(a), Write, h))
            return false;
    }
    for (size_t done = 0; done < n;) {
        GuestPhysAddr at = gpa + done;
        size_t chunk = page_size - at.page_offset();
        if (chunk > n - done)
            chunk = n - done;
        PhysAddr h;
        if (!gpa_to_hpa(p, at, Write, h))
            return false;
        auto* g = static_cast<uint8_t*>(phys_to_virt(h));
        if constexpr (Write)
            __builtin_memcpy(g, hv + done, chunk);
        else
            __builtin_memcpy(hv + done, g, chunk);
        done += chunk;
    }
    return true;
}

} // namespace

bool gpa_to_hpa(const Partition& p, GuestPhysAddr gpa, bool write, PhysAddr& out) {
    if (!(p.nested_is_ept ? translate<EptFormat>(p, gpa, write, out) : translate<NptFormat>(p, gpa, write, out)))
        return false;
    // The root's map also passes device memory through; the hypervisor never reads or writes
    // there on its behalf (a hypercall page aimed at a device register must not poke it). A
    // child's map holds nothing but RAM the root lent it.
    return p.kind != PartitionKind::root || children::root_ram(out.frame());
}

bool read_guest(const Partition& p, GuestPhysAddr gpa, void* dst, size_t n) {
    return copy<false>(p, gpa, static_cast<uint8_t*>(dst), n);
}

bool write_guest(const Partition& p, GuestPhysAddr gpa, const void* src, size_t n) {
    return copy<true>(p, gpa, static_cast<uint8_t*>(const_cast<void*>(src)), n);
}

bool atomic_or_guest64(const Partition& p, GuestPhysAddr gpa, uint64_t bits, uint64_t& old) {
    PhysAddr h;
    if ((gpa.raw() & 7) || !gpa_to_hpa(p, gpa, true, h))
        return false;
    old = __atomic_fetch_or(static_cast<uint64_t*>(phys_to_virt(h)), bits, __ATOMIC_SEQ_CST);
    return true;
}

} // namespace hv::virt
