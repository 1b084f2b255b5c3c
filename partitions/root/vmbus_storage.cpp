#include "partitions/root/vmbus_storage.hpp"

#include "hv/lib/new.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

namespace st = vmbus::storvsc;

// Instance GUID of our disk offers (generated for this project), the last byte the child's slot:
// 5f0c8e27-93b1-4d6a-a2f4-1e7b6c9d3800.
constexpr uint8_t instance_base[16] = {0x27, 0x8e, 0x0c, 0x5f, 0xb1, 0x93, 0x6a, 0x4d,
                                       0xa2, 0xf4, 0x1e, 0x7b, 0x6c, 0x9d, 0x38, 0x00};

// One receive buffer for every child's disk: VMBus is served on the bootstrap processor only.
alignas(8) uint8_t rx[st::storvsc_limits::max_packet_size + 64];

// The child's RAM is one run at GPA 0 in the root's memory (child.hpp).
bool owns(void* ctx, uint64_t pfn) { return pfn < static_cast<Child*>(ctx)->ram_pages; }
uint8_t* map_page(void* ctx, uint64_t pfn) {
    Child& c = *static_cast<Child*>(ctx);
    return pfn < c.ram_pages ? c.at(pfn * 4096) : nullptr;
}

} // namespace

void VmbusStorage::init(Child& child, uint32_t slot, uint8_t* disk, uint64_t bytes) {
    child_ = &child;
    image_ = st::MemoryDisk{disk, bytes};
    held_ = st::Reply{};
    refusals_seen_ = 0;
    completions_ = held_back_ = 0;
    logged_ = 0;
    more_ = false;
    st::TargetConfig config{};
    config.serial = child.config.name;
    new (target_) st::StorageTarget(st::memory_backend(&image_),
                                    st::GuestMemory{vmbus::Platform{&child, owns}, &child, map_page, nullptr}, config);
    vmbus::Guid inst{};
    __builtin_memcpy(inst.bytes, instance_base, 16);
    inst.bytes[15] = static_cast<uint8_t>(slot);
    provider_ = vmbus::DeviceProvider{st::class_id, inst, "storvsc", this, on_open, on_close, on_signal};
    rt::log("root: child %s: disk of %lu KiB (%lu sectors)\n", child.config.name, bytes >> 10, bytes / 512);
}

bool VmbusStorage::on_open(void* self, vmbus::ServerChannel&) {
    auto* s = static_cast<VmbusStorage*>(self);
    s->target().reset();
    s->held_ = st::Reply{};
    s->more_ = false;
    return true;
}

void VmbusStorage::on_close(void* self, vmbus::ServerChannel&) {
    auto* s = static_cast<VmbusStorage*>(self);
    st::StorageTarget& t = s->target();
    rt::log("root: child %s: disk: closed after %lu requests, %lu KiB read, %lu KiB written; %lu completions sent, "
            "%lu sends waited for room%s\n",
            s->child_->config.name, t.requests(), t.bytes_read() >> 10, t.bytes_written() >> 10, s->completions_,
            s->held_back_, s->held_.send ? ", one still held" : "");
    s->more_ = false;
}

void VmbusStorage::report_refusals() {
    refusals_seen_ = target().log().each_since(refusals_seen_, [this](const st::RefusalEntry& e) {
        if (logged_++ < 16)
            rt::log("root: child %s: disk: refused %s (operation %u, opcode 0x%x, value 0x%x)\n", child_->config.name,
                    st::to_string(e.refusal), e.operation, e.opcode, e.value);
    });
}

// Sends the held completion; false while the child's inbound ring has no room for it. The child
// waits for every completion (Linux's storvsc has no timeout short of a reset), so it is kept,
// never dropped, and nothing more is read until it is out.
bool VmbusStorage::flush_reply(vmbus::ServerChannel& ch) {
    if (!held_.send)
        return true;
    vmbus::RingStatus r = ch.send(st::completion_header(held_), &held_.packet, sizeof held_.packet);
    if (r != vmbus::RingStatus::ok) {
        // Full is the child's to clear by reading; anything else leaves the completion held until
        // the channel closes, which the child would wait on for ever: say so.
        if (r != vmbus::RingStatus::full && logged_++ < 16)
            rt::log("root: child %s: disk: a completion could not be sent: %s\n", child_->config.name,
                    vmbus::to_string(r));
        held_back_ += r == vmbus::RingStatus::full;
        return false;
    }
    held_.send = false;
    completions_++;
    return true;
}

bool VmbusStorage::on_signal(void* self, vmbus::ServerChannel& ch) {
    auto* s = static_cast<VmbusStorage*>(self);
    s->more_ = false;
    vmbus::Packet p{};
    bool ok = true;
    // A bounded batch per poll (each request may move up to 256 KiB), the rest at the next.
    for (uint32_t budget = 64; budget != 0 && ok; budget--) {
        if (!s->flush_reply(ch)) {
            s->more_ = true;
            break;
        }
        vmbus::RingStatus r = ch.receive(rx, sizeof rx, p);
        if (r == vmbus::RingStatus::empty) {
            // The re-check after publishing the read index (vmbus_console.cpp explains it).
            ch.done_receiving();
            r = ch.receive(rx, sizeof rx, p);
            if (r == vmbus::RingStatus::empty)
                break;
        }
        if (r != vmbus::RingStatus::ok) {
            ok = !vmbus::is_protocol_error(r);
            break;
        }
        s->target().handle(p, s->held_);
        if (budget == 1)
            s->more_ = true;
    }
    if (ok && !s->flush_reply(ch))
        s->more_ = true;
    ch.done_receiving();
    if (s->target().log().total() != s->refusals_seen_)
        s->report_refusals();
    return ok;
}

} // namespace root
