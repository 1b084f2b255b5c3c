// The synthetic interrupt controller (TLFS ch. 11, "Inter-partition communication"): per-VP SynIC
// MSRs, ports and connections, HvPostMessage, HvSignalEvent and the message queues behind busy
// SIMP slots. The register decoding and the queue are pure (host unit tests,
// tests/unit/synic_test.cpp); the glue that touches partitions and VPs is in synic.cpp.
//
// - SCONTROL bit 0 enables the SynIC of a VP; SIEFP/SIMP bit 0 enable their pages, 63:12 the GPA.
//   A page the partition cannot write refuses the WRMSR with #GP. The pages are the guest's own
//   (no overlay): the hypervisor writes slots and flags into them while they are enabled.
// - SINTx: vector 7:0 (16-255 unless masked), masked 16, auto-EOI 17, polling 18; anything else is #GP. A
//   polling SINT is unmasked but raises no interrupt (TLFS 5.0c). Auto-EOI is kept and reads
//   back but changes nothing: the guest EOIs its APIC as for any interrupt.
// - A message goes into the SINT's slot when it is empty (type 0); otherwise it waits in a
//   bounded queue and the slot's message-pending flag is set; EOM delivers the next one.
#pragma once
#include <stdint.h>

#include "hypercalls/abi/partition.hpp"

namespace hv {
struct Vp;
struct Partition;
} // namespace hv

namespace hv::virt {

inline constexpr uint32_t sint_count = 16;
inline constexpr uint32_t synic_version = 1;          // SVERSION (TLFS 11.8.2)
inline constexpr uint32_t event_flags_per_sint = 2048; // a 256-byte bitmap per SINT in the SIEF page
inline constexpr uint32_t max_ports = 256, max_connections = 256;
inline constexpr uint32_t messages_queued_per_sint = 8;
inline constexpr uint32_t message_pool_size = 128;    // queued messages, all partitions together

namespace sint_reg {
inline constexpr uint64_t vector_mask = 0xff;
inline constexpr uint64_t masked = 1ull << 16, auto_eoi = 1ull << 17, polling = 1ull << 18;
inline constexpr uint64_t valid = vector_mask | masked | auto_eoi | polling;
inline constexpr uint64_t reset = masked;             // every SINT starts masked (TLFS 11.8.4)
} // namespace sint_reg

namespace page_reg {
inline constexpr uint64_t enable = 1;
inline constexpr uint64_t reserved = 0xffe;
inline constexpr uint64_t gpa_mask = ~0xfffull;
} // namespace page_reg

// A SINT register write: reserved bits, or an unmasked vector below 16 (the exceptions), refuse
// with #GP. A masked SINT may hold any vector: its reset value (masked, vector 0) must read back
// and write back unchanged (a save/restore, a read-modify-write of the mask).
[[nodiscard]] constexpr bool sint_valid(uint64_t v) {
    return !(v & ~sint_reg::valid) && ((v & sint_reg::masked) || (v & sint_reg::vector_mask) >= 16);
}
[[nodiscard]] constexpr uint8_t sint_vector(uint64_t v) { return static_cast<uint8_t>(v & sint_reg::vector_mask); }
// Whether delivering into this SINT raises its vector: not masked, not polling.
[[nodiscard]] constexpr bool sint_interrupts(uint64_t v) { return !(v & (sint_reg::masked | sint_reg::polling)); }

[[nodiscard]] constexpr bool page_reg_valid(uint64_t v) { return !(v & page_reg::reserved); }

// One VP's SynIC registers.
struct SynicVp {
    uint64_t scontrol = 0;
    uint64_t siefp = 0;
    uint64_t simp = 0;
    uint64_t sint[sint_count] = {sint_reg::reset, sint_reg::reset, sint_reg::reset, sint_reg::reset,
                                 sint_reg::reset, sint_reg::reset, sint_reg::reset, sint_reg::reset,
                                 sint_reg::reset, sint_reg::reset, sint_reg::reset, sint_reg::reset,
                                 sint_reg::reset, sint_reg::reset, sint_reg::reset, sint_reg::reset};
    uint16_t queued = 0;   // bit per SINT: messages wait in the pool for this slot

