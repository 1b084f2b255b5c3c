// The hypercall control word (TLFS 3.7) and result value (3.8), decoded into plain fields. Pure:
// shared by the hypervisor image, the host unit tests and the fuzzer.
#pragma once
#include <stdint.h>

#include "hypercalls/abi/tlfs.hpp"

namespace hypercalls {

struct Control {
    uint16_t code = 0;
    bool fast = false;
    uint16_t var_qwords = 0;   // variable header size, 8-byte units
    uint16_t rep_count = 0;
    uint16_t rep_start = 0;
};

// False when any bit outside the TLFS fields is set: the call then fails with
// HV_STATUS_INVALID_HYPERCALL_INPUT before its code is even looked at.
// Inline: it runs on every hypercall.
[[nodiscard]] inline bool decode_control(uint64_t raw, Control& out) {
    namespace c = tlfs::control;
    out.code = static_cast<uint16_t>(raw & c::code_mask);
    out.fast = (raw & c::fast) != 0;
    out.var_qwords = static_cast<uint16_t>((raw & c::var_header_mask) >> c::var_header_shift);
    out.rep_count = static_cast<uint16_t>((raw & c::rep_count_mask) >> c::rep_count_shift);
    out.rep_start = static_cast<uint16_t>((raw & c::rep_start_mask) >> c::rep_start_shift);
    return (raw & ~c::valid_mask) == 0;
}
[[nodiscard]] uint64_t encode_control(const Control& c);

// The control word the guest re-issues after a partial rep call: only the start index moves.
[[nodiscard]] uint64_t with_rep_start(uint64_t raw, uint16_t start);

[[nodiscard]] constexpr uint64_t make_result(tlfs::Status s, uint16_t reps_done) {
    return tlfs::result::make(static_cast<uint16_t>(s), reps_done);
}

} // namespace hypercalls
