#include "partitions/root/vmbus_ic.hpp"

#include "partitions/root/scheduler.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

namespace ic = vmbus::ic;

constexpr uint64_t beat_ms = 1000, answer_ms = 5000, halt_ms = 10000;
// Instance GUIDs of our utility offers (generated for this project), the last byte replaced by
// the child's slot: 3d2f6a81-5c0e-4b7a-9e13-7f0c2b5d4a00 (heartbeat) and ...-4a01 (shutdown).
constexpr uint8_t instance_base[16] = {0x81, 0x6a, 0x2f, 0x3d, 0x0e, 0x5c, 0x7a, 0x4b,
                                       0x9e, 0x13, 0x7f, 0x0c, 0x2b, 0x5d, 0x4a, 0x00};

uint64_t ms_to_tsc(uint64_t ms) { return ms * rt::tsc_khz(); }

// A request is at most header + ShutdownBody (2,088 bytes): one buffer for every child's channel,
// which the root serves on its bootstrap processor only (vmbus_host.hpp).
alignas(8) uint8_t out[ic::max_request_size];
alignas(8) uint8_t rx[ic::max_request_size + 64];

} // namespace

void VmbusUtility::init(Child& child, uint32_t slot, ic::Kind kind) {
    *this = VmbusUtility{};
    child_ = &child;
    host_ = ic::IcHost(kind);
    vmbus::Guid inst{};
    __builtin_memcpy(inst.bytes, instance_base, 16);
    inst.bytes[14] = kind == ic::Kind::heartbeat ? 0x4a : 0x4b;
    inst.bytes[15] = static_cast<uint8_t>(slot);
    provider_ = vmbus::DeviceProvider{kind == ic::Kind::heartbeat ? ic::heartbeat_class : ic::shutdown_class,
                                      inst,
                                      kind == ic::Kind::heartbeat ? "heartbeat" : "shutdown",
                                      this,
                                      on_open,
                                      on_close,
                                      on_signal};
    if (kind == ic::Kind::shutdown && child.config.shutdown_s)
        shutdown_at_ = rt::rdtsc() + ms_to_tsc(uint64_t{child.config.shutdown_s} * 1000);
    next_ = shutdown_at_;
}

const char* VmbusUtility::what() const { return host_.kind() == ic::Kind::heartbeat ? "heartbeat" : "shutdown"; }

bool VmbusUtility::due() {
    uint64_t now = rt::rdtsc();
    if (now >= halt_by_) {
        halt_by_ = ~0ull;
        rt::log("root: child %s: shutdown: accepted %lu s ago but still running; ending it\n", child_->config.name,
                halt_ms / 1000);
        end_child(*child_, EndReason::killed, 0);
        return false;
    }
    if (!open_) {
        if (now >= shutdown_at_ && !shutdown_sent_ && !late_noted_) {
            late_noted_ = true;   // asked as soon as it opens one (timers())
            rt::log("root: child %s: shutdown=%u reached before the child opened its shutdown channel; it is "
                    "asked once it does\n",
                    child_->config.name, child_->config.shutdown_s);
        }
        return false;
    }
    uint64_t at = next_ < answer_by_ ? next_ : answer_by_;
    return at != ~0ull && now >= at;
}

void VmbusUtility::send(vmbus::ServerChannel& ch, const ic::Request& r, uint64_t now) {
    if (r.size == 0)
        return;
    // A child whose inbound ring is full misses this request; the answer timeout counts it.
    if (ch.send(r.packet, out, r.size) != vmbus::RingStatus::ok && logged_++ < 8)
        rt::log("root: child %s: %s: request dropped (inbound ring full)\n", child_->config.name, what());
    answer_by_ = now + ms_to_tsc(answer_ms);
}

bool VmbusUtility::on_open(void* self, vmbus::ServerChannel& ch) {
    auto* u = static_cast<VmbusUtility*>(self);
    u->host_.reset();
    u->open_ = true;
    uint64_t now = rt::rdtsc();
    // The host speaks first (Linux's hv_utils waits for the negotiate request).
    u->send(ch, u->host_.build_negotiate(out, sizeof out), now);
    return true;
}