    [[nodiscard]] bool enabled() const { return scontrol & 1; }
    [[nodiscard]] bool simp_on() const { return enabled() && (simp & page_reg::enable); }
    [[nodiscard]] bool siefp_on() const { return enabled() && (siefp & page_reg::enable); }
};

// Where a queued message goes: partition, VP index, SINT.
struct SlotKey {
    uint64_t partition = 0;
    uint32_t vp = 0;
    uint32_t sint = 0;
    constexpr bool operator==(const SlotKey&) const = default;
};

// Messages waiting for a busy slot, in one fixed pool; FIFO per slot, at most
// messages_queued_per_sint per slot.
template <uint32_t N> class MessagePool {
public:
    enum class Push : uint8_t { ok, slot_full, pool_full };

    [[nodiscard]] Push push(const SlotKey& k, const tlfs::root::Message& m) {
        if (count(k) >= messages_queued_per_sint)
            return Push::slot_full;
        for (auto& e : e_)
            if (!e.used) {
                e = {true, k, ++seq_, m};
                return Push::ok;
            }
        return Push::pool_full;
    }
    [[nodiscard]] uint32_t count(const SlotKey& k) const {
        uint32_t n = 0;
        for (const auto& e : e_)
            n += e.used && e.key == k;
        return n;
    }
    // The oldest message for `k`, removed; false when none waits.
    [[nodiscard]] bool pop(const SlotKey& k, tlfs::root::Message& out) {
        Entry* first = nullptr;
        for (auto& e : e_)
            if (e.used && e.key == k && (!first || e.seq < first->seq))
                first = &e;
        if (!first)
            return false;
        out = first->msg;
        first->used = false;
        return true;
    }
    // Drops what waits for a partition (deleted), or one VP of it when vp != ~0u.
    void drop(uint64_t partition, uint32_t vp = ~0u) {
        for (auto& e : e_)
            if (e.used && e.key.partition == partition && (vp == ~0u || e.key.vp == vp))
                e.used = false;
    }

private:
    struct Entry {
        bool used = false;
        SlotKey key{};
        uint64_t seq = 0;
        tlfs::root::Message msg{};
    };
    Entry e_[N];
    uint64_t seq_ = 0;
};

// A message as the target's slot shows it: the header the TLFS describes, origin the port id.
[[nodiscard]] inline tlfs::root::Message make_message(uint32_t type, uint32_t port_id, const void* payload,
                                                      uint32_t size) {
    tlfs::root::Message m{};
    m.header.type = static_cast<tlfs::root::MessageType>(type);
    m.header.payload_size = static_cast<uint8_t>(size);
    m.header.origin = port_id;
    __builtin_memcpy(m.payload, payload, size);
    return m;
}

// The MSR glue (synic.cpp). False: #GP(0).
[[nodiscard]] constexpr bool is_synic_msr(uint32_t msr) {
    return (msr >= tlfs::msr::scontrol && msr <= tlfs::msr::eom) || (msr >= tlfs::msr::sint0 && msr <= tlfs::msr::sint15);
}
[[nodiscard]] bool synic_read(Vp& vp, uint32_t msr, uint64_t& value);
[[nodiscard]] bool synic_write(Vp& vp, uint32_t msr, uint64_t value);

namespace synic {
using tlfs::Status;
// The root-only port calls (hypercalls/handlers_partition.hpp); `caller` is the root.
[[nodiscard]] Status create_port(Partition& caller, const tlfs::root::CreatePortInput& in);
[[nodiscard]] Status connect_port(Partition& caller, const tlfs::root::ConnectPortInput& in);
[[nodiscard]] Status delete_port(Partition& caller, uint64_t partition_id, uint32_t port_id);
[[nodiscard]] Status disconnect_port(Partition& caller, uint64_t partition_id, uint32_t connection_id);
// The calls every partition with the privilege has (hypercalls/handlers_basic.hpp).
[[nodiscard]] Status post_message(Partition& caller, uint32_t connection_id, uint32_t type, const void* payload,
                                  uint32_t size);
[[nodiscard]] Status signal_event(Partition& caller, uint32_t connection_id, uint16_t flag);
// A message the hypervisor itself sends (timer expiries): into the slot if it is empty; if it
// is busy the slot's message-pending flag is set and the caller keeps the message for the next EOM.
enum class HvDelivery : uint8_t { delivered, slot_busy, synic_off };
[[nodiscard]] HvDelivery post_from_hypervisor(Vp& vp, uint32_t sint, const tlfs::root::Message& m);
// A child VP that waits in the root's scheduler (halted) has something to take: tell the root
// with a scheduler VP-signal message (type 0x80000101, pairs of partition id and VP index) in
// SINT 0 of root VP 0, at most once per halt. Pairs that find the slot busy are kept (and
// merged) until the root's EOM; past 19 of them, overflow_count tells the root to look at all.
void scheduler_signal(Vp& child_vp);
// A partition goes away (children::remove): its ports, connections and queued messages too.
void forget_partition(uint64_t id);
// Runs fn(ctx) with the SynIC lock held: a VP taken out of its partition's table inside it can no
// longer be the target of a delivery in flight (deliveries find their VP under this lock).
void exclusive(void (*fn)(void*), void* ctx);
} // namespace synic

} // namespace hv::virt
