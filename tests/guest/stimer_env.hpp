// What the `stimer` suite's files share: the TLFS layouts (HV_MESSAGE, the timer message
// payload), the config bits, each VP's SIMP and the log of expiry messages SINT2's handler took.
#pragma once
#include "hypercalls/abi/tlfs.hpp"
#include "tests/guest/suite.hpp"
#include "tests/guest/vectors.hpp"

namespace stimer_suite {

namespace msr = tlfs::msr;

// Synthetic timer configuration register (TLFS "Synthetic Timer Configuration Register").
inline constexpr uint64_t enable = 1, periodic = 1 << 1, lazy = 1 << 2, auto_enable = 1 << 3, direct = 1 << 12;
inline constexpr uint64_t sint(uint32_t n) { return uint64_t{n} << 16; }
inline constexpr uint32_t config_msr(uint32_t n) { return msr::stimer0_config + 2 * n; }
inline constexpr uint32_t count_msr(uint32_t n) { return msr::stimer0_config + 2 * n + 1; }

inline constexpr uint32_t msg_timer_expired = 0x80000010;   // HvMessageTimerExpired
inline constexpr uint8_t v_sint2 = 0x50, v_sint3 = 0x51, v_direct = 0x60, v_wake = 0x4f;
inline constexpr uint64_t sint_masked = 1ull << 16, sint_polling = 1ull << 18;
inline constexpr uint64_t units_per_ms = 10'000;   // reference time: 100 ns units

// How late an expiry may be handled: an exit costs 12-18 us under QEMU TCG and about 7.5 us under
// Bochs (HARNESS.md) and a delivery takes a handful, so an idle emulator is well inside 1 ms; the
// rest is margin for a shared 2-core host that deschedules QEMU, whose guest clock follows the
// host's. Earliness is never tolerated: the TLFS guarantees an expiry is never signalled early.
inline constexpr uint64_t late_ms = 50;

struct Slot {   // HV_MESSAGE (TLFS "SynIC Messages"): 256 bytes
    volatile uint32_t type;
    volatile uint8_t size;
    volatile uint8_t flags;   // bit 0: message pending
    uint16_t reserved;
    volatile uint64_t origin;
    volatile uint64_t payload[30];   // timer: {u32 TimerIndex, u32 Reserved}, ExpirationTime, DeliveryTime
};
static_assert(sizeof(Slot) == 256);

// One expiry as SINT2's handler found it, with the reference time at the handler.
struct Msg {
    uint32_t type, size, index, reserved;
    uint64_t expiration, delivery, handler;
};
struct Log {
    volatile uint32_t n;
    Msg at[64];
};
inline Log msgs[vectors::max_vps];
inline uint64_t simp_page[vectors::max_vps];

inline Slot& slot(uint32_t vp, uint32_t n) { return reinterpret_cast<Slot*>(simp_page[vp])[n]; }
inline void clear_slot(uint32_t vp, uint32_t n) { slot(vp, n).type = 0; }
inline uint64_t now() { return vectors::ref_now(); }
inline void reset_log(uint32_t vp) {
    msgs[vp].n = 0;
    vectors::reset(v_sint2, vp);
}

// MSR access that survives a #GP (a missing feature must fail checks, not end the suite).
inline bool write(uint32_t m, uint64_t v) { return rt::probe_wrmsr(m, v).vector < 0; }
inline uint64_t read(uint32_t m) {
    auto p = rt::probe_rdmsr(m);
    return p.vector < 0 ? p.value : ~0ull;
}

// SynIC on for the calling VP: its SIMP, SINT2 raising v_sint2, SINT3 polling.
void synic_on(uint32_t vp);
// SINT2's handler: takes the message from the calling VP's slot into its log, frees the slot and
// writes EOM when another message is pending (TLFS "Message Buffers").
void consume_sint2(vectors::Event& e);

inline constexpr unsigned cross_vp_check_count = 2;
void cross_vp_checks(suite::Reporter& r, const root_abi::RootHandoff& h);

} // namespace stimer_suite
