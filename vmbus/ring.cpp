// The ring protocol of ring.hpp. The signalling rules are Linux's (drivers/hv/ring_buffer.c,
// hv_signal_on_write and hv_pkt_iter_close), because the peer is Linux and both sides must agree
// on who signals when, or a channel stalls.
#include "vmbus/ring.hpp"

namespace vmbus {

namespace {

[[nodiscard]] bool geometry_ok(const RingMemory& m) {
    return m.control != nullptr && m.data != nullptr && m.data_size % 8 == 0 &&
           m.data_size >= min_data_size && m.data_size <= max_data_size;
}

// Checks an index the peer published. The data area's size is a multiple of 8 and every packet
// with its trailer is too, so a valid index is always 8-aligned.
[[nodiscard]] RingStatus check_index(uint32_t index, uint32_t size, RingStatus out_of_range,
                                     RingStatus misaligned) {
    if (index >= size)
        return out_of_range;
    if (index % 8 != 0)
        return misaligned;
    return RingStatus::ok;
}

[[nodiscard]] RingStatus check_read_index(uint32_t index, uint32_t size) {
    return check_index(index, size, RingStatus::read_index_out_of_range, RingStatus::read_index_misaligned);
}

[[nodiscard]] RingStatus check_write_index(uint32_t index, uint32_t size) {
    return check_index(index, size, RingStatus::write_index_out_of_range,
                       RingStatus::write_index_misaligned);
}

// Takes over the index this end owns: read from the shared page once, when attaching, and checked.
[[nodiscard]] RingStatus adopt_index(const RingMemory& m, uint32_t RingControl::*field,
                                     RingStatus out_of_range, RingStatus misaligned, uint32_t& out) {
    if (!geometry_ok(m))
        return RingStatus::bad_geometry;
    const uint32_t index = shared::load(&(m.control->*field));
    if (const RingStatus s = check_index(index, m.data_size, out_of_range, misaligned); s != RingStatus::ok)
        return s;
    out = index;
    return RingStatus::ok;
}

// Copies at a position of the data area, wrapping at its end. Callers guarantee pos < size and
// n <= size, so both halves stay inside the data area whatever the peer wrote.
void copy_from_ring(const RingMemory& m, uint32_t pos, uint8_t* dst, uint32_t n) {
    const uint32_t first = n < m.data_size - pos ? n : m.data_size - pos;
    shared::copy_out(dst, m.data + pos, first);
    shared::copy_out(dst + first, m.data, n - first);
}

[[nodiscard]] uint32_t copy_to_ring(const RingMemory& m, uint32_t pos, const void* src, uint32_t n) {
    const uint32_t first = n < m.data_size - pos ? n : m.data_size - pos;
    const auto* s = static_cast<const uint8_t*>(src);
    shared::copy_in(m.data + pos, s, first);
    shared::copy_in(m.data, s + first, n - first);
    pos += n;
    return pos >= m.data_size ? pos - m.data_size : pos;
}

[[nodiscard]] uint32_t bytes_used(uint32_t write, uint32_t read, uint32_t size) {
    return write >= read ? write - read : size - read + write;
}

} // namespace

const char* to_string(RingStatus s) {
    switch (s) {
    case RingStatus::ok: return "ok";
    case RingStatus::empty: return "empty";
    case RingStatus::full: return "full";
    case RingStatus::bad_geometry: return "bad geometry";
    case RingStatus::bad_packet: return "bad packet";
    case RingStatus::read_index_out_of_range: return "read index out of range";
    case RingStatus::read_index_misaligned: return "read index misaligned";
    case RingStatus::write_index_out_of_range: return "write index out of range";
    case RingStatus::write_index_misaligned: return "write index misaligned";
    case RingStatus::truncated: return "truncated packet";
    case RingStatus::length_too_small: return "length too small";
    case RingStatus::length_exceeds_available: return "length exceeds available";
    case RingStatus::overlaps_write_index: return "packet overlaps write index";
    case RingStatus::offset_outside_packet: return "offset outside packet";
    case RingStatus::too_large_for_buffer: return "too large for buffer";
    }
    return "?";
}

RingStatus RingWriter::init() {
    if (!geometry_ok(m_))
        return RingStatus::bad_geometry;
    __builtin_memset(m_.control, 0, sizeof(RingControl));
    shared::store(&m_.control->feature_bits, feat_pending_send_sz);
    write_ = 0;
    ready_ = true;
    return RingStatus::ok;
}

RingStatus RingWriter::attach() {
    const RingStatus s = adopt_index(m_, &RingControl::write_index, RingStatus::write_index_out_of_range,
                                     RingStatus::write_index_misaligned, write_);
    ready_ = s == RingStatus::ok;
    return s;
}

WriteResult RingWriter::write(const OutPacket& p, const Span* parts, uint32_t count) {
    if (!ready_)
        return {RingStatus::bad_geometry, false};
    uint64_t payload = 0;
    for (uint32_t i = 0; i < count; i++)
        payload += parts[i].size;
    const uint64_t length = (sizeof(PacketDescriptor) + payload + 7) & ~uint64_t{7};
    // A packet must fit len8 (16 bits) and, with its trailer, an empty ring less its one-slot gap.
    if (length > 0xffffull * 8 || length + trailer_size >= m_.data_size)
        return {RingStatus::bad_packet, false};
    if (p.offset8 < sizeof(PacketDescriptor) / 8 || p.offset8 * 8ull > length)
        return {RingStatus::bad_packet, false};
    const auto len = static_cast<uint32_t>(length);

    // Acquire pairs with the reader's release of its index: its copies out of the space we are
    // about to reuse are complete.
    const uint32_t read = shared::load_acquire(&m_.control->read_index);
    if (const RingStatus s = check_read_index(read, m_.data_size); s != RingStatus::ok)
        return {s, false};
    // Filling the ring exactly would make write == read, which reads as empty: Linux refuses a
    // packet that leaves no gap, and so do we.
    if (bytes_free(write_, read, m_.data_size) <= len + trailer_size)
        return {RingStatus::full, false};

    const uint32_t old_write = write_;
    const PacketDescriptor d{p.type, p.offset8, static_cast<uint16_t>(len / 8), p.flags, p.trans_id};
    uint32_t pos = copy_to_ring(m_, old_write, &d, sizeof d);
    for (uint32_t i = 0; i < count; i++)
        pos = copy_to_ring(m_, pos, parts[i].data, parts[i].size);
    static constexpr uint8_t zeros[8] = {};
    pos = copy_to_ring(m_, pos, zeros, static_cast<uint32_t>(length - sizeof d - payload));
    const uint64_t trailer = uint64_t{old_write} << 32;
    pos = copy_to_ring(m_, pos, &trailer, sizeof trailer);

    // The packet's bytes are visible before the index that publishes them (release), and the
    // index before our look at the reader's mask and index (full fence): otherwise the reader
    // could go idle on an empty ring while we decide it is busy, and nobody signals.
    write_ = pos;
    shared::store_release(&m_.control->write_index, pos);
    shared::full_fence();
    if (shared::load(&m_.control->interrupt_mask) != 0)
        return {RingStatus::ok, false};
    // Signal only on the empty-to-non-empty transition: a reader with data pending is awake.
    return {RingStatus::ok, shared::load_acquire(&m_.control->read_index) == old_write};
}

RingStatus RingReader::attach() {
    const RingStatus s = adopt_index(m_, &RingControl::read_index, RingStatus::read_index_out_of_range,
                                     RingStatus::read_index_misaligned, read_);
    published_ = read_;
    peeked_ = 0;
    ready_ = s == RingStatus::ok;
    return s;
}

RingStatus RingReader::peek(uint8_t* buffer, uint32_t capacity, Packet& out) {
    peeked_ = 0;
    if (!ready_)
        return RingStatus::bad_geometry;
    // Acquire pairs with the writer's release: the packet's bytes are there before we copy them.
    const uint32_t w = shared::load_acquire(&m_.control->write_index);
    if (const RingStatus s = check_write_index(w, m_.data_size); s != RingStatus::ok)
        return s;
    const uint32_t avail = bytes_used(w, read_, m_.data_size);
    if (avail == 0)
        return RingStatus::empty;
    if (avail < sizeof(PacketDescriptor) + trailer_size)
        return RingStatus::truncated;

    PacketDescriptor d;
    copy_from_ring(m_, read_, reinterpret_cast<uint8_t*>(&d), sizeof d);
    const uint32_t len = uint32_t{d.len8} * 8;
    const uint32_t offset = uint32_t{d.offset8} * 8;
    if (len < sizeof d)
        return RingStatus::length_too_small;
    if (len > avail)
        return RingStatus::length_exceeds_available;
    if (len + trailer_size > avail)
        return RingStatus::overlaps_write_index;
    if (offset < sizeof d || offset > len)
        return RingStatus::offset_outside_packet;
    if (len > capacity)
        return RingStatus::too_large_for_buffer;

    copy_from_ring(m_, read_, buffer, len);
    // The peer may have rewritten the descriptor between the two copies: the copy carries the
    // descriptor that was checked, so whoever parses the buffer sees consistent lengths.
    __builtin_memcpy(buffer, &d, sizeof d);
    out = Packet{d.type, d.flags, d.trans_id, len, offset, buffer + offset, len - offset};
    peeked_ = len + trailer_size;
    return RingStatus::ok;
}

void RingReader::skip() {
    read_ += peeked_;
    if (read_ >= m_.data_size)
        read_ -= m_.data_size;
    peeked_ = 0;
}

RingStatus RingReader::read(uint8_t* buffer, uint32_t capacity, Packet& out) {
    const RingStatus s = peek(buffer, capacity, out);
    if (s == RingStatus::ok)
        skip();
    return s;
}

uint32_t RingReader::available() const {
    if (!ready_)
        return 0;
    const uint32_t w = shared::load(&m_.control->write_index);
    return check_write_index(w, m_.data_size) == RingStatus::ok ? bytes_used(w, read_, m_.data_size) : 0;
}

bool RingReader::commit() {
    if (!ready_)
        return false;
    const uint32_t start = published_;
    // Release: our copies out of the freed space are done before the writer may reuse it.
    shared::store_release(&m_.control->read_index, read_);
    published_ = read_;
    if ((shared::load(&m_.control->feature_bits) & feat_pending_send_sz) == 0)
        return false;
    // The new read index is visible before we read pending_send_sz: a writer that blocks after
    // our read of it sees the space we freed, so a missed signal cannot stall it.
    shared::full_fence();
    const uint32_t pending = shared::load_acquire(&m_.control->pending_send_sz);
    if (pending == 0)
        return false;
    const uint32_t w = shared::load(&m_.control->write_index);
    if (check_write_index(w, m_.data_size) != RingStatus::ok)
        return false;   // the next peek reports it
    const uint32_t now_free = bytes_free(w, read_, m_.data_size);
    const uint32_t freed = bytes_used(read_, start, m_.data_size);
    // Signal on the transition only: not enough space before this commit (an exact fit counts
    // as not enough, the one-slot gap), enough after it. Unsigned: a lying writer only ever
    // makes the first test true, which means no signal.
    if (now_free - freed > pending)
        return false;
    return now_free > pending;
}

bool RingReader::unmask_interrupts() {
    shared::store(&m_.control->interrupt_mask, 0);
    // The cleared mask is visible before we look for data: a writer that still saw the mask
    // did not signal, so what it wrote must be found here.
    shared::full_fence();
    return shared::load_acquire(&m_.control->write_index) != read_;
}

} // namespace vmbus
