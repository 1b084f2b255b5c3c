#include "partitions/root/vmbus_testdev.hpp"

#include "partitions/root/vmbus_host.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

namespace proto = root_abi::vmbus_testdev;

// The largest packet the benchmarks send is 64 KiB of payload; one buffer serves every child's
// device, since the root serves VMBus on its bootstrap processor only (vmbus_host.hpp).
constexpr uint32_t max_packet = 64 * 1024 + 256;
// How long a channel stays in poll mode (masked, read at every root loop) after its last packet.
constexpr uint64_t quiet_us = 100;
alignas(8) uint8_t rx[max_packet];

} // namespace

void VmbusTestDevice::init(const char* name, uint32_t slot) {
    *this = VmbusTestDevice{};
    name_ = name;
    vmbus::Guid cls{}, inst{};
    __builtin_memcpy(cls.bytes, proto::class_id, 16);
    __builtin_memcpy(inst.bytes, proto::instance_id, 16);
    inst.bytes[15] = static_cast<uint8_t>(slot);
    provider_ = vmbus::DeviceProvider{cls, inst, "vmbus-test", this, on_open, on_close, on_signal};
}

void VmbusTestDevice::reset_counters() { stats_ = proto::Stats{}; }

bool VmbusTestDevice::on_open(void* self, vmbus::ServerChannel&) {
    auto* d = static_cast<VmbusTestDevice*>(self);
    d->last_packet_ = 0;
    d->reset_counters();
    d->more_ = false;
    return true;
}

void VmbusTestDevice::on_close(void* self, vmbus::ServerChannel&) {
    auto* d = static_cast<VmbusTestDevice*>(self);
    rt::log("root: child %s: vmbus-test: closed after %lu packets, %lu KiB\n", d->name_, d->total_packets_,
            d->total_bytes_ >> 10);
    d->more_ = false;
}

void VmbusTestDevice::packet(vmbus::ServerChannel& ch, const vmbus::Packet& p) {
    proto::Header h{};
    if (p.type != vmbus::packet_type::data_inband || p.data_size < sizeof h) {
        stats_.bad++;
        return;
    }
    __builtin_memcpy(&h, p.data, sizeof h);
    stats_.packets++;
    stats_.bytes += p.data_size;
    total_packets_++;
    total_bytes_ += p.data_size;
    switch (h.op) {
    case proto::Op::sink:
        if (h.producer < proto::max_producers && h.seq == stats_.next_seq[h.producer])
            stats_.next_seq[h.producer]++;
        else
            stats_.out_of_order++;
        return;
    case proto::Op::request: {
        // A child that leaves no room for the answer loses it (counted), never stalls the root.
        if (ch.send(vmbus::OutPacket{vmbus::packet_type::completion, 0, p.trans_id}, &h, sizeof h) !=
            vmbus::RingStatus::ok)
            refused_replies_++;
        return;
    }
    case proto::Op::stats: {
        stats_.packets--;   // the stats request is not traffic
        stats_.bytes -= p.data_size;
        const vmbus::Span parts[] = {{&h, sizeof h}, {&stats_, sizeof stats_}};
        if (ch.send(vmbus::OutPacket{vmbus::packet_type::completion, 0, p.trans_id}, parts, 2) !=
            vmbus::RingStatus::ok)
            refused_replies_++;
        reset_counters();
        return;
    }
    }
    stats_.bad++;
}

bool VmbusTestDevice::on_signal(void* self, vmbus::ServerChannel& ch) {
    auto* d = static_cast<VmbusTestDevice*>(self);
    vmbus::Packet p{};
    vmbus::RingStatus s;
    if (!d->more_)
        d->stats_.signals++;
    d->more_ = false;
    // Poll mode, as a busy network or storage host runs its rings: while packets keep coming
    // the ring stays masked (ring.hpp: interrupt_mask), so the child writes without a signal
    // each, and the root reads it at every pass of its loop (more(); it does not halt meanwhile,
    // vmbus_host::poll). After quiet_us without a packet it unmasks, looks once more for a
    // packet written while masked, and waits for signals again.
    ch.reader().mask_interrupts();
    uint32_t taken = 0;
    // As the console drains (vmbus_console.cpp): a bounded batch per poll, and one more look
    // after publishing the read index, for the packet a writer added without signalling.
    uint32_t unpublished = 0;
    for (uint32_t budget = 1024; budget != 0; budget--, taken++) {
        s = ch.receive(rx, sizeof rx, p);
        if (s == vmbus::RingStatus::ok) {
            d->packet(ch, p);
            // Publish the read index every 32 KiB, not only when the ring is empty: the child
            // refills what was read while the rest is drained (a writer that waits for the
            // whole ring to empty halves the throughput).
            if ((unpublished += p.length) >= 32 * 1024) {
                ch.done_receiving();
                unpublished = 0;
            }
            continue;
        }
        if (s != vmbus::RingStatus::empty)
            return !vmbus::is_protocol_error(s);
        ch.done_receiving();
        uint64_t now = rt::rdtsc();
        if (taken != 0)
            d->last_packet_ = now;
        if (vmbus_host::poll_mode_allowed() && now - d->last_packet_ < quiet_us * rt::tsc_khz() / 1000) {
            d->more_ = true;   // still masked: read again at the root's next pass
            return true;
        }
        if (!ch.reader().unmask_interrupts())
            return true;
        s = ch.receive(rx, sizeof rx, p);
        if (s != vmbus::RingStatus::ok)
            return !vmbus::is_protocol_error(s);
        d->packet(ch, p);
        d->last_packet_ = rt::rdtsc();
    }
    ch.done_receiving();
    d->more_ = true;
    return true;
}

} // namespace root
