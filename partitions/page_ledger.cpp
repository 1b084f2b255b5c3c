#include "partitions/page_ledger.hpp"

namespace partitions {

void PageLedger::init(uint8_t* storage, uint64_t first_frame, uint64_t end_frame) {
    bytes_ = storage;
    first_ = first_frame;
    end_ = end_frame > first_frame ? end_frame : first_frame;
    __builtin_memset(bytes_, foreign, end_ - first_);
}

void PageLedger::set_range(uint64_t frame, uint64_t count, uint8_t owner) {
    for (uint64_t f = frame; f < frame + count; f++)
        if (f >= first_ && f < end_)
            bytes_[f - first_] = owner;
}

bool PageLedger::transfer(uint64_t frame, uint8_t from, uint8_t to) {
    if (frame < first_ || frame >= end_ || bytes_[frame - first_] != from)
        return false;
    bytes_[frame - first_] = to;
    return true;
}

uint64_t PageLedger::count(uint8_t owner) const {
    uint64_t n = 0;
    for (uint64_t f = first_; f < end_; f++)
        n += bytes_[f - first_] == owner;
    return n;
}

} // namespace partitions
