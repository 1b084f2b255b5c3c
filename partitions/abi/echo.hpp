// The root's SynIC echo service, which our root kernel offers every child (docs/root-partition.md,
// "SynIC echo"): cross-partition messages and events both ways through ordinary ports and
// connections, so a child can test its SynIC against the root (the `child-synic` suite) and see
// that the root answers. Our extension: not part of the TLFS or of VMBus.
#pragma once
#include <stdint.h>

namespace root_abi::echo {

// The child's connections, made by the root when the child starts.
inline constexpr uint32_t message_connection = 0x7e;   // HvPostMessage an EchoRequest here
inline constexpr uint32_t event_connection = 0x7f;     // HvSignalEvent flag 0 here
// The root answers an event with flag `answer_flag` in SINT `answer_sint` of VP 0.
inline constexpr uint32_t answer_sint = 1, answer_flag = 5;
inline constexpr uint32_t max_count = 4;

// The root posts the whole payload back `count` times (1..max_count), with the message type it
// came with, to SINT `sint` of the child's VP `vp`. Anything else is dropped (and logged once).
struct EchoRequest {
    uint32_t vp;
    uint32_t sint;
    uint32_t count;
    uint32_t reserved;
    uint8_t data[224];
};
static_assert(sizeof(EchoRequest) == 240);

} // namespace root_abi::echo
