#include "partitions/root/signals.hpp"

#include "hypercalls/abi/partition.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"

namespace root::signals {
namespace {

namespace abi = tlfs::root;
abi::Message* simp;
uint64_t* siefp;

// Empties a slot the caller has read, then looks at message-pending: set, the hypervisor holds
// more and waits for an EOM (TLFS 11.10.3). In this order a flag set as the slot empties is seen.
void release(volatile abi::Message& slot) {
    slot.header.type = abi::MessageType::none;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (slot.header.flags & abi::message_flag::pending)
        rt::wrmsr(tlfs::msr::eom, 0);
}

} // namespace

bool init() {
    uint64_t page = rt::pages::alloc(), flags = rt::pages::alloc();
    if (!page || !flags)
        return false;
    simp = static_cast<abi::Message*>(rt::pages::ptr(page));
    siefp = static_cast<uint64_t*>(rt::pages::ptr(flags));
    // TLFS 11.8: the message and event-flag pages, SINT 0, 1 and 2 unmasked with our vectors,
    // then the SynIC itself.
    return rt::probe_wrmsr(tlfs::msr::simp, page | 1).vector < 0 && rt::probe_wrmsr(tlfs::msr::siefp, flags | 1).vector < 0 &&
           rt::probe_wrmsr(tlfs::msr::sint0, vector).vector < 0 &&
           rt::probe_wrmsr(tlfs::msr::sint0 + 1, echo_vector).vector < 0 &&
           rt::probe_wrmsr(tlfs::msr::sint0 + vmbus_sint, vmbus_vector).vector < 0 &&
           rt::probe_wrmsr(tlfs::msr::scontrol, 1).vector < 0;
}

bool take_message(uint32_t sint, abi::Message& out) {
    if (!simp || sint >= 16)
        return false;
    volatile abi::Message& slot = simp[sint];
    if (slot.header.type == abi::MessageType::none)
        return false;
    __builtin_memcpy(&out, const_cast<const abi::Message*>(&slot), sizeof out);
    release(slot);
    return true;
}

bool take_flag(uint32_t sint, uint32_t bit) {
    if (!siefp || sint >= 16 || bit >= 2048)
        return false;
    uint64_t* word = siefp + sint * (2048 / 64) + bit / 64;   // 256 bytes of flags per SINT
    uint64_t mask = 1ull << (bit % 64);
    return __atomic_fetch_and(word, ~mask, __ATOMIC_ACQ_REL) & mask;
}

uint32_t take(Signal* out, uint32_t max, bool& all) {
    all = false;
    abi::Message m;
    if (!take_message(0, m))
        return 0;
    if (m.header.type != abi::MessageType::scheduler_vp_signal_pair) {
        rt::log("root: unexpected message type 0x%x in SINT 0\n", static_cast<uint32_t>(m.header.type));
        return 0;
    }
    abi::SchedulerVpSignalPair pl;
    __builtin_memcpy(&pl, m.payload, sizeof pl);
    uint32_t count = pl.vp_count < abi::vp_signal_pairs_max ? pl.vp_count : abi::vp_signal_pairs_max;
    uint32_t n = 0;
    for (uint32_t i = 0; i < count && !all; i++) {
        if (n == max)
            all = true;
        else
            out[n++] = {pl.partition_ids[i], pl.vp_indexes[i]};
    }
    all = all || pl.overflow_count != 0;
    return n;
}

} // namespace root::signals
