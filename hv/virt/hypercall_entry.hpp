// Where a VMCALL/VMMCALL exit enters the hypercall interface (TLFS 3). The privilege checks that
// come before any decoding live here: a call from CPL > 0 or from real mode raises #UD.
// Decoding and the dispatch table belong to hypercalls/ (the hypercall issue); until they land
// every call code answers HV_STATUS_INVALID_HYPERCALL_CODE, which is also what the TLFS gives
// for codes a partition may not use.
#pragma once
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {

template <class V> void handle_hypercall(Vp& vp, V& cpu, const Intercept& x) {
    bool protected_mode = cpu.read(Reg::cr0) & 1;
    unsigned cpl = (cpu.segment(Seg::ss).attr >> 5) & 3;   // SS.DPL is the CPL (SDM vol 3 5.5)
    if (!protected_mode || cpl != 0) {
        cpu.inject(Event{Event::Type::exception, 6, false, 0, 0});
        return;
    }
    vp.gprs[Gpr::rax] = static_cast<uint16_t>(tlfs::Status::invalid_hypercall_code);
    cpu.advance_rip(x.instruction_length ? x.instruction_length : 3);
}

} // namespace hv::virt
