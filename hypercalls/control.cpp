#include "hypercalls/control.hpp"

namespace hypercalls {

uint64_t encode_control(const Control& c) {
    return tlfs::control::make(c.code, c.fast, c.rep_count, c.rep_start, c.var_qwords);
}

uint64_t with_rep_start(uint64_t raw, uint16_t start) {
    namespace c = tlfs::control;
    return (raw & ~c::rep_start_mask) | (uint64_t{start & 0xfffu} << c::rep_start_shift);
}

} // namespace hypercalls
