#include "svm/checks.hpp"

namespace svm {
namespace {

constexpr uint64_t cr0_pe = 1, cr0_nw = 1ull << 29, cr0_cd = 1ull << 30, cr0_pg = 1ull << 31;
constexpr uint64_t cr4_pae = 1ull << 5;
// CR4 bits AMD defines (APM vol 2 3.1.3); VMXE (13) and SMXE (14) are reserved on AMD.
constexpr uint64_t cr4_defined = 0x1fffull | (1ull << 16) | (1ull << 17) | (1ull << 18) |
                                 (0x1full << 20);
constexpr uint64_t efer_lme = 1ull << 8, efer_lma = 1ull << 10;
// SCE, LME, LMA, NXE, SVME, LMSLE, FFXSR, TCE, MCOMMIT, INTWB, UAIE, AIBRSE (APM 3.1.7).
constexpr uint64_t efer_defined = 1 | efer_lme | efer_lma | (0x3full << 11) | (3ull << 17) | (3ull << 20);
constexpr uint64_t above_phys = ~((1ull << 52) - 1);   // architectural MAXPHYADDR limit
constexpr uint16_t attr_l = 1u << 9, attr_db = 1u << 10;

bool pat_valid(uint64_t pat) {
    for (int i = 0; i < 8; ++i) {
        uint64_t t = (pat >> (8 * i)) & 0xff;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

} // namespace

bool event_injection_valid(uint64_t e) {
    if (!(e & event::valid))
        return true;
    uint8_t type = event::type_of(e);
    uint8_t vector = static_cast<uint8_t>(e & event::vector_mask);
    switch (type) {
    case event::intr:
    case event::nmi:
    case event::soft_int:
        return true;
    case event::exception:
        return vector != 2 && vector < 32;   // NMI is its own type; exceptions are 0-31
    default:
        return false;                        // types 1, 5, 6, 7 are reserved
    }
}

const char* check_vmcb(const Vmcb& v, const Features& f) {
    const VmcbSave& s = v.save;
    const VmcbControl& c = v.control;
    if (!(s.efer & efer_svme))
        return "guest EFER.SVME is clear";
    if (s.efer & ~efer_defined)
        return "guest EFER has a must-be-zero bit set";
    if (!(s.cr0 & cr0_cd) && (s.cr0 & cr0_nw))
        return "guest CR0.NW set with CR0.CD clear";
    if (s.cr0 >> 32)
        return "guest CR0[63:32] not zero";
    if (s.cr3 & above_phys)
        return "guest CR3 has must-be-zero bits above the physical address width";
    if (s.cr4 & ~cr4_defined)
        return "guest CR4 has a reserved bit set";
    if (s.dr6 >> 32)
        return "guest DR6[63:32] not zero";
    if (s.dr7 >> 32)
        return "guest DR7[63:32] not zero";
    bool lme_pg = (s.efer & efer_lme) && (s.cr0 & cr0_pg);
    if (lme_pg && !(s.cr4 & cr4_pae))
        return "EFER.LME and CR0.PG set with CR4.PAE clear";
    if (lme_pg && !(s.cr0 & cr0_pe))
        return "EFER.LME and CR0.PG set with CR0.PE clear";
    if (lme_pg && (s.cs.attrib & attr_l) && (s.cs.attrib & attr_db))
        return "long mode with CS.L and CS.D both set";
    if (!(c.intercept_misc2 & misc2_vmrun))
        return "the VMRUN intercept is clear";
    if (c.guest_asid == 0)
        return "guest ASID is 0 (reserved for the host)";
    if (f.asid_count != 0 && c.guest_asid >= f.asid_count)
        return "guest ASID beyond CPUID 0x8000000A EBX";
    if (!event_injection_valid(c.event_inj))
        return "EVENTINJ: reserved type or exception vector 2 / above 31";
    if ((c.intercept_misc1 & misc1_msr_prot) && (c.msrpm_base_pa & above_phys))
        return "MSRPM base beyond the physical address width";
    if ((c.intercept_misc1 & misc1_ioio_prot) && (c.iopm_base_pa & above_phys))
        return "IOPM base beyond the physical address width";
    if (c.np_control & np_enable) {
        if (!f.npt)
            return "NP_ENABLE without nested paging support";
        if (c.n_cr3 & above_phys)
            return "nested CR3 beyond the physical address width";
        if (!pat_valid(s.g_pat))
            return "G_PAT holds a reserved memory type";
    }
    return nullptr;
}

} // namespace svm
