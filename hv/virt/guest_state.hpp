// Registers by neutral name. General-purpose registers live in GuestGprs, saved and restored by
// each backend's entry/exit stub around every run; the rest live in the VMCS or VMCB and are
// reached through Vcpu::read/write.
#pragma once
#include <stdint.h>

namespace hv::virt {

// The x86 encoding order (Intel SDM vol 2 table 2-2), so decoded ModRM numbers index it.
enum class Gpr : uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };

struct GuestGprs {
    uint64_t r[16];   // indexed by Gpr; r[rsp] and r[rax] are mirrored to/from the VMCB on AMD-V
    uint64_t& operator[](Gpr g) { return r[static_cast<uint8_t>(g)]; }
    uint64_t operator[](Gpr g) const { return r[static_cast<uint8_t>(g)]; }
};

enum class Reg : uint8_t {
    rip, rflags, rsp,
    cr0, cr2, cr3, cr4, dr7,
    efer, pat, sysenter_cs, sysenter_esp, sysenter_eip,
    star, lstar, cstar, sfmask, kernel_gs_base,
    cr0_read_shadow, cr4_read_shadow,   // what the guest reads back (VT-x shadows; AMD-V: cr0/cr4)
    count,
};

enum class Seg : uint8_t { es, cs, ss, ds, fs, gs, ldtr, tr, count };

// Attributes in the AMD packed form (APM vol 2 15.5.1): bits 0-3 type, 4 S, 5-6 DPL, 7 P,
// 8 AVL, 9 L, 10 D/B, 11 G. VT-x converts to its access-rights layout (SDM vol 3 24.4.1),
// where an unusable segment has attr == 0.
struct Segment {
    uint16_t selector;
    uint16_t attr;
    uint32_t limit;
    uint64_t base;
};

struct DescriptorTable {
    uint64_t base;
    uint16_t limit;
};

} // namespace hv::virt
