// The virtual machine control block (AMD APM vol 2 appendix B): a 4 KiB page, control area at
// 0x000, state save area at 0x400. Plain structs with the byte offset of every field in a
// comment and static_asserts that hold the layout to the manual; reserved space is spelled out
// so that the compiler never pads. Encodings of the fields live in svm/vmcb_defs.hpp.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "svm/vmcb_defs.hpp"

namespace svm {

// APM vol 2 table B-1.
struct VmcbControl {
    uint32_t intercept_cr;          // 0x000  bits 0-15 reads of CR0-15, 16-31 writes
    uint32_t intercept_dr;          // 0x004  bits 0-15 reads of DR0-15, 16-31 writes
    uint32_t intercept_exceptions;  // 0x008  one bit per vector 0-31
    uint32_t intercept_misc1;       // 0x00C  Misc1 bits
    uint32_t intercept_misc2;       // 0x010  Misc2 bits
    uint32_t intercept_misc3;       // 0x014  INVLPGB, INVPCID, MCOMMIT, TLBSYNC
    uint8_t reserved_018[0x03c - 0x018];
    uint16_t pause_filter_threshold;// 0x03C
    uint16_t pause_filter_count;    // 0x03E
    uint64_t iopm_base_pa;          // 0x040  12 KiB, 4 KiB aligned
    uint64_t msrpm_base_pa;         // 0x048  8 KiB, 4 KiB aligned
    uint64_t tsc_offset;            // 0x050
    uint32_t guest_asid;            // 0x058
    uint8_t tlb_control;            // 0x05C  TlbControl
    uint8_t reserved_05d[3];
    uint64_t int_ctl;               // 0x060  V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING...
    uint64_t int_state;             // 0x068  bit 0 interrupt shadow, bit 1 guest interrupt mask
    uint64_t exit_code;             // 0x070
    uint64_t exit_info1;            // 0x078
    uint64_t exit_info2;            // 0x080
    uint64_t exit_int_info;         // 0x088  EVENTINJ format
    uint64_t np_control;            // 0x090  bit 0 NP_ENABLE, 1 SEV, 2 SEV-ES, 3 GMET
    uint64_t avic_apic_bar;         // 0x098
    uint64_t ghcb_pa;               // 0x0A0
    uint64_t event_inj;             // 0x0A8
    uint64_t n_cr3;                 // 0x0B0  nested page table root
    uint64_t virt_ext;              // 0x0B8  bit 0 LBR virtualization, 1 virtual VMLOAD/VMSAVE
    uint32_t clean_bits;            // 0x0C0  VMCB clean bits (0: the processor reloads everything)
    uint32_t reserved_0c4;
    uint64_t next_rip;              // 0x0C8  nRIP, with NRIP-save (APM 15.7.1)
    uint8_t bytes_fetched;          // 0x0D0  decode assists (APM 15.33.3)
    uint8_t guest_bytes[15];        // 0x0D1
    uint64_t avic_backing_page;     // 0x0E0
    uint64_t reserved_0e8;
    uint64_t avic_logical_table;    // 0x0F0
    uint64_t avic_physical_table;   // 0x0F8
    uint64_t reserved_100;
    uint64_t vmsa_pa;               // 0x108
    uint8_t reserved_110[0x400 - 0x110];
};

// APM vol 2 table B-2; attributes in the packed 12-bit form of hv::virt::Segment.
struct VmcbSegment {
    uint16_t selector;
    uint16_t attrib;
    uint32_t limit;
    uint64_t base;
};
static_assert(sizeof(VmcbSegment) == 16);

// Offsets relative to the VMCB (the manual counts from 0x400).
struct VmcbSave {
    VmcbSegment es;                 // 0x400
    VmcbSegment cs;                 // 0x410
    VmcbSegment ss;                 // 0x420
    VmcbSegment ds;                 // 0x430
    VmcbSegment fs;                 // 0x440  VMLOAD/VMSAVE state (APM 15.5.2)
    VmcbSegment gs;                 // 0x450  VMLOAD/VMSAVE state
    VmcbSegment gdtr;               // 0x460  only base and limit used
    VmcbSegment ldtr;               // 0x470  VMLOAD/VMSAVE state
    VmcbSegment idtr;               // 0x480  only base and limit used
    VmcbSegment tr;                 // 0x490  VMLOAD/VMSAVE state
    uint8_t reserved_4a0[0x4cb - 0x4a0];
    uint8_t cpl;                    // 0x4CB
    uint32_t reserved_4cc;
    uint64_t efer;                  // 0x4D0
    uint8_t reserved_4d8[0x548 - 0x4d8];
    uint64_t cr4;                   // 0x548
    uint64_t cr3;                   // 0x550
    uint64_t cr0;                   // 0x558
    uint64_t dr7;                   // 0x560
    uint64_t dr6;                   // 0x568
    uint64_t rflags;                // 0x570
    uint64_t rip;                   // 0x578
    uint8_t reserved_580[0x5d8 - 0x580];
    uint64_t rsp;                   // 0x5D8
    uint64_t s_cet;                 // 0x5E0
    uint64_t ssp;                   // 0x5E8
    uint64_t isst_addr;             // 0x5F0
    uint64_t rax;                   // 0x5F8
    uint64_t star;                  // 0x600  VMLOAD/VMSAVE state, through 0x638
    uint64_t lstar;                 // 0x608
    uint64_t cstar;                 // 0x610
    uint64_t sfmask;                // 0x618
    uint64_t kernel_gs_base;        // 0x620
    uint64_t sysenter_cs;           // 0x628
    uint64_t sysenter_esp;          // 0x630
    uint64_t sysenter_eip;          // 0x638
    uint64_t cr2;                   // 0x640
    uint8_t reserved_648[0x668 - 0x648];
    uint64_t g_pat;                 // 0x668  guest PAT, used with nested paging
    uint64_t dbgctl;                // 0x670
    uint64_t br_from;               // 0x678
    uint64_t br_to;                 // 0x680
    uint64_t last_excp_from;        // 0x688
    uint64_t last_excp_to;          // 0x690
    uint8_t reserved_698[0x1000 - 0x698];
};

struct alignas(4096) Vmcb {
    VmcbControl control;
    VmcbSave save;
};

static_assert(sizeof(VmcbControl) == 0x400);
static_assert(sizeof(Vmcb) == 4096);
static_assert(offsetof(VmcbControl, pause_filter_threshold) == 0x03c);
static_assert(offsetof(VmcbControl, iopm_base_pa) == 0x040);
static_assert(offsetof(VmcbControl, guest_asid) == 0x058);
static_assert(offsetof(VmcbControl, tlb_control) == 0x05c);
static_assert(offsetof(VmcbControl, int_ctl) == 0x060);
static_assert(offsetof(VmcbControl, exit_code) == 0x070);
static_assert(offsetof(VmcbControl, exit_int_info) == 0x088);
static_assert(offsetof(VmcbControl, np_control) == 0x090);
static_assert(offsetof(VmcbControl, event_inj) == 0x0a8);
static_assert(offsetof(VmcbControl, n_cr3) == 0x0b0);
static_assert(offsetof(VmcbControl, clean_bits) == 0x0c0);
static_assert(offsetof(VmcbControl, next_rip) == 0x0c8);
static_assert(offsetof(VmcbControl, guest_bytes) == 0x0d1);
static_assert(offsetof(VmcbControl, vmsa_pa) == 0x108);
static_assert(offsetof(Vmcb, save) == 0x400);
static_assert(offsetof(Vmcb, save.tr) == 0x490);
static_assert(offsetof(Vmcb, save.cpl) == 0x4cb);
static_assert(offsetof(Vmcb, save.efer) == 0x4d0);
static_assert(offsetof(Vmcb, save.cr4) == 0x548);
static_assert(offsetof(Vmcb, save.rip) == 0x578);
static_assert(offsetof(Vmcb, save.rsp) == 0x5d8);
static_assert(offsetof(Vmcb, save.rax) == 0x5f8);
static_assert(offsetof(Vmcb, save.star) == 0x600);
static_assert(offsetof(Vmcb, save.sysenter_eip) == 0x638);
static_assert(offsetof(Vmcb, save.cr2) == 0x640);
static_assert(offsetof(Vmcb, save.g_pat) == 0x668);
static_assert(offsetof(Vmcb, save.last_excp_to) == 0x690);

} // namespace svm
