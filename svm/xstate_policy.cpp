// The pure half of svm/xstate.hpp, shared with the host tests.
#include "svm/xstate.hpp"

namespace svm {

uint64_t guest_xcr0_allowed(const Features& f) {
    if (!f.xsave)
        return 0;
    constexpr uint64_t fits = xcr0::x87 | xcr0::sse | xcr0::avx | xcr0::bndregs | xcr0::bndcsr |
                              xcr0::avx512 | xcr0::pkru;
    return f.xcr0_supported & fits;
}

bool xcr0_valid(uint32_t xcr_index, uint64_t v, uint64_t allowed) {
    if (xcr_index != 0)                           // XCR1 (XINUSE) is not offered
        return false;
    if ((v & ~allowed) != 0 || (v & xcr0::x87) == 0)
        return false;
    if ((v & xcr0::avx) && !(v & xcr0::sse))
        return false;
    if (((v & xcr0::bndregs) != 0) != ((v & xcr0::bndcsr) != 0))
        return false;
    uint64_t z = v & xcr0::avx512;
    if (z != 0 && (z != xcr0::avx512 || !(v & xcr0::avx)))
        return false;
    return ((v & xcr0::tilecfg) != 0) == ((v & xcr0::tiledata) != 0);
}

void xstate_init(XState& x, void* page, const Features& f) {
    x.area = static_cast<uint8_t*>(page);
    for (int i = 0; i < 4096; ++i)
        x.area[i] = 0;
    // Legacy region (SDM vol 1 table 10-2): FCW at 0 for FXRSTOR, MXCSR at 24 for both; the
    // zero XSTATE_BV header makes XRSTOR put every other component in its INIT state.
    x.area[0] = 0x7f;
    x.area[1] = 0x03;
    x.area[24] = 0x80;
    x.area[25] = 0x1f;
    x.xcr0 = f.xsave ? (xcr0::x87 | xcr0::sse) : 0;
}

} // namespace svm
