// The hypercall interface as a 32-bit child uses it (docs/hypercalls.md; TLFS 3.13, 3.7): guest
// OS ID, then the hypercall page MSR; a call is `call` to the page with EDX:EAX = control,
// EBX:ECX = input GPA, EDI:ESI = output GPA, and returns EDX:EAX = the result value.
#pragma once
#include <stdint.h>

#include "hypercalls/abi/partition.hpp"

namespace iso::hc {

namespace call = tlfs::call;
using tlfs::Status;

// One input and one output page per processor (calls from several VPs run at once).
struct Pages {
    alignas(4096) uint8_t in[4096];
    alignas(4096) uint8_t out[4096];
};
Pages& pages(uint32_t cpu);

// The page the hypervisor fills with its call sequence.
uint32_t page_gpa();
// Sets the guest OS ID and enables the page; true when the MSR then reads back enabled there.
bool enable();

uint64_t raw(uint64_t control, uint32_t in_gpa, uint32_t out_gpa);
inline uint16_t status(uint64_t result) { return tlfs::result::status(result); }
// A call with `reps` elements (0 for a simple call) through this processor's pages.
uint16_t call_with(uint32_t cpu, uint16_t code, uint16_t reps);

// Every root-only call (the CreatePartitions privilege, hypercalls/table.hpp), each with a
// well-formed input naming `partition` (the caller's own id, unless the call takes none).
struct RootCall {
    uint16_t code;
    uint16_t reps;
    const char* name;   // the KTAP test name
};
inline constexpr RootCall root_calls[] = {
    {call::create_partition, 0, "CreatePartition answers ACCESS_DENIED"},
    {call::initialize_partition, 0, "InitializePartition answers ACCESS_DENIED"},
    {call::finalize_partition, 0, "FinalizePartition answers ACCESS_DENIED"},
    {call::delete_partition, 0, "DeletePartition answers ACCESS_DENIED"},
    {call::get_partition_property, 0, "GetPartitionProperty answers ACCESS_DENIED"},
    {call::set_partition_property, 0, "SetPartitionProperty answers ACCESS_DENIED"},
    {call::deposit_memory, 1, "DepositMemory answers ACCESS_DENIED"},
    {call::withdraw_memory, 1, "WithdrawMemory answers ACCESS_DENIED"},
    {call::map_gpa_pages, 1, "MapGpaPages answers ACCESS_DENIED"},
    {call::unmap_gpa_pages, 1, "UnmapGpaPages answers ACCESS_DENIED"},
    {call::install_intercept, 0, "InstallIntercept answers ACCESS_DENIED"},
    {call::create_vp, 0, "CreateVp answers ACCESS_DENIED"},
    {call::delete_vp, 0, "DeleteVp answers ACCESS_DENIED"},
    {call::assert_virtual_interrupt, 0, "AssertVirtualInterrupt answers ACCESS_DENIED"},
    {call::start_vp, 0, "StartVp answers ACCESS_DENIED"},
    {call::dispatch_vp, 0, "DispatchVp answers ACCESS_DENIED"},
};
inline constexpr uint32_t root_call_count = sizeof root_calls / sizeof root_calls[0];

// Fills this processor's input page for `c` naming `partition`, with a page of the caller's own
// RAM (`own_page`, a GPA) wherever the call takes one; returns the call's status.
uint16_t root_call(uint32_t cpu, const RootCall& c, uint64_t partition, uint32_t own_page);

uint16_t get_partition_id(uint32_t cpu, uint64_t& id);

} // namespace iso::hc
