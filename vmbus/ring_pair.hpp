// The two rings of an open channel as one end holds them: it reads the peer's ring and writes its
// own, and signals the peer when a ring rule says so (ring.hpp: a write that made the ring
// non-empty, a commit that freed the space a blocked writer asked for). Shared by the root's
// ServerChannel and the child's ClientChannel; End supplies rings_live() (the channel is open)
// and signal_peer() (how this end signals).
#pragma once
#include <stdint.h>

#include "vmbus/ring.hpp"

namespace vmbus {

template <class End> class RingPair {
public:
    [[nodiscard]] RingReader& reader() { return reader_; }
    [[nodiscard]] RingWriter& writer() { return writer_; }

    // One packet to the peer; bad_geometry unless the channel is open.
    [[nodiscard]] RingStatus send(const OutPacket& p, const Span* parts, uint32_t count) {
        if (!end().rings_live())
            return RingStatus::bad_geometry;
        const WriteResult r = writer_.write(p, parts, count);
        if (r.signal)
            end().signal_peer();
        return r.status;
    }
    [[nodiscard]] RingStatus send(const OutPacket& p, const void* data, uint32_t size) {
        const Span s{data, size};
        return send(p, &s, 1);
    }
    [[nodiscard]] RingStatus receive(uint8_t* buffer, uint32_t capacity, Packet& out) {
        return end().rings_live() ? reader_.read(buffer, capacity, out) : RingStatus::bad_geometry;
    }
    // Publishes what was received; signals a peer that waits for space.
    void done_receiving() {
        if (end().rings_live() && reader_.commit())
            end().signal_peer();
    }

protected:
    void set_rings(RingMemory read, RingMemory write) {
        reader_ = RingReader(read);
        writer_ = RingWriter(write);
    }
    void drop_rings() { set_rings(RingMemory{}, RingMemory{}); }

    RingReader reader_{RingMemory{}};
    RingWriter writer_{RingMemory{}};

private:
    End& end() { return static_cast<End&>(*this); }
};

} // namespace vmbus