void VmbusUtility::on_close(void* self, vmbus::ServerChannel&) {
    auto* u = static_cast<VmbusUtility*>(self);
    u->open_ = false;
    u->answer_by_ = ~0ull;
    if (u->host_.kind() == ic::Kind::heartbeat)
        rt::log("root: child %s: heartbeat: closed after %lu beats answered, %lu missed\n", u->child_->config.name,
                u->host_.heartbeats_answered(), u->host_.missed());
    u->next_ = u->shutdown_sent_ ? ~0ull : u->shutdown_at_;
}

void VmbusUtility::report_faults() {
    faults_seen_ = host_.log().each_since(faults_seen_, [this](const ic::IcLogEntry& e) {
        if (logged_++ < 8)
            rt::log("root: child %s: %s: refused %s (type %u, value 0x%x)\n", child_->config.name, what(),
                    ic::to_string(e.fault), e.message_type, e.value);
    });
}

void VmbusUtility::response(const vmbus::Packet& p) {
    const char* name = child_->config.name;
    switch (host_.on_response(p)) {
    case ic::HostEvent::negotiated:
        answer_by_ = ~0ull;
        rt::log("root: child %s: %s: negotiated framework %u.%u, message %u.%u\n", name, what(),
                host_.framework_version() >> 16, host_.framework_version() & 0xffff, host_.message_version() >> 16,
                host_.message_version() & 0xffff);
        if (host_.kind() == ic::Kind::heartbeat)
            next_ = rt::rdtsc();   // the first beat at once
        break;
    case ic::HostEvent::heartbeat:
        answer_by_ = ~0ull;
        break;
    case ic::HostEvent::no_common_version:
        answer_by_ = ~0ull;
        rt::log("root: child %s: %s: no common version; the channel stays unused\n", name, what());
        break;
    case ic::HostEvent::shutdown_accepted:
        answer_by_ = ~0ull;
        halt_by_ = rt::rdtsc() + ms_to_tsc(halt_ms);
        rt::log("root: child %s: shutdown: accepted\n", name);
        break;
    case ic::HostEvent::shutdown_declined:
        answer_by_ = ~0ull;
        rt::log("root: child %s: shutdown: declined, status 0x%x\n", name, host_.shutdown_status());
        break;
    case ic::HostEvent::refused:
        break;
    }
}

void VmbusUtility::timers(vmbus::ServerChannel& ch, uint64_t now) {
    const char* name = child_->config.name;
    if (now >= answer_by_) {
        answer_by_ = ~0ull;
        if (host_.expire() && logged_++ < 8)
            rt::log("root: child %s: %s: no answer within %lu s\n", name, what(), answer_ms / 1000);
    }
    if (now < next_ || host_.outstanding())
        return;
    if (host_.kind() == ic::Kind::heartbeat) {
        if (host_.state() == ic::IcHost::State::ready) {
            send(ch, host_.build_heartbeat(seq_++, out, sizeof out), now);
            next_ = now + ms_to_tsc(beat_ms);
        } else {
            next_ = ~0ull;
        }
        return;
    }
    if (host_.state() == ic::IcHost::State::ready && !shutdown_sent_) {
        shutdown_sent_ = true;
        next_ = ~0ull;
        rt::log("root: child %s: shutdown: requested (shutdown=%u)\n", name, child_->config.shutdown_s);
        send(ch, host_.build_shutdown(ic::ShutdownRequest{}, out, sizeof out), now);
    }
}

bool VmbusUtility::on_signal(void* self, vmbus::ServerChannel& ch) {
    auto* u = static_cast<VmbusUtility*>(self);
    vmbus::Packet p{};
    for (uint32_t budget = 16; budget != 0; budget--) {
        vmbus::RingStatus s = ch.receive(rx, sizeof rx, p);
        if (s == vmbus::RingStatus::empty) {
            ch.done_receiving();
            if (ch.receive(rx, sizeof rx, p) != vmbus::RingStatus::ok)
                break;   // see vmbus_console.cpp: the re-check after publishing
        } else if (s != vmbus::RingStatus::ok) {
            return !vmbus::is_protocol_error(s);
        }
        u->response(p);
    }
    ch.done_receiving();
    u->timers(ch, rt::rdtsc());
    if (u->host_.log().total() != u->faults_seen_)
        u->report_faults();
    return true;
}

} // namespace root
