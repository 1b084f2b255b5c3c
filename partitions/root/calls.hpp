// The root-only hypercalls the partition manager makes (TLFS "Partition management", "Virtual
// processor management"; layouts in hypercalls/abi/partition.hpp), each as one typed function
// over the runtime's hypercall client (partitions/rt/hypercall.hpp). Every function returns the
// TLFS status; none retries on its own except where the TLFS makes a call resumable (rep calls).
#pragma once
#include <stdint.h>

#include "hypercalls/abi/partition.hpp"
#include "partitions/rt/hypercall.hpp"

namespace root {

using tlfs::Status;
namespace abi = tlfs::root;

[[nodiscard]] Status create_partition(uint64_t& id);
[[nodiscard]] Status initialize_partition(uint64_t id);
[[nodiscard]] Status delete_partition(uint64_t id);
// Pages are the root's guest-physical addresses (page-aligned).
[[nodiscard]] Status deposit(uint64_t id, const uint64_t* pages, uint32_t count);
// Maps `count` root pages starting at `root_gpa` (contiguous) at child GPA `child_gpa`; `done`
// counts the pages mapped, so a caller can deposit more and continue after a failure.
[[nodiscard]] Status map_gpa(uint64_t id, uint64_t child_gpa, uint64_t root_gpa, uint64_t count, uint32_t flags,
                             uint64_t& done);
[[nodiscard]] Status install_io_intercept(uint64_t id, uint16_t port);
[[nodiscard]] Status create_vp(uint64_t id, uint32_t vp);
[[nodiscard]] Status start_vp(uint64_t id, uint32_t vp, const abi::InitialVpContext& ctx);

// Register names and values; at most 32 at a time.
struct RegisterPair {
    abi::RegisterName name;
    uint64_t value;
};
[[nodiscard]] Status set_registers(uint64_t id, uint32_t vp, const RegisterPair* regs, uint32_t count);
[[nodiscard]] Status get_registers(uint64_t id, uint32_t vp, RegisterPair* regs, uint32_t count);

[[nodiscard]] Status assert_interrupt(uint64_t id, abi::InterruptType type, uint32_t apic_id, uint32_t vector);

// SynIC ports and connections (TLFS 11.x, hypercalls 0x95, 0x96), and the calls any partition
// with the privilege makes (HvPostMessage 0x5c, HvSignalEvent 0x5d).
[[nodiscard]] Status create_message_port(uint64_t owner, uint32_t port, uint32_t vp, uint32_t sint, uint64_t allowed);
[[nodiscard]] Status create_event_port(uint64_t owner, uint32_t port, uint32_t vp, uint32_t sint, uint16_t base_flag,
                                       uint16_t flag_count, uint64_t allowed);
[[nodiscard]] Status connect_port(uint64_t sender, uint32_t connection, uint64_t owner, uint32_t port, abi::PortType type);
[[nodiscard]] Status delete_port(uint64_t owner, uint32_t port);
[[nodiscard]] Status post_message(uint32_t connection, uint32_t type, const void* payload, uint32_t size);
[[nodiscard]] Status signal_event(uint32_t connection, uint16_t flag);

// DispatchVp: the state, the event and the message (our extension: the 256-byte HV_MESSAGE at
// offset 8 of the output, docs/child-partitions.md), copied out of the processor's page.
struct Dispatched {
    abi::DispatchVpOutput head;
    abi::Message message;
};
[[nodiscard]] Status dispatch_vp(uint64_t id, uint32_t vp, Dispatched& out);

} // namespace root
