// What every guest suite shares: a KTAP reporter on COM1 and the runtime (partitions/rt).
#pragma once
#include "partitions/rt/rt.hpp"
#include "tests/guest/ktap.hpp"
#include "tests/guest/serial_sink.hpp"

namespace suite {

using Reporter = ktap::Reporter<ktap::SerialSink>;

// One serial sink for the whole suite; lines from application processors go through rt::log.
inline ktap::SerialSink& sink() {
    static ktap::SerialSink s;
    return s;
}

} // namespace suite
