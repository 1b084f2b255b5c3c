// libFuzzer target over the VMBus ring (vmbus/ring.hpp). The fuzzer is the peer and owns the
// whole ring: control page fields, data bytes, and rewrites of both between our operations. The
// control page, the data area and every receive buffer are separate allocations of their exact
// size, so ASan stops any access outside them. Two modes, chosen by the first byte:
//   hostile: our reader (and a writer on the same ring) against whatever the fuzzer wrote; a
//            packet the reader returns must be self-consistent and inside the caller's buffer.
//   model:   our writer and reader on a clean ring, checked against a model queue: FIFO order,
//            contents, "full" exactly when Linux's rule says so, at every wrap position.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <memory>

#include "tests/fuzz/vmbus_fuzz_input.hpp"
#include "vmbus/ring.hpp"

using namespace vmbus;

namespace {

using vmbus_fuzz::Input;

struct SharedRing {
    explicit SharedRing(uint32_t size)
        : control(std::make_unique<RingControl>()), data(new uint8_t[size]()), size(size) {}
    RingMemory memory() { return {control.get(), data.get(), size}; }
    std::unique_ptr<RingControl> control;
    std::unique_ptr<uint8_t[]> data;
    uint32_t size;
};

void check_packet(const Packet& p, const uint8_t* buffer, uint32_t capacity) {
    CHECK(p.length >= sizeof(PacketDescriptor) && p.length <= capacity && p.length % 8 == 0);
    CHECK(p.data_offset >= sizeof(PacketDescriptor) && p.data_offset <= p.length);
    CHECK(p.data == buffer + p.data_offset && p.data_size == p.length - p.data_offset);
    PacketDescriptor d;
    memcpy(&d, buffer, sizeof d);
    CHECK(d.len8 * 8u == p.length && d.offset8 * 8u == p.data_offset && d.type == p.type);
}

void hostile(Input& in, uint32_t size) {
    SharedRing ring(size);
    RingControl& c = *ring.control;
    c.write_index = in.u32();
    c.read_index = in.u32();
    c.interrupt_mask = in.u32();
    c.pending_send_sz = in.u32();
    c.feature_bits = in.u32();
    // Small indices are likelier to be valid: half the time fold them into the ring.
    if (in.u8() & 1) {
        c.write_index %= size;
        c.read_index %= size;
    }
    const uint32_t fill = static_cast<uint32_t>(in.n < size ? in.n : size) / 2;
    memcpy(ring.data.get(), in.p, fill);
    in.p += fill;
    in.n -= fill;

    RingReader reader(ring.memory());
    RingWriter writer(ring.memory());
    const bool reader_ok = reader.attach() == RingStatus::ok;
    const bool writer_ok = writer.attach() == RingStatus::ok;
    for (int op = 0; op < 64 && in.n; op++) {
        switch (in.u8() % 9) {
        case 0:
        case 1: {   // read or peek into a buffer of the fuzzer's size
            const uint32_t capacity = in.u16() % 4097;
            std::unique_ptr<uint8_t[]> buffer(new uint8_t[capacity]);
            Packet p{};
            const RingStatus s = op % 2 ? reader.read(buffer.get(), capacity, p)
                                        : reader.peek(buffer.get(), capacity, p);
            CHECK(reader_ok || s == RingStatus::bad_geometry);
            if (s == RingStatus::ok)
                check_packet(p, buffer.get(), capacity);
            break;
        }
        case 2: (void)reader.commit(); break;
        case 3: c.write_index = in.u8() & 1 ? in.u32() : in.u16() % size; break;
        case 4: c.read_index = in.u8() & 1 ? in.u32() : in.u16() % size; break;
        case 5:
            c.pending_send_sz = in.u32();
            c.interrupt_mask = in.u8() & 1;
            c.feature_bits = in.u8();
            break;
        case 6: ring.data[in.u16() % size] = in.u8(); break;
        case 7: {   // our writer on the same ring, against the fuzzer's read index
            const uint32_t len = in.u16() % 4200;
            std::unique_ptr<uint8_t[]> payload(new uint8_t[len]());
            OutPacket out;
            out.offset8 = in.u8() % 8;
            const uint32_t before = writer_ok ? c.write_index : 0;
            const WriteResult r = writer.write(out, payload.get(), len);
            CHECK(writer_ok || r.status == RingStatus::bad_geometry);
            if (r.status != RingStatus::ok)
                CHECK(c.write_index == before || !writer_ok);
            else
                CHECK(c.write_index < size && c.write_index % 8 == 0);
            break;
        }
        case 8: (void)reader.unmask_interrupts(); break;
        }
    }
}

// The model: packets in flight as (trans_id, payload length); a packet's payload is the slice of
// one fixed pattern that starts at its trans_id, so filling and checking it are single copies.
uint8_t pattern[256 + 4096 + 16];

void model(Input& in, uint32_t size) {
    SharedRing ring(size);
    const uint32_t start = in.u16() % size / 8 * 8;
    ring.control->write_index = ring.control->read_index = start;
    RingWriter writer(ring.memory());
    RingReader reader(ring.memory());
    CHECK(writer.attach() == RingStatus::ok && reader.attach() == RingStatus::ok);
    struct InFlight {
        uint64_t id;
        uint32_t len;
    };
    InFlight queue[512];
    uint32_t head = 0, count = 0, used = 0;
    uint64_t next_id = 0;
    auto total = [](uint32_t len) { return 16 + (len + 7) / 8 * 8 + trailer_size; };
    std::unique_ptr<uint8_t[]> buffer(new uint8_t[size]);
    for (int op = 0; op < 256 && in.n; op++) {
        if (in.u8() & 1) {
            const uint32_t len = in.u16() % (size + 16);
            const uint8_t* payload = pattern + next_id % 256;
            const WriteResult r = writer.write(OutPacket{packet_type::data_inband, 0, next_id}, payload, len);
            if (total(len) >= size) {
                CHECK(r.status == RingStatus::bad_packet);
                continue;
            }
            const bool fits = size - used > total(len);
            CHECK(r.status == (fits ? RingStatus::ok : RingStatus::full));
            // Linux's rule: signal exactly when the ring was empty (nothing masks it here).
            CHECK(r.signal == (fits && count == 0));
            if (fits) {
                CHECK(count < 512);
                queue[(head + count++) % 512] = {next_id++, len};
                used += total(len);
            }
        } else {
            Packet p{};
            const RingStatus s = reader.read(buffer.get(), size, p);
            if (count == 0) {
                CHECK(s == RingStatus::empty);
                continue;
            }
            CHECK(s == RingStatus::ok);
            const InFlight f = queue[head];
            head = (head + 1) % 512;
            count--;
            used -= total(f.len);
            CHECK(p.trans_id == f.id && p.data_size == (f.len + 7) / 8 * 8);
            CHECK(memcmp(p.data, pattern + f.id % 256, f.len) == 0);
            (void)reader.commit();
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = static_cast<uint8_t>(i * 31 + 7);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    const uint8_t mode = in.u8();
    // Data areas of 64..4096 bytes: small ones wrap often.
    const uint32_t ring_size = min_data_size + 8 * (in.u16() % ((4096 - min_data_size) / 8 + 1));
    if (mode & 1)
        model(in, ring_size);
    else
        hostile(in, ring_size);
    return 0;
}
