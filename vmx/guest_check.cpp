#include "vmx/guest_check.hpp"

#include "vmx/caps.hpp"
#include "vmx/vmcs.hpp"

namespace vmx {

namespace {

using hv::virt::Seg;

constexpr uint64_t cr0_pe = 1, cr0_pg = 1ull << 31, cr4_pae = 1u << 5, cr4_pcide = 1u << 17;
constexpr uint64_t efer_lme = 1u << 8, efer_lma = 1u << 10;
constexpr uint64_t rflags_if = 1u << 9, rflags_vm = 1u << 17;

bool canonical(uint64_t a) {
    uint64_t top = a >> 47;
    return top == 0 || top == (1ull << 17) - 1;
}

const GuestSegmentState& seg(const GuestStateSnapshot& s, Seg which) { return s.seg[static_cast<unsigned>(which)]; }
bool usable(const GuestSegmentState& g) { return (g.ar & ar_unusable) == 0; }
uint32_t type(const GuestSegmentState& g) { return g.ar & 15; }
uint32_t dpl(const GuestSegmentState& g) { return (g.ar >> 5) & 3; }
bool s_bit(const GuestSegmentState& g) { return (g.ar & (1u << 4)) != 0; }
bool present(const GuestSegmentState& g) { return (g.ar & (1u << 7)) != 0; }
bool granular(const GuestSegmentState& g) { return (g.ar & (1u << 15)) != 0; }

// 26.3.1.2: limit bits 11:0 not all ones forbid G=1; any of bits 31:20 set needs G=1.
bool limit_fits_granularity(const GuestSegmentState& g) {
    if ((g.limit & 0xfff) != 0xfff && granular(g))
        return false;
    return (g.limit & 0xfff00000u) == 0 || granular(g);
}
bool ar_reserved_clear(const GuestSegmentState& g) { return (g.ar & 0xf00u) == 0 && (g.ar & 0xfffe0000u) == 0; }

const char* check_control_registers(const GuestStateSnapshot& s, bool unrestricted, bool ia32e) {
    uint64_t fixed0 = unrestricted ? s.cr0_fixed0 & ~(cr0_pe | cr0_pg) : s.cr0_fixed0;
    if (!fits_fixed(s.cr0, fixed0, s.cr0_fixed1))
        return "CR0: bits fixed by IA32_VMX_CR0_FIXED0/1 (SDM 26.3.1.1)";
    if ((s.cr0 & cr0_pg) && !(s.cr0 & cr0_pe))
        return "CR0: PG set without PE (SDM 26.3.1.1)";
    if (!fits_fixed(s.cr4, s.cr4_fixed0, s.cr4_fixed1))
        return "CR4: bits fixed by IA32_VMX_CR4_FIXED0/1 (SDM 26.3.1.1)";
    if (ia32e && (!(s.cr0 & cr0_pg) || !(s.cr4 & cr4_pae)))
        return "IA-32e mode guest needs CR0.PG and CR4.PAE (SDM 26.3.1.1)";
    if (!ia32e && (s.cr4 & cr4_pcide))
        return "CR4.PCIDE set outside IA-32e mode (SDM 26.3.1.1)";
    if (s.cr3 >> 52)
        return "CR3: bits beyond the physical-address width (SDM 26.3.1.1)";
    if ((s.entry_controls & entry_load_debug_controls) && (s.dr7 >> 32))
        return "DR7: bits 63:32 must be 0 (SDM 26.3.1.1)";
    if (s.entry_controls & entry_load_pat) {
        for (int i = 0; i < 8; ++i) {
            uint64_t t = (s.pat >> (8 * i)) & 0xff;
            if (t == 2 || t == 3 || t > 7)
                return "IA32_PAT: an entry holds an invalid memory type (SDM 26.3.1.1)";
        }
    }
    if (s.entry_controls & entry_load_efer) {
        if (s.efer & ~0xd01ull)
            return "IA32_EFER: reserved bits set (SDM 26.3.1.1)";
        if (((s.efer & efer_lma) != 0) != ia32e)
            return "IA32_EFER.LMA differs from the IA-32e mode guest control (SDM 26.3.1.1)";
        if ((s.cr0 & cr0_pg) && ((s.efer & efer_lma) != 0) != ((s.efer & efer_lme) != 0))
            return "IA32_EFER.LMA differs from LME while CR0.PG is set (SDM 26.3.1.1)";
    }
    return nullptr;
}

const char* check_data_segment(const GuestSegmentState& g, const char* name_type, const char* name_s,
                               const char* name_limit) {
    if (!usable(g))
        return nullptr;
    if (!(type(g) & 1) || ((type(g) & 8) && !(type(g) & 2)))
        return name_type;
    if (!s_bit(g) || !present(g) || !ar_reserved_clear(g))
        return name_s;
    return limit_fits_granularity(g) ? nullptr : name_limit;
}

const char* check_segments(const GuestStateSnapshot& s, bool unrestricted, bool ia32e) {
    const auto& cs = seg(s, Seg::cs);
    const auto& ss = seg(s, Seg::ss);
    const auto& tr = seg(s, Seg::tr);
    const auto& ldtr = seg(s, Seg::ldtr);
    if (tr.selector & 4)
        return "TR: selector TI flag must be 0 (SDM 26.3.1.2)";
    if (usable(ldtr) && (ldtr.selector & 4))
        return "LDTR: selector TI flag must be 0 (SDM 26.3.1.2)";
    if (!canonical(tr.base) || !canonical(seg(s, Seg::fs).base) || !canonical(seg(s, Seg::gs).base) ||
        (usable(ldtr) && !canonical(ldtr.base)))
        return "TR/FS/GS/LDTR base not canonical (SDM 26.3.1.2)";
    if (cs.base >> 32)
        return "CS: base bits 63:32 must be 0 (SDM 26.3.1.2)";
    constexpr Seg flat[] = {Seg::ss, Seg::ds, Seg::es};   // no <initializer_list> here
    for (Seg g : flat)
        if (usable(seg(s, g)) && (seg(s, g).base >> 32))
            return "SS/DS/ES: base bits 63:32 must be 0 (SDM 26.3.1.2)";
    uint32_t ct = type(cs);
    if (!(ct == 9 || ct == 11 || ct == 13 || ct == 15 || (unrestricted && ct == 3)))
        return "CS: type must be accessed code (or accessed data with unrestricted guest) (SDM 26.3.1.2)";
    if (!s_bit(cs) || !present(cs) || !ar_reserved_clear(cs))
        return "CS: access rights S/P/reserved bits (SDM 26.3.1.2)";
    if (ct == 3 && dpl(cs) != 0)
        return "CS: DPL must be 0 for a data-type CS (SDM 26.3.1.2)";
    if ((ct == 9 || ct == 11) && dpl(cs) != dpl(ss))
        return "CS: DPL of non-conforming code must equal SS.DPL (SDM 26.3.1.2)";
    if ((ct == 13 || ct == 15) && dpl(cs) > dpl(ss))
        return "CS: DPL of conforming code must not exceed SS.DPL (SDM 26.3.1.2)";
    if (ia32e && (cs.ar & (1u << 13)) && (cs.ar & (1u << 14)))
        return "CS: L and D/B both set in IA-32e mode (SDM 26.3.1.2)";
    if (!limit_fits_granularity(cs))
        return "CS: limit does not fit the G bit (SDM 26.3.1.2)";
    if (usable(ss) && type(ss) != 3 && type(ss) != 7)
        return "SS: type must be read/write accessed data (SDM 26.3.1.2)";
    if (!unrestricted && (ss.selector & 3) != (cs.selector & 3))
        return "SS: RPL must equal CS.RPL (SDM 26.3.1.2)";
    if ((!(s.cr0 & cr0_pe) || ct == 3) && dpl(ss) != 0)
        return "SS: DPL must be 0 in real mode or with a data-type CS (SDM 26.3.1.2)";
    if (const char* e = check_data_segment(ss, "SS: type", "SS: access rights S/P/reserved bits (SDM 26.3.1.2)",
                                           "SS: limit does not fit the G bit (SDM 26.3.1.2)"))
        return e;
    constexpr Seg data[] = {Seg::ds, Seg::es, Seg::fs, Seg::gs};
    for (Seg g : data) {
        if (const char* e = check_data_segment(
                seg(s, g), "DS/ES/FS/GS: type must be accessed, code must be readable (SDM 26.3.1.2)",
                "DS/ES/FS/GS: access rights S/P/reserved bits (SDM 26.3.1.2)",
                "DS/ES/FS/GS: limit does not fit the G bit (SDM 26.3.1.2)"))
            return e;
    }
    if (!usable(tr) || !(type(tr) == 11 || (!ia32e && type(tr) == 3)))
        return "TR: must be a usable busy TSS (type 11, or 3 outside IA-32e mode) (SDM 26.3.1.2)";
    if (s_bit(tr) || !present(tr) || !ar_reserved_clear(tr) || !limit_fits_granularity(tr))
        return "TR: access rights S/P/reserved bits or limit (SDM 26.3.1.2)";
    if (usable(ldtr) && (type(ldtr) != 2 || s_bit(ldtr) || !present(ldtr) || !ar_reserved_clear(ldtr) ||
                         !limit_fits_granularity(ldtr)))
        return "LDTR: a usable LDTR must be a present LDT descriptor (SDM 26.3.1.2)";
    if (!canonical(s.gdtr_base) || !canonical(s.idtr_base))
        return "GDTR/IDTR: base not canonical (SDM 26.3.1.3)";
    if ((s.gdtr_limit | s.idtr_limit) >> 16)
        return "GDTR/IDTR: limit bits 31:16 must be 0 (SDM 26.3.1.3)";
    return nullptr;
}

const char* check_rip_rflags(const GuestStateSnapshot& s, bool ia32e) {
    bool long_cs = ia32e && (seg(s, Seg::cs).ar & (1u << 13));
    if (long_cs ? !canonical(s.rip) : (s.rip >> 32) != 0)
        return "RIP: bits 63:32 outside 64-bit code, or not canonical (SDM 26.3.1.4)";
    if ((s.rflags & ~0x3f7fd7ull) != 0 || !(s.rflags & 2))
        return "RFLAGS: reserved bits (63:22, 15, 5, 3 clear; 1 set) (SDM 26.3.1.4)";
    if ((ia32e || !(s.cr0 & cr0_pe)) && (s.rflags & rflags_vm))
        return "RFLAGS.VM set in IA-32e mode or real mode (SDM 26.3.1.4)";
    bool ext_int = (s.entry_intr_info & intr_info_valid) && ((s.entry_intr_info >> 8) & 7) == 0;
    if (ext_int && !(s.rflags & rflags_if))
        return "RFLAGS.IF clear while injecting an external interrupt (SDM 26.3.1.4)";
    return nullptr;
}

const char* check_non_register(const GuestStateSnapshot& s) {
    if (s.activity > 3)
        return "activity state: not 0-3 (SDM 26.3.1.5)";
    if (s.activity == 1 && dpl(seg(s, Seg::ss)) != 0)
        return "activity state HLT with SS.DPL != 0 (SDM 26.3.1.5)";
    uint32_t ib = s.interruptibility;
    if (ib & ~0x1full)
        return "interruptibility state: reserved bits (SDM 26.3.1.5)";
    if ((ib & blocking_by_sti) && (ib & blocking_by_mov_ss))
        return "interruptibility state: blocking by STI and by MOV SS together (SDM 26.3.1.5)";
    if ((ib & blocking_by_sti) && !(s.rflags & rflags_if))
        return "interruptibility state: blocking by STI with RFLAGS.IF clear (SDM 26.3.1.5)";
    bool valid = (s.entry_intr_info & intr_info_valid) != 0;
    uint32_t t = (s.entry_intr_info >> 8) & 7;
    if (valid && t == 0 && (ib & (blocking_by_sti | blocking_by_mov_ss)))
        return "interruptibility state: STI/MOV SS blocking while injecting an interrupt (SDM 26.3.1.5)";
    if (valid && t == 2 && (ib & (blocking_by_mov_ss | blocking_by_nmi)))
        return "interruptibility state: blocking while injecting an NMI (SDM 26.3.1.5)";
    if (s.pending_debug & ~0x1500full)
        return "pending debug exceptions: reserved bits (SDM 26.3.1.5)";
    if (s.link_pointer != ~0ull)
        return "VMCS link pointer must be all ones without VMCS shadowing (SDM 26.3.1.5)";
    return nullptr;
}

} // namespace

const char* check_guest_state(const GuestStateSnapshot& s) {
    bool unrestricted = (s.secondary_controls & secondary_unrestricted_guest) != 0;
    bool ia32e = (s.entry_controls & entry_ia32e_mode_guest) != 0;
    if (const char* e = check_control_registers(s, unrestricted, ia32e))
        return e;
    if (const char* e = check_segments(s, unrestricted, ia32e))
        return e;
    if (const char* e = check_rip_rflags(s, ia32e))
        return e;
    return check_non_register(s);
}

} // namespace vmx
