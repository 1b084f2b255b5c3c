// The calls every partition has that need no other VP: GetPartitionId, NotifyLongSpinWait,
// PostMessage and SignalEvent (TLFS 4.x, 10.x, 11.x). Messages and events are validated as the
// TLFS describes, then go to the platform's SynIC (hv/virt/synic.hpp), which looks up the
// caller's connection. A platform without a SynIC (the unit tests', the fuzzer's) has no
// connection at all: HV_STATUS_INVALID_CONNECTION_ID.
#pragma once
#include "hypercalls/call.hpp"

namespace hypercalls {
template <class P> concept SynicPlatform = requires { P::has_synic; };
}

namespace hypercalls::handlers {

// HvCallGetPartitionId: the caller's own ID; output only.
template <class P> Status get_partition_id(Call<P>& c) {
    uint64_t id = c.pf.partition_id();
    return c.out(0, &id, sizeof id) ? Status::success : Status::access_denied;
}

// HvCallNotifyLongSpinWait: a hint that the caller spins; there is no scheduler to tell yet.
template <class P> Status notify_long_spin_wait(Call<P>&) { return Status::success; }

template <class P> Status post_message(Call<P>& c) {
    tlfs::PostMessageInput m;
    if (!c.in(0, &m, 16))   // the header; the payload is only ever copied to a connection
        return Status::access_denied;
    // Message types with the top bit set are the hypervisor's own (TLFS 11.x HV_MESSAGE_TYPE).
    if (m.reserved || m.message_type == 0 || (m.message_type & 0x80000000u) || m.payload_size > tlfs::message_payload_max)
        return Status::invalid_parameter;
    if constexpr (SynicPlatform<P>) {
        uint8_t payload[tlfs::message_payload_max];
        if (!c.in(16, payload, m.payload_size))
            return Status::access_denied;
        return c.pf.synic_post(m.connection_id, m.message_type, payload, m.payload_size);
    } else {
        return Status::invalid_connection_id;
    }
}

template <class P> Status signal_event(Call<P>& c) {
    tlfs::SignalEventInput e;
    if (!c.in(0, &e, sizeof e))
        return Status::access_denied;
    if (e.flag_number >= tlfs::event_flags_count || e.reserved)
        return Status::invalid_parameter;
    if constexpr (SynicPlatform<P>)
        return c.pf.synic_signal(e.connection_id, e.flag_number);
    else
        return Status::invalid_connection_id;
}

} // namespace hypercalls::handlers
