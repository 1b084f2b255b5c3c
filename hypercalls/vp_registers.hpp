// The register subset HvCallGet/SetVpRegisters reach on the calling VP (TLFS 7.x, register
// names in the appendix), through the neutral Vcpu interface. Reads give what the guest itself
// would read; writes are limited to registers whose every value the guest could also load
// itself without a VM entry failing (GPRs, RIP, RFLAGS, CR2, CR3, GDTR, IDTR). CR0, CR4, EFER
// and the segment registers are read-only here: a wrong value there fails the next VM entry,
// and the checks the processor makes on MOV CR / WRMSR / segment loads are not replicated yet.
#pragma once
#include "hv/virt/guest_state.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/partition.hpp"

namespace hypercalls {

namespace detail {
inline constexpr uint64_t cr0_ne = 1u << 5, cr4_vmxe = 1u << 13;
inline constexpr uint64_t rflags_fixed1 = 1u << 1, rflags_vm = 1u << 17;
inline constexpr uint64_t rflags_reserved = (1u << 3) | (1u << 5) | (1u << 15) | ~0x3fffffull;

[[nodiscard]] constexpr bool canonical(uint64_t v) {
    return static_cast<uint64_t>(static_cast<int64_t>(v << 16) >> 16) == v;
}
// The segment attributes of HV_X64_SEGMENT_REGISTER: the AMD packed form with AVL/L/DB/G moved
// from bits 8-11 to 12-15.
[[nodiscard]] constexpr uint16_t hv_segment_attributes(uint16_t amd) {
    return static_cast<uint16_t>((amd & 0xff) | ((amd & 0xf00) << 4));
}
} // namespace detail

template <class V> [[nodiscard]] Status get_register(hv::Vp& vp, const V& cpu, uint32_t name, tlfs::RegisterValue& v) {
    using hv::virt::Reg;
    v = {};
    if (name >= tlfs::reg::rax && name <= tlfs::reg::r15) {
        v.low = vp.gprs.r[name - tlfs::reg::rax];
        return Status::success;
    }
    if (name >= tlfs::reg::es && name <= tlfs::reg::tr) {
        hv::virt::Segment s = cpu.segment(static_cast<hv::virt::Seg>(name - tlfs::reg::es));
        v.low = s.base;
        v.high = s.limit | (uint64_t{s.selector} << 32) | (uint64_t{detail::hv_segment_attributes(s.attr)} << 48);
        return Status::success;
    }
    switch (name) {
    case tlfs::reg::rip: v.low = cpu.read(Reg::rip); return Status::success;
    case tlfs::reg::rflags: v.low = cpu.read(Reg::rflags); return Status::success;
    // VT-x owns CR0.NE and CR4.VMXE and shows the guest its read shadow there; AMD-V's read
    // "shadow" is the register itself, so this is what the guest's own MOV from CR reads.
    case tlfs::reg::cr0:
        v.low = (cpu.read(Reg::cr0) & ~detail::cr0_ne) | (cpu.read(Reg::cr0_read_shadow) & detail::cr0_ne);
        return Status::success;
    case tlfs::reg::cr4:
        v.low = (cpu.read(Reg::cr4) & ~detail::cr4_vmxe) | (cpu.read(Reg::cr4_read_shadow) & detail::cr4_vmxe);
        return Status::success;
    case tlfs::reg::cr2: v.low = cpu.read(Reg::cr2); return Status::success;
    case tlfs::reg::cr3: v.low = cpu.read(Reg::cr3); return Status::success;
    case tlfs::reg::efer: v.low = cpu.read(Reg::efer); return Status::success;
    case tlfs::reg::gdtr:
    case tlfs::reg::idtr:
        if constexpr (requires { cpu.gdtr(); cpu.idtr(); }) {
            hv::virt::DescriptorTable t = name == tlfs::reg::gdtr ? cpu.gdtr() : cpu.idtr();
            v.low = uint64_t{t.limit} << 48;   // {pad[3], limit} then base
            v.high = t.base;
            return Status::success;
        }
        return Status::invalid_parameter;
    default: return Status::invalid_parameter;
    }
}

// `rip_written` tells the exit path not to step over the call: the VP goes where it was sent.
template <class V>
[[nodiscard]] Status set_register(hv::Vp& vp, V& cpu, uint32_t name, const tlfs::RegisterValue& v, bool& rip_written) {
    using hv::virt::Reg;
    if (name >= tlfs::reg::rax && name <= tlfs::reg::r15) {
        vp.gprs.r[name - tlfs::reg::rax] = v.low;
        if (name - tlfs::reg::rax == static_cast<uint32_t>(hv::virt::Gpr::rsp))
            cpu.write(Reg::rsp, v.low);   // the VMCS/VMCB copy, whichever the backend reloads
        return Status::success;
    }
    switch (name) {
    case tlfs::reg::rip:
        if (!detail::canonical(v.low))
            return Status::invalid_parameter;
        cpu.write(Reg::rip, v.low);
        rip_written = true;
        return Status::success;
    case tlfs::reg::rflags:
        if ((v.low & detail::rflags_reserved) || !(v.low & detail::rflags_fixed1) || (v.low & detail::rflags_vm))
            return Status::invalid_parameter;
        cpu.write(Reg::rflags, v.low);
        return Status::success;
    case tlfs::reg::cr2: cpu.write(Reg::cr2, v.low); return Status::success;
    case tlfs::reg::cr3:
        if (v.low >> 52)
            return Status::invalid_parameter;   // beyond any physical address width (SDM vol 3 4.5)
        cpu.write(Reg::cr3, v.low);
        return Status::success;
    case tlfs::reg::gdtr:
    case tlfs::reg::idtr:
        if constexpr (requires { cpu.set_gdtr(hv::virt::DescriptorTable{}); }) {
            if (!detail::canonical(v.high) || (v.low & 0x0000ffffffffffffull))
                return Status::invalid_parameter;
            hv::virt::DescriptorTable t{v.high, static_cast<uint16_t>(v.low >> 48)};
            name == tlfs::reg::gdtr ? cpu.set_gdtr(t) : cpu.set_idtr(t);
            return Status::success;
        }
        return Status::invalid_parameter;
    default: return Status::invalid_parameter;   // unknown, or read-only here (see above)
    }
}

} // namespace hypercalls
