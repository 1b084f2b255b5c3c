// One direction of a VMBus channel ring, laid out as Linux's hv_vmbus lays it out (the guests we
// serve are unmodified Linux): a 4 KiB control page, then the data area the packets circulate in.
// A channel is two rings in one GPADL (the open message names the page where the second starts);
// each end writes one and reads the other. docs/vmbus.md has the rules; HYPERV-FACTS "VMBus".
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "vmbus/platform.hpp"

namespace vmbus {

// The control page (Linux: struct hv_ring_buffer). Indices are byte offsets into the data area.
struct RingControl {
    uint32_t write_index;      // 0x00: owned by the writer
    uint32_t read_index;       // 0x04: owned by the reader
    uint32_t interrupt_mask;   // 0x08: set by the reader while it drains: writers need not signal
    uint32_t pending_send_sz;  // 0x0c: set by a blocked writer: the space it waits for
    uint32_t reserved1[12];    // 0x10
    uint32_t feature_bits;     // 0x40: feat_pending_send_sz in bit 0
    uint8_t reserved2[page_size - 0x44];
};
static_assert(sizeof(RingControl) == page_size);
static_assert(offsetof(RingControl, pending_send_sz) == 0x0c);
static_assert(offsetof(RingControl, feature_bits) == 0x40);

// The reader of this ring honours pending_send_sz (Linux sets it on both rings when it creates them).
inline constexpr uint32_t feat_pending_send_sz = 1u << 0;

// Every packet starts with this descriptor (Linux: struct vmpacket_descriptor).
struct PacketDescriptor {
    uint16_t type;
    uint16_t offset8;   // the data's offset from the descriptor's start, in 8-byte units
    uint16_t len8;      // the packet's length without the trailer, in 8-byte units
    uint16_t flags;
    uint64_t trans_id;
};
static_assert(sizeof(PacketDescriptor) == 16);

namespace packet_type {
inline constexpr uint16_t data_inband = 6;
inline constexpr uint16_t data_using_xfer_pages = 7;
inline constexpr uint16_t data_using_gpa_direct = 9;
inline constexpr uint16_t completion = 11;
} // namespace packet_type

inline constexpr uint16_t flag_completion_requested = 1;
// After each packet: the writer's write index before the packet, in the high half (Linux writes
// it so; nobody reads it, we write it the same way and skip it when reading).
inline constexpr uint32_t trailer_size = 8;

// One direction's shared memory as this end has it mapped: the control page and a contiguous data
// area (ring pages - 1 pages in a real channel; any multiple of 8 bytes from min_data_size for tests).
struct RingMemory {
    RingControl* control = nullptr;
    uint8_t* data = nullptr;
    uint32_t data_size = 0;
};
inline constexpr uint32_t min_data_size = 64;
inline constexpr uint32_t max_data_size = 1u << 30;

enum class RingStatus : uint8_t {
    ok,
    empty,                    // reader: no packet
    full,                     // writer: not enough space now; retry after the reader signals
    bad_geometry,             // RingMemory unusable (null, size not a multiple of 8 or out of range)
    bad_packet,               // writer: the caller's packet is malformed (offset8, too long)
    // The peer broke the protocol; the caller closes the channel. Each case has its own code.
    read_index_out_of_range,
    read_index_misaligned,
    write_index_out_of_range,
    write_index_misaligned,
    truncated,                // fewer bytes published than a descriptor and its trailer
    length_too_small,         // len8 covers less than the descriptor
    length_exceeds_available, // len8 reaches past the write index
    overlaps_write_index,     // the packet fits but its trailer crosses the write index
    offset_outside_packet,    // offset8 before the end of the descriptor or past the packet
    too_large_for_buffer,     // a well-formed packet longer than the caller's buffer
};
[[nodiscard]] const char* to_string(RingStatus s);
[[nodiscard]] inline bool is_protocol_error(RingStatus s) { return s >= RingStatus::read_index_out_of_range; }

// Bytes the writer may still use, free of the one-slot gap (Linux's hv_get_bytes_to_write).
[[nodiscard]] inline uint32_t bytes_free(uint32_t write, uint32_t read, uint32_t size) {
    return write >= read ? size - (write - read) : read - write;
}

// A span of bytes the writer gathers into one packet.
struct Span {
    const void* data;
    uint32_t size;
};

struct OutPacket {
    uint16_t type = packet_type::data_inband;
    uint16_t flags = 0;
    uint64_t trans_id = 0;
    // Where the data starts, in 8-byte units from the descriptor: 2 for plain inband packets;
    // more when the first bytes of the gathered spans are a type-specific header.
    uint16_t offset8 = 2;
};

struct WriteResult {
    RingStatus status;
    bool signal;   // the reader must be signalled (the ring was empty and is not masked)
};

// The writing end. Keeps its write index privately: the shared copy is published, never read
// back, so a peer that scribbles on it cannot steer our writes. Not thread-safe; one writer.
class RingWriter {
public:
    explicit RingWriter(RingMemory m) : m_(m) {}

