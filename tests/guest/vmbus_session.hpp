// A child's VMBus session for the guest suites (child-vmbus, child-ring-stress, child-storage):
// the hypercall interface, the SynIC's message and event pages with SINT 2, and one portable
// client (vmbus/client.hpp) fed from them, as Linux's hv_vmbus is (HYPERV-FACTS "VMBus").
// Messages and flags are taken on VP 0 by polling (pump); channels may be written from any VP
// (a signal is a fast HvSignalEvent, safe on every VP).
#pragma once
#include <stdint.h>

#include "hypercalls/abi/tlfs.hpp"
#include "partitions/abi/root_handoff.hpp"
#include "tests/guest/vectors.hpp"
#include "vmbus/client.hpp"

namespace vmbus_session {

inline constexpr uint64_t wait_ms = 3000;

// tests/guest/vectors' gates and the x2APIC enabled (whatever the rest does), then the hypercall
// interface on VP 0, the SIMP and SIEFP, SINT 2 at `vector` and the SynIC; false when any of
// that was refused. Interrupts stay off: the suite says when with vectors::sti().
[[nodiscard]] bool init(const root_abi::RootHandoff& h, uint8_t vector);
vmbus::VmbusClient& client();

// Sees each message the root posts to SINT 2 before the client does (payload, size); true keeps
// it from the client (a suite's own raw requests).
void set_message_hook(bool (*hook)(const uint8_t* bytes, uint32_t size));
[[nodiscard]] uint32_t messages_seen();
void reset_messages_seen();
// The status of the last HvPostMessage; how many channel signals (HvSignalEvent) were made.
[[nodiscard]] tlfs::Status last_post();
[[nodiscard]] uint64_t signals_sent();
// HvPostMessage of a raw channel message on `connection`.
[[nodiscard]] bool post(uint32_t connection, const void* message, uint32_t size);

// The SIEFP's 2048 event flags of `sint` (TLFS 11.9.3), as 32 words.
[[nodiscard]] volatile uint64_t* event_flags(uint32_t sint);

// Takes SINT 2's message and event flags into the client, once; whether there was any.
bool pump_once();

// Halts VP 0 until an interrupt (a SINT 2 message or event, or a wake-up timer at most
// idle_wake_ms later and never after `end`, in reference time) when nothing is pending, as an
// idle Linux guest does. Spinning instead would read the reference counter, an exit each time, for
// as long as the wait lasts. Spins (returns at once) while interrupts are off or the wake-up
// timer is not available. The wake-up is VP 0's x2APIC timer (one-shot, vector 0x5f): a suite
// on this session leaves that timer to it.
void idle(uint64_t end);
// How many times idle() halted VP 0 so far.
[[nodiscard]] uint64_t idle_halts();
inline constexpr uint64_t idle_after_ms = 20;  // of quiet before halting (requests and benches stay polled)
inline constexpr uint64_t idle_wake_ms = 10;  // a condition no interrupt announces waits at most this
template <class F> bool pump_until(F done, uint64_t ms = wait_ms) {
    uint64_t now = vectors::ref_now(), end = now + ms * 10'000, busy = now;
    for (; now < end; now = vectors::ref_now()) {
        if (pump_once())
            busy = now;
        if (done())
            return true;
        if (now - busy >= idle_after_ms * 10'000)
            idle(end);
    }
    return done();
}
void pump_for(uint64_t ms);

// Contact (the newest version Linux offers) and all offers delivered.
[[nodiscard]] bool connect();
// The first offer of `class_id` opened over fresh, contiguous ring pages (send_pages outbound,
// recv_pages inbound) with target_vp; null when anything was refused. `ring` gets the pages'
// address (the outbound ring's control page first) when asked for.
[[nodiscard]] vmbus::ClientChannel* open_device(const uint8_t (&class_id)[16], uint32_t send_pages,
                                                 uint32_t recv_pages, uint32_t target_vp = 0,
                                                 uint8_t** ring = nullptr);

} // namespace vmbus_session
