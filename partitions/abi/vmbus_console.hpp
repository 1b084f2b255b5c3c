// The console channel our root offers every child over VMBus (docs/vmbus.md, "The root's
// server"): a byte stream both ways in inband packets (VMBus packet type 6). Our own device
// class, not a Hyper-V one: the GUID below was generated for this project.
#pragma once
#include <stdint.h>

namespace root_abi::vmbus_console {

// OfferChannel.interface_type, in the wire's byte order (the first three GUID fields little
// endian, as Linux's guid_t stores them): 8cf76ee9-f65b-4cb9-93c5-92e19731bf57.
inline constexpr uint8_t class_id[16] = {0xe9, 0x6e, 0xf7, 0x8c, 0x5b, 0xf6, 0xb9, 0x4c,
                                         0x93, 0xc5, 0x92, 0xe1, 0x97, 0x31, 0xbf, 0x57};
// OfferChannel.interface_instance: 28f71b9c-263b-41de-9623-94c1bd4deb35, with the last byte
// replaced by the child's slot so each child's instance is its own.
inline constexpr uint8_t instance_id[16] = {0x9c, 0x1b, 0xf7, 0x28, 0x3b, 0x26, 0xde, 0x41,
                                            0x96, 0x23, 0x94, 0xc1, 0xbd, 0x4d, 0xeb, 0x00};

// Each packet's data is a Header and then `size` bytes: a VMBus packet's length counts 8-byte
// units (its data is padded with zeros), so the stream's own bytes need their count. A packet
// whose header claims more than it carries is dropped.
struct Header {
    uint32_t size;
    uint32_t reserved;
};
static_assert(sizeof(Header) == 8);

// The child's bytes arrive in any packet boundaries; the root prints each line (up to '\n', or
// max_line bytes) as `NAME: vmbus-console: LINE`, bytes outside printable ASCII as '.', and
// sends `echo_prefix LINE \n` back in one packet.
inline constexpr uint32_t max_line = 120;
inline constexpr char echo_prefix[] = "echo: ";

} // namespace root_abi::vmbus_console
