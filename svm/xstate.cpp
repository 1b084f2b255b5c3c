// The privileged half of svm/xstate.hpp: CR4/XCR0 and the save/restore instructions.
#include "svm/xstate.hpp"

#include "hv/arch/x86.hpp"

namespace svm {
namespace {

constexpr uint64_t cr4_osfxsr = 1ull << 9;
constexpr uint64_t cr4_osxsave = 1ull << 18;

void xsetbv(uint64_t v) {
    asm volatile("xsetbv" : : "c"(0), "a"(static_cast<uint32_t>(v)), "d"(static_cast<uint32_t>(v >> 32))
                 : "memory");
}

void save(const XState& x, bool xsave) {
    if (xsave)
        asm volatile("xsave64 (%0)" : : "r"(x.area), "a"(static_cast<uint32_t>(x.xcr0)),
                     "d"(static_cast<uint32_t>(x.xcr0 >> 32)) : "memory");
    else
        asm volatile("fxsave64 (%0)" : : "r"(x.area) : "memory");
}

void restore(const XState& x, bool xsave) {
    if (xsave)
        asm volatile("xrstor64 (%0)" : : "r"(x.area), "a"(static_cast<uint32_t>(x.xcr0)),
                     "d"(static_cast<uint32_t>(x.xcr0 >> 32)) : "memory");
    else
        asm volatile("fxrstor64 (%0)" : : "r"(x.area) : "memory");
}

} // namespace

uint64_t enable_xsave(const Features& f) {
    uint64_t cr4 = hv::x86::read_cr4() | cr4_osfxsr | (f.xsave ? cr4_osxsave : 0);
    hv::x86::write_cr4(cr4);
    if (!f.xsave)
        return 0;
    xsetbv(xcr0::x87 | xcr0::sse);
    return xcr0::x87 | xcr0::sse;
}

void xstate_load(ProcessorState& p, XState& x, const Features& f) {
    if (p.xstate_owner == &x)
        return;
    if (p.xstate_owner)
        save(*p.xstate_owner, f.xsave);   // XCR0 is still the old owner's (invariant)
    if (f.xsave && p.xcr0 != x.xcr0) {
        xsetbv(x.xcr0);
        p.xcr0 = x.xcr0;
    }
    restore(x, f.xsave);
    p.xstate_owner = &x;
}

void xstate_after_exit(ProcessorState& p, XState& x, const Features& f) {
    if (!f.xsave)
        return;
    uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    uint64_t now = (static_cast<uint64_t>(hi) << 32) | lo;
    x.xcr0 = now;
    p.xcr0 = now;
}

void xstate_release(ProcessorState& p, XState& x, const Features& f) {
    if (p.xstate_owner != &x)
        return;
    save(x, f.xsave);
    p.xstate_owner = nullptr;
}

void xstate_set_xcr0(ProcessorState& p, XState& x, uint64_t value) {
    x.xcr0 = value;
    if (p.xstate_owner == &x && p.xcr0 != value) {
        xsetbv(value);
        p.xcr0 = value;
    }
}

} // namespace svm
