#include "partitions/root/vmbus_console.hpp"

#include "partitions/rt/rt.hpp"

namespace root {

namespace proto = root_abi::vmbus_console;

void VmbusConsole::init(const char* name, uint32_t slot) {
    *this = VmbusConsole{};
    name_ = name;
    vmbus::Guid cls{}, inst{};
    __builtin_memcpy(cls.bytes, proto::class_id, 16);
    __builtin_memcpy(inst.bytes, proto::instance_id, 16);
    inst.bytes[15] = static_cast<uint8_t>(slot);
    provider_ = vmbus::DeviceProvider{cls, inst, "vmbus-console", this, on_open, on_close, on_signal};
}

bool VmbusConsole::on_open(void* self, vmbus::ServerChannel&) {
    auto* c = static_cast<VmbusConsole*>(self);
    c->len_ = 0;
    c->more_ = false;
    return true;
}

void VmbusConsole::on_close(void* self, vmbus::ServerChannel&) {
    auto* c = static_cast<VmbusConsole*>(self);
    c->line_[c->len_] = 0;
    if (c->len_ != 0)   // what the child wrote without a newline is still its line
        rt::log("%s: vmbus-console: %s\n", c->name_, c->line_);
    c->len_ = 0;
    c->more_ = false;
}

void VmbusConsole::end_line(vmbus::ServerChannel& ch) {
    line_[len_] = 0;
    rt::log("%s: vmbus-console: %s\n", name_, line_);
    lines_++;
    char out[sizeof(proto::Header) + sizeof proto::echo_prefix + proto::max_line + 1];
    uint32_t n = sizeof(proto::Header);
    __builtin_memcpy(out + n, proto::echo_prefix, sizeof proto::echo_prefix - 1);
    n += sizeof proto::echo_prefix - 1;
    __builtin_memcpy(out + n, line_, len_);
    n += len_;
    out[n++] = '\n';
    len_ = 0;
    const proto::Header h{static_cast<uint32_t>(n - sizeof h), 0};
    __builtin_memcpy(out, &h, sizeof h);
    // A child that leaves its inbound ring full loses echoes, never stalls the root.
    if (ch.send(vmbus::OutPacket{vmbus::packet_type::data_inband, 0, ++trans_}, out, n) != vmbus::RingStatus::ok &&
        dropped_++ < 4)
        rt::log("root: child %s: vmbus-console: echo dropped (inbound ring full)\n", name_);
}

void VmbusConsole::take(vmbus::ServerChannel& ch, const uint8_t* bytes, uint32_t size) {
    for (uint32_t i = 0; i < size; i++) {
        uint8_t b = bytes[i];
        if (b == '\n') {
            end_line(ch);
            continue;
        }
        if (b == '\r')
            continue;
        line_[len_++] = b >= 0x20 && b < 0x7f ? static_cast<char>(b) : '.';
        if (len_ == proto::max_line)
            end_line(ch);
    }
}

void VmbusConsole::packet(vmbus::ServerChannel& ch, const vmbus::Packet& p) {
    proto::Header h{};
    if (p.type == vmbus::packet_type::data_inband && p.data_size >= sizeof h)
        __builtin_memcpy(&h, p.data, sizeof h);
    if (p.type != vmbus::packet_type::data_inband || p.data_size < sizeof h || h.size > p.data_size - sizeof h) {
        if (bad_packets_++ < 4)
            rt::log("root: child %s: vmbus-console: packet dropped (type %u, %u bytes)\n", name_, p.type, p.data_size);
        return;
    }
    take(ch, p.data + sizeof h, h.size);
}

bool VmbusConsole::on_signal(void* self, vmbus::ServerChannel& ch) {
    auto* c = static_cast<VmbusConsole*>(self);
    alignas(8) uint8_t buffer[512];
    vmbus::Packet p{};
    vmbus::RingStatus s;
    c->more_ = false;
    // Packets are copied out of the ring before they are looked at (ring.hpp); a packet larger
    // than the buffer is the child's protocol error and closes the channel. A child writing as
    // fast as the root reads gets `budget` packets now and the rest on the next poll.
    for (uint32_t budget = 256; budget != 0; budget--) {
        s = ch.receive(buffer, sizeof buffer, p);
        if (s == vmbus::RingStatus::ok) {
            c->packet(ch, p);
            continue;
        }
        if (s != vmbus::RingStatus::empty)
            return !vmbus::is_protocol_error(s);
        // The child decides to signal by comparing with the published read index: a packet it
        // wrote after our last read but before this commit saw a non-empty ring and did not
        // signal (Linux's hv_signal_on_write). So after publishing, look once more.
        ch.done_receiving();
        s = ch.receive(buffer, sizeof buffer, p);
        if (s != vmbus::RingStatus::ok)
            return !vmbus::is_protocol_error(s);
        c->packet(ch, p);
    }
    ch.done_receiving();
    c->more_ = true;
    return true;
}

} // namespace root
