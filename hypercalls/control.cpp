#include "hypercalls/control.hpp"

namespace hypercalls {

bool decode_control(uint64_t raw, Control& out) {
    namespace c = tlfs::control;
    out.code = static_cast<uint16_t>(raw & c::code_mask);
    out.fast = (raw & c::fast) != 0;
    out.var_qwords = static_cast<uint16_t>((raw & c::var_header_mask) >> c::var_header_shift);
    out.rep_count = static_cast<uint16_t>((raw & c::rep_count_mask) >> c::rep_count_shift);
    out.rep_start = static_cast<uint16_t>((raw & c::rep_start_mask) >> c::rep_start_shift);
    return (raw & ~c::valid_mask) == 0;
}

uint64_t encode_control(const Control& c) {
    return tlfs::control::make(c.code, c.fast, c.rep_count, c.rep_start, c.var_qwords);
}

uint64_t with_rep_start(uint64_t raw, uint16_t start) {
    namespace c = tlfs::control;
    return (raw & ~c::rep_start_mask) | (uint64_t{start & 0xfffu} << c::rep_start_shift);
}

} // namespace hypercalls
