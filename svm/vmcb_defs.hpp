// Encodings of VMCB fields: intercept vectors, interrupt control, EVENTINJ / EXITINTINFO,
// exit codes and their EXITINFO layouts (AMD APM vol 2 ch. 15 and appendix C).
#pragma once
#include <stdint.h>

namespace svm {

// Intercept vector 3 at VMCB 0x00C (APM table B-1).
enum Misc1 : uint32_t {
    misc1_intr = 1u << 0,
    misc1_nmi = 1u << 1,
    misc1_smi = 1u << 2,
    misc1_init = 1u << 3,
    misc1_vintr = 1u << 4,
    misc1_cr0_sel_write = 1u << 5,
    misc1_rdtsc = 1u << 14,
    misc1_pushf = 1u << 16,
    misc1_popf = 1u << 17,
    misc1_cpuid = 1u << 18,
    misc1_rsm = 1u << 19,
    misc1_iret = 1u << 20,
    misc1_intn = 1u << 21,
    misc1_invd = 1u << 22,
    misc1_pause = 1u << 23,
    misc1_hlt = 1u << 24,
    misc1_invlpg = 1u << 25,
    misc1_invlpga = 1u << 26,
    misc1_ioio_prot = 1u << 27,
    misc1_msr_prot = 1u << 28,
    misc1_task_switch = 1u << 29,
    misc1_ferr_freeze = 1u << 30,
    misc1_shutdown = 1u << 31,
};

// Intercept vector 4 at VMCB 0x010.
enum Misc2 : uint32_t {
    misc2_vmrun = 1u << 0,    // must be set or VMRUN fails its consistency checks (APM 15.5.1)
    misc2_vmmcall = 1u << 1,  // without it VMMCALL raises #UD in the guest (APM 15.11)
    misc2_vmload = 1u << 2,
    misc2_vmsave = 1u << 3,
    misc2_stgi = 1u << 4,
    misc2_clgi = 1u << 5,
    misc2_skinit = 1u << 6,
    misc2_rdtscp = 1u << 7,
    misc2_icebp = 1u << 8,
    misc2_wbinvd = 1u << 9,
    misc2_monitor = 1u << 10,
    misc2_mwait = 1u << 11,
    misc2_mwait_armed = 1u << 12,
    misc2_xsetbv = 1u << 13,
    misc2_rdpru = 1u << 14,
    misc2_efer_write_trap = 1u << 15,
};

// VMCB 0x060 (APM 15.21.1).
namespace int_ctl {
inline constexpr uint64_t v_tpr_mask = 0xff;
inline constexpr uint64_t v_irq = 1ull << 8;
inline constexpr uint64_t vgif = 1ull << 9;
inline constexpr uint64_t v_intr_prio_shift = 16;   // 4 bits
inline constexpr uint64_t v_intr_prio_mask = 0xfull << v_intr_prio_shift;
inline constexpr uint64_t v_ign_tpr = 1ull << 20;
inline constexpr uint64_t v_intr_masking = 1ull << 24;
inline constexpr uint64_t v_intr_vector_shift = 32;
inline constexpr uint64_t v_intr_vector_mask = 0xffull << v_intr_vector_shift;
} // namespace int_ctl

inline constexpr uint64_t int_state_shadow = 1;          // VMCB 0x068 bit 0
inline constexpr uint64_t np_enable = 1;                 // VMCB 0x090 bit 0

// VMCB 0x05C (APM 15.16.1).
enum TlbControl : uint8_t {
    tlb_nothing = 0,
    tlb_flush_all = 1,          // every ASID; the only choice without FlushByAsid
    tlb_flush_asid = 3,
    tlb_flush_asid_local = 7,   // this ASID, non-global entries
};

// EVENTINJ (VMCB 0x0A8) and EXITINTINFO (0x088) share one layout (APM 15.20, 15.7.2).
namespace event {
inline constexpr uint64_t vector_mask = 0xff;
inline constexpr uint64_t type_shift = 8;
inline constexpr uint64_t type_mask = 7ull << type_shift;
inline constexpr uint64_t error_valid = 1ull << 11;
inline constexpr uint64_t valid = 1ull << 31;
inline constexpr uint64_t error_shift = 32;

enum Type : uint8_t { intr = 0, nmi = 2, exception = 3, soft_int = 4 };   // 1, 5-7 reserved

constexpr uint64_t encode(Type t, uint8_t vector, bool has_error, uint32_t error) {
    return valid | vector | (static_cast<uint64_t>(t) << type_shift) | (has_error ? error_valid : 0) |
           (has_error ? static_cast<uint64_t>(error) << error_shift : 0);
}
constexpr uint8_t type_of(uint64_t e) { return static_cast<uint8_t>((e & type_mask) >> type_shift); }
} // namespace event

// Exit codes (APM appendix C, table C-1). Ranges first, single codes after.
namespace exit {
inline constexpr uint64_t cr_read = 0x00;      // + CR number
inline constexpr uint64_t cr_write = 0x10;     // + CR number
inline constexpr uint64_t dr_read = 0x20;
inline constexpr uint64_t dr_write = 0x30;
inline constexpr uint64_t excp = 0x40;         // + vector, through 0x5F
inline constexpr uint64_t intr = 0x60;
inline constexpr uint64_t nmi = 0x61;
inline constexpr uint64_t smi = 0x62;
inline constexpr uint64_t init = 0x63;
inline constexpr uint64_t vintr = 0x64;
inline constexpr uint64_t cr0_sel_write = 0x65;
inline constexpr uint64_t rdtsc = 0x6e;
inline constexpr uint64_t pushf = 0x70;
inline constexpr uint64_t popf = 0x71;
inline constexpr uint64_t cpuid = 0x72;
inline constexpr uint64_t rsm = 0x73;
inline constexpr uint64_t iret = 0x74;
inline constexpr uint64_t swint = 0x75;
inline constexpr uint64_t invd = 0x76;
inline constexpr uint64_t pause = 0x77;
inline constexpr uint64_t hlt = 0x78;
inline constexpr uint64_t invlpg = 0x79;
inline constexpr uint64_t invlpga = 0x7a;
inline constexpr uint64_t ioio = 0x7b;
inline constexpr uint64_t msr = 0x7c;
inline constexpr uint64_t task_switch = 0x7d;
inline constexpr uint64_t ferr_freeze = 0x7e;
inline constexpr uint64_t shutdown = 0x7f;
inline constexpr uint64_t vmrun = 0x80;
inline constexpr uint64_t vmmcall = 0x81;
inline constexpr uint64_t vmload = 0x82;
inline constexpr uint64_t vmsave = 0x83;
inline constexpr uint64_t stgi = 0x84;
inline constexpr uint64_t clgi = 0x85;
inline constexpr uint64_t skinit = 0x86;
inline constexpr uint64_t rdtscp = 0x87;
inline constexpr uint64_t icebp = 0x88;
inline constexpr uint64_t wbinvd = 0x89;
inline constexpr uint64_t monitor = 0x8a;
inline constexpr uint64_t mwait = 0x8b;
inline constexpr uint64_t mwait_armed = 0x8c;
inline constexpr uint64_t xsetbv = 0x8d;
inline constexpr uint64_t rdpru = 0x8e;
inline constexpr uint64_t efer_write_trap = 0x8f;
inline constexpr uint64_t npf = 0x400;
inline constexpr uint64_t invalid = 0xffffffff;   // compare the low 32 bits (QEMU fills only those)
inline constexpr uint64_t busy = 0xfffffffe;
} // namespace exit

// EXITINFO1 of an IOIO intercept (APM 15.10.2, figure 15-2); EXITINFO2 holds the next RIP.
namespace ioio {
inline constexpr uint64_t in = 1u << 0;
inline constexpr uint64_t string = 1u << 2;
inline constexpr uint64_t rep = 1u << 3;
inline constexpr uint64_t size8 = 1u << 4;
inline constexpr uint64_t size16 = 1u << 5;
inline constexpr uint64_t size32 = 1u << 6;
inline constexpr uint64_t port_shift = 16;
} // namespace ioio

// EXITINFO1 of a nested page fault (APM 15.25.6): a #PF-style error code plus walk flags.
namespace npf {
inline constexpr uint64_t present = 1ull << 0;
inline constexpr uint64_t write = 1ull << 1;
inline constexpr uint64_t user = 1ull << 2;
inline constexpr uint64_t reserved_bit = 1ull << 3;
inline constexpr uint64_t fetch = 1ull << 4;
inline constexpr uint64_t final_translation = 1ull << 32;   // the guest's final GPA
inline constexpr uint64_t table_walk = 1ull << 33;          // a guest page-table access
} // namespace npf

// MSRs of AMD-V (APM 15.30).
inline constexpr uint32_t msr_vm_cr = 0xc0010114;
inline constexpr uint32_t msr_vm_hsave_pa = 0xc0010117;
inline constexpr uint64_t vm_cr_svmdis = 1ull << 4;
inline constexpr uint64_t efer_svme = 1ull << 12;

} // namespace svm