    // Prepares a fresh ring this end created (both indices 0, feat_pending_send_sz).
    [[nodiscard]] RingStatus init();
    // Takes over a ring the peer created: reads its write index once and checks it.
    [[nodiscard]] RingStatus attach();

    [[nodiscard]] WriteResult write(const OutPacket& p, const Span* parts, uint32_t count);
    [[nodiscard]] WriteResult write(const OutPacket& p, const void* payload, uint32_t size) {
        const Span s{payload, size};
        return write(p, &s, 1);
    }
    // Flow control: ask the reader to signal once `bytes` are free (0 withdraws the request).
    void request_space(uint32_t bytes) { shared::store(&m_.control->pending_send_sz, bytes); }

private:
    RingMemory m_;
    uint32_t write_ = 0;
    bool ready_ = false;
};

// A packet copied out of the ring. Its bytes (descriptor included) are in the caller's buffer;
// the fields here are the ones that were validated.
struct Packet {
    uint16_t type;
    uint16_t flags;
    uint64_t trans_id;
    uint32_t length;        // descriptor + data, without the trailer
    uint32_t data_offset;   // offset8 * 8
    const uint8_t* data;    // buffer + data_offset
    uint32_t data_size;     // length - data_offset
};

// The reading end. Keeps a private read index (the shared one is only published), copies each
// packet out before looking at it, and reads the peer's write index once per packet.
class RingReader {
public:
    explicit RingReader(RingMemory m) : m_(m) {}

    // Takes over the ring: reads the shared read index once and checks it.
    [[nodiscard]] RingStatus attach();

    // Copies the next packet into buffer without consuming it.
    [[nodiscard]] RingStatus peek(uint8_t* buffer, uint32_t capacity, Packet& out);
    // Consumes the packet the last successful peek returned (privately: see commit).
    void skip();
    // peek + skip.
    [[nodiscard]] RingStatus read(uint8_t* buffer, uint32_t capacity, Packet& out);
    // Bytes the writer has published beyond our read index (0 for an unusable write index): a
    // cheap look, one load, for a reader that wants to know whether a signal was missed.
    [[nodiscard]] uint32_t available() const;
    // Publishes the private read index, freeing what was consumed for the writer. Returns whether
    // the writer must be signalled: it asked (pending_send_sz) and the space crossed its request.
    [[nodiscard]] bool commit();

    // Mask the writer's signals while draining. Unmasking returns whether a packet arrived in
    // the meantime (then drain again): a writer that saw the mask set did not signal for it.
    void mask_interrupts() { shared::store(&m_.control->interrupt_mask, 1); }
    [[nodiscard]] bool unmask_interrupts();

private:
    RingMemory m_;
    uint32_t read_ = 0;        // next packet
    uint32_t published_ = 0;   // what the shared read index says since the last commit
    uint32_t peeked_ = 0;      // bytes the last peek covered, trailer included; 0 when none
    bool ready_ = false;
};

} // namespace vmbus
