// VM exit -> neutral intercept. The Vcpu reads the exit-information fields (SDM vol 3 24.9)
// into RawExit and this pure function names what happened; it is total, so no guest action can
// make it fail, and it runs in the host tests.
#pragma once
#include <stdint.h>

#include "hv/virt/intercept.hpp"

namespace vmx {

struct RawExit {
    uint32_t reason;              // full exit-reason field: basic reason 15:0, entry failure bit 31
    uint64_t qualification;
    uint32_t instr_len;
    uint32_t intr_info;           // VM-exit interruption information
    uint32_t intr_error;
    uint64_t guest_phys;
    uint64_t guest_linear;
    uint32_t instr_info;
    uint32_t idt_vectoring_info;
    uint32_t idt_vectoring_error;
    // Hypercall exits only: the caller's mode (hv::virt::CallerMode).
    uint32_t guest_cs_access_rights, guest_ss_access_rights;
    uint64_t guest_cr0, guest_efer;
};

[[nodiscard]] hv::virt::Intercept decode_exit(const RawExit& e);

// The stub's VMfail outcomes are not exits; they are reported with raw_reason above 32 bits
// so a log tells them from any exit reason.
inline constexpr uint64_t raw_vmfail_invalid = 0x1'0000'0000ull;
inline constexpr uint64_t raw_vmfail_valid = 0x2'0000'0000ull;   // | VM-instruction error
[[nodiscard]] hv::virt::Intercept vmfail_intercept(bool valid, uint32_t vm_instruction_error);

// Words for a VM-entry failure exit (reasons 33, 34, 41) from its qualification (SDM 27.8).
[[nodiscard]] const char* entry_failure_detail(uint32_t reason, uint64_t qualification);

} // namespace vmx
