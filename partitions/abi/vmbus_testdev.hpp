// The test device our root offers a child that asks for it (`testdev=1` in its module command
// line, docs/root-partition.md): a sink and responder that the `ring-stress` suite and the
// channel benchmarks (docs/performance.md) drive. Our own device class, not a Hyper-V one: the
// GUIDs below were generated for this project.
#pragma once
#include <stdint.h>

namespace root_abi::vmbus_testdev {

// OfferChannel.interface_type in the wire's byte order: 6b1f7a3e-52c4-4f0d-a8e1-3d9c0b7e6a21.
inline constexpr uint8_t class_id[16] = {0x3e, 0x7a, 0x1f, 0x6b, 0xc4, 0x52, 0x0d, 0x4f,
                                         0xa8, 0xe1, 0x3d, 0x9c, 0x0b, 0x7e, 0x6a, 0x21};
// OfferChannel.interface_instance, the last byte replaced by the child's slot.
inline constexpr uint8_t instance_id[16] = {0x51, 0x0e, 0x9b, 0x4d, 0x27, 0xa3, 0x6c, 0x48,
                                            0x9f, 0x02, 0x44, 0x1d, 0xe5, 0x7b, 0xc8, 0x00};

// Every packet is inband (type 6) and starts with this header; its payload follows and is only
// counted. A packet shorter than the header or of another type is counted as bad and dropped.
enum class Op : uint32_t {
    sink = 0,     // counted; `seq` must be the producer's previous seq + 1 (from 0)
    request = 1,  // answered at once with a completion (type 11) carrying the header back
    stats = 2,    // answered with a completion: Header then Stats; the counters restart
};
inline constexpr uint32_t max_producers = 16;

struct Header {
    Op op;
    uint32_t producer;   // below max_producers, else counted as out of order
    uint64_t seq;
};
static_assert(sizeof(Header) == 16);

// Since the last stats request (or the open).
struct Stats {
    uint64_t packets;        // sink and request packets
    uint64_t bytes;          // their data bytes, headers included
    uint64_t signals;        // the child's signals the root served (SignalEvent on the channel)
    uint64_t out_of_order;   // sink packets whose seq was not the producer's next
    uint64_t bad;            // packets dropped as malformed
    uint64_t next_seq[max_producers];   // each producer's next expected seq
};

} // namespace root_abi::vmbus_testdev
