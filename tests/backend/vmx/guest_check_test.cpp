// The software re-run of the VM-entry guest-state checks (SDM vol 3 26.3.1).
#include <gtest/gtest.h>

#include <cstring>

#include "vmx/guest_check.hpp"
#include "vmx/vmcs.hpp"

namespace {

using hv::virt::Seg;
using vmx::GuestStateSnapshot;

constexpr unsigned idx(Seg s) { return static_cast<unsigned>(s); }

// Skylake-like fixed bits: CR0 PE, NE, PG must be 1; CR4 VMXE must be 1.
GuestStateSnapshot base_state() {
    GuestStateSnapshot s{};
    s.cr0_fixed0 = 0x80000021;
    s.cr0_fixed1 = 0xffffffff;
    s.cr4_fixed0 = 0x2000;
    s.cr4_fixed1 = 0x3727ff;
    s.link_pointer = ~0ull;
    s.rflags = 2;
    s.dr7 = 0x400;
    s.pat = 0x0007040600070406ull;
    s.secondary_controls = vmx::secondary_unrestricted_guest | vmx::secondary_enable_ept;
    return s;
}

GuestStateSnapshot long_mode() {
    GuestStateSnapshot s = base_state();
    s.cr0 = 0x80010033;
    s.cr4 = 0x2620;
    s.efer = 0xd00;
    s.rip = 0xffffffff80001000ull;
    s.entry_controls = vmx::entry_ia32e_mode_guest | vmx::entry_load_efer | vmx::entry_load_pat |
                       vmx::entry_load_debug_controls;
    s.seg[idx(Seg::cs)] = {0x08, 0xffffffff, 0xa09b, 0};
    for (Seg g : {Seg::ss, Seg::ds, Seg::es, Seg::fs, Seg::gs})
        s.seg[idx(g)] = {0x10, 0xffffffff, 0xc093, 0};
    s.seg[idx(Seg::ldtr)] = {0, 0, vmx::ar_unusable, 0};
    s.seg[idx(Seg::tr)] = {0, 0x67, 0x8b, 0};
    return s;
}

GuestStateSnapshot real_mode(uint8_t vector) {
    GuestStateSnapshot s = base_state();
    s.cr0 = 0x60000030;   // CD NW ET plus the fixed NE
    s.cr4 = 0x2000;
    s.entry_controls = vmx::entry_load_efer | vmx::entry_load_pat;
    s.seg[idx(Seg::cs)] = {static_cast<uint16_t>(vector << 8), 0xffff, 0x9b, uint64_t(vector) << 12};
    for (Seg g : {Seg::ss, Seg::ds, Seg::es, Seg::fs, Seg::gs})
        s.seg[idx(g)] = {0, 0xffff, 0x93, 0};
    s.seg[idx(Seg::ldtr)] = {0, 0xffff, 0x82, 0};
    s.seg[idx(Seg::tr)] = {0, 0xffff, 0x8b, 0};
    s.gdtr_limit = s.idtr_limit = 0xffff;
    return s;
}

const char* check(const GuestStateSnapshot& s) { return vmx::check_guest_state(s); }

bool names(const GuestStateSnapshot& s, const char* what) {
    const char* r = check(s);
    return r && std::strstr(r, what);
}

TEST(GuestCheck, TheBackendsStartStatesPass) {
    EXPECT_EQ(check(long_mode()), nullptr);
    EXPECT_EQ(check(real_mode(0x10)), nullptr);
    EXPECT_EQ(check(real_mode(0x9f)), nullptr);
}

TEST(GuestCheck, RealModeNeedsUnrestrictedGuest) {
    auto s = real_mode(0x10);
    s.secondary_controls = vmx::secondary_enable_ept;
    EXPECT_TRUE(names(s, "CR0"));
}

TEST(GuestCheck, ControlRegisters) {
    auto s = long_mode();
    s.cr0 &= ~0x20ull;   // NE
    EXPECT_TRUE(names(s, "CR0: bits fixed"));
    s = long_mode();
    s.cr0 &= ~1ull;      // PG without PE
    EXPECT_TRUE(names(s, "PG set without PE"));
    s = long_mode();
    s.cr4 &= ~0x2000ull;
    EXPECT_TRUE(names(s, "CR4"));
    s = long_mode();
    s.cr4 &= ~0x20ull;   // PAE
    EXPECT_TRUE(names(s, "IA-32e mode guest needs"));
    s = long_mode();
    s.efer = 0x900;      // LME without LMA
    EXPECT_TRUE(names(s, "LMA"));
    s = long_mode();
    s.pat = 0x0007040600070402ull;
    EXPECT_TRUE(names(s, "PAT"));
    s = long_mode();
    s.dr7 = 1ull << 32;
    EXPECT_TRUE(names(s, "DR7"));
}

TEST(GuestCheck, Segments) {
    auto s = long_mode();
    s.seg[idx(Seg::cs)].ar = 0xe09b;   // L and D both set
    EXPECT_TRUE(names(s, "L and D/B"));
    s = long_mode();
    s.seg[idx(Seg::cs)].ar &= ~0x80u;  // not present
    EXPECT_TRUE(names(s, "CS: access rights"));
    s = long_mode();
    s.seg[idx(Seg::ss)].ar = 0xc091;   // read-only data
    EXPECT_TRUE(names(s, "SS: type"));
    s = long_mode();
    s.seg[idx(Seg::ds)].ar = 0xc092;   // not accessed
    EXPECT_TRUE(names(s, "DS/ES/FS/GS: type"));
    s = long_mode();
    s.seg[idx(Seg::ds)].limit = 0xfffff; // G=1 with low bits not all ones is fine; G=0 and big limit is not
    s.seg[idx(Seg::ds)].ar = 0x4093;
    s.seg[idx(Seg::ds)].limit = 0x100000;
    EXPECT_TRUE(names(s, "limit"));
    s = long_mode();
    s.seg[idx(Seg::tr)].ar = 0x89;     // available, not busy
    EXPECT_TRUE(names(s, "TR"));
    s = long_mode();
    s.seg[idx(Seg::tr)].ar = vmx::ar_unusable;
    EXPECT_TRUE(names(s, "TR"));
    s = long_mode();
    s.seg[idx(Seg::fs)].base = 0x0000800000000000ull;
    EXPECT_TRUE(names(s, "canonical"));
    s = real_mode(0x10);
    s.seg[idx(Seg::ss)].ar = 0xf3;     // DPL 3 in real mode
    EXPECT_TRUE(names(s, "DPL"));   // CS.DPL != SS.DPL is found first
    s = long_mode();
    s.seg[idx(Seg::ldtr)] = {4, 0xffff, 0x82, 0};
    EXPECT_TRUE(names(s, "LDTR"));
    s = long_mode();
    s.gdtr_limit = 0x10000;
    EXPECT_TRUE(names(s, "GDTR/IDTR"));
}

TEST(GuestCheck, RipRflagsAndNonRegisterState) {
    auto s = long_mode();
    s.rflags = 0;
    EXPECT_TRUE(names(s, "RFLAGS: reserved"));
    s = long_mode();
    s.rflags = 2 | (1u << 15);
    EXPECT_TRUE(names(s, "RFLAGS: reserved"));
    s = long_mode();
    s.rip = 0x0000800000000000ull;
    EXPECT_TRUE(names(s, "RIP"));
    s = real_mode(0x10);
    s.rip = 1ull << 32;
    EXPECT_TRUE(names(s, "RIP"));
    s = long_mode();
    s.entry_intr_info = vmx::make_intr_info(0x40, vmx::EventType::external_interrupt, false);
    EXPECT_TRUE(names(s, "RFLAGS.IF"));
    s.rflags |= 0x200;
    s.interruptibility = vmx::blocking_by_sti;
    EXPECT_TRUE(names(s, "STI/MOV SS blocking while injecting"));
    s = long_mode();
    s.interruptibility = vmx::blocking_by_sti;
    EXPECT_TRUE(names(s, "RFLAGS.IF clear"));
    s = long_mode();
    s.activity = 4;
    EXPECT_TRUE(names(s, "activity"));
    s = long_mode();
    s.link_pointer = 0;
    EXPECT_TRUE(names(s, "link pointer"));
    s = long_mode();
    s.pending_debug = 1u << 4;
    EXPECT_TRUE(names(s, "pending debug"));
}

} // namespace
