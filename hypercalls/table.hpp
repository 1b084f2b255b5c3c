// The one dispatch table: call code -> {kind, fast allowed, variable header, privilege, list
// sizes, handler} (TLFS appendix A for the codes, chapter 3 for the shapes). Instantiated per
// platform, so the hypervisor, the unit tests and the fuzzer all run this very table.
// Partition-management codes keep reserved rows: they answer HV_STATUS_INVALID_HYPERCALL_CODE
// until the partition-management issue gives them handlers.
#pragma once
#include "hypercalls/handlers_basic.hpp"
#include "hypercalls/handlers_partition.hpp"
#include "hypercalls/handlers_registers.hpp"
#include "hypercalls/handlers_vp.hpp"

namespace hypercalls {

template <class P> using Handler = Status (*)(Call<P>&);

template <class P> struct Entry {
    CallSpec spec;
    Handler<P> fn;   // nullptr for a reserved row
};

namespace detail {
namespace pv = tlfs::privilege;
namespace cc = tlfs::call;
using tlfs::FlushSpaceExInput, tlfs::FlushSpaceInput, tlfs::SendIpiExInput, tlfs::SendIpiInput;
using tlfs::PostMessageInput, tlfs::RegisterAssoc, tlfs::RegisterValue, tlfs::SignalEventInput;
using tlfs::VpRegistersInput;
constexpr uint16_t sz(unsigned n) { return static_cast<uint16_t>(n); }
constexpr CallSpec reserved(uint16_t code) { return {code, Kind::reserved, false, false, 0, 0, 0, 0, 0, "reserved"}; }
namespace rt = tlfs::root;
// A root-only call: the CreatePartitions privilege (TLFS 4.2.2), no fast form.
constexpr CallSpec root_call(uint16_t code, Kind kind, unsigned in_fixed, unsigned in_rep, unsigned out_fixed,
                             unsigned out_rep, const char* name) {
    return {code, kind, false, false, pv::create_partitions, sz(in_fixed), sz(in_rep), sz(out_fixed), sz(out_rep), name};
}
} // namespace detail

template <class P>
inline constexpr Entry<P> table[] = {
    // code, kind, fast, var header, privilege, in fixed, in per rep, out fixed, out per rep
    {{detail::cc::flush_virtual_address_space, Kind::simple, false, false, 0,
      detail::sz(sizeof(detail::FlushSpaceInput)), 0, 0, 0, "FlushVirtualAddressSpace"}, handlers::flush_space<P>},
    {{detail::cc::flush_virtual_address_list, Kind::rep, false, false, 0,
      detail::sz(sizeof(detail::FlushSpaceInput)), 8, 0, 0, "FlushVirtualAddressList"}, handlers::flush_list<P>},
    {{detail::cc::notify_long_spin_wait, Kind::simple, true, false, 0, 8, 0, 0, 0, "NotifyLongSpinWait"},
     handlers::notify_long_spin_wait<P>},
    {{detail::cc::send_synthetic_cluster_ipi, Kind::simple, true, false, 0,
      detail::sz(sizeof(detail::SendIpiInput)), 0, 0, 0, "SendSyntheticClusterIpi"}, handlers::send_ipi<P>},
    {{detail::cc::flush_virtual_address_space_ex, Kind::simple, false, true, 0,
      detail::sz(sizeof(detail::FlushSpaceExInput)), 0, 0, 0, "FlushVirtualAddressSpaceEx"},
     handlers::flush_space_ex<P>},
    {{detail::cc::flush_virtual_address_list_ex, Kind::rep, false, true, 0,
      detail::sz(sizeof(detail::FlushSpaceExInput)), 8, 0, 0, "FlushVirtualAddressListEx"},
     handlers::flush_list_ex<P>},
    {{detail::cc::send_synthetic_cluster_ipi_ex, Kind::simple, false, true, 0,
      detail::sz(sizeof(detail::SendIpiExInput)), 0, 0, 0, "SendSyntheticClusterIpiEx"}, handlers::send_ipi_ex<P>},
    {detail::root_call(0x40, Kind::simple, sizeof(detail::rt::CreatePartitionInput), 0, 8, 0, "CreatePartition"),
     handlers::create_partition<P>},
    {detail::root_call(0x41, Kind::simple, 8, 0, 0, 0, "InitializePartition"), handlers::partition_step<P, 0>},
    {detail::root_call(0x42, Kind::simple, 8, 0, 0, 0, "FinalizePartition"), handlers::partition_step<P, 1>},
    {detail::root_call(0x43, Kind::simple, 8, 0, 0, 0, "DeletePartition"), handlers::partition_step<P, 2>},
    {detail::root_call(0x44, Kind::simple, sizeof(detail::rt::GetPartitionPropertyInput), 0, 8, 0,
                       "GetPartitionProperty"), handlers::get_partition_property<P>},
    {detail::root_call(0x45, Kind::simple, sizeof(detail::rt::SetPartitionPropertyInput), 0, 0, 0,
                       "SetPartitionProperty"), handlers::set_partition_property<P>},
    {{detail::cc::get_partition_id, Kind::simple, false, false, detail::pv::access_partition_id, 0, 0, 8, 0,
      "GetPartitionId"}, handlers::get_partition_id<P>},
    {detail::reserved(0x47), nullptr},
    {detail::root_call(0x48, Kind::rep, 8, 8, 0, 0, "DepositMemory"), handlers::deposit_memory<P>},
    {detail::root_call(0x49, Kind::rep, 16, 0, 0, 8, "WithdrawMemory"), handlers::withdraw_memory<P>},
    {detail::reserved(0x4a), nullptr},
    {detail::root_call(0x4b, Kind::rep, sizeof(detail::rt::MapGpaPagesInput), 8, 0, 0, "MapGpaPages"),
     handlers::map_gpa_pages<P>},
    {detail::root_call(0x4c, Kind::rep, sizeof(detail::rt::UnmapGpaPagesInput), 0, 0, 0, "UnmapGpaPages"),
     handlers::unmap_gpa_pages<P>},
    {detail::root_call(0x4d, Kind::simple, sizeof(detail::rt::InstallInterceptInput), 0, 0, 0, "InstallIntercept"),
     handlers::install_intercept<P>},
    {detail::root_call(0x4e, Kind::simple, sizeof(detail::rt::CreateVpInput), 0, 0, 0, "CreateVp"),
     handlers::create_vp<P>},
    {detail::root_call(0x4f, Kind::simple, sizeof(detail::rt::DeleteVpInput), 0, 0, 0, "DeleteVp"),
     handlers::delete_vp<P>},
    {{detail::cc::get_vp_registers, Kind::rep, false, false, 0, detail::sz(sizeof(detail::VpRegistersInput)), 4, 0,
      detail::sz(sizeof(detail::RegisterValue)), "GetVpRegisters"}, handlers::get_vp_registers<P>},
    {{detail::cc::set_vp_registers, Kind::rep, false, false, 0, detail::sz(sizeof(detail::VpRegistersInput)),
      detail::sz(sizeof(detail::RegisterAssoc)), 0, 0, "SetVpRegisters"}, handlers::set_vp_registers<P>},
    {detail::root_call(0x58, Kind::simple, sizeof(detail::rt::DeletePortInput), 0, 0, 0, "DeletePort"),
     handlers::delete_port<P>},
    {detail::root_call(0x5b, Kind::simple, sizeof(detail::rt::DisconnectPortInput), 0, 0, 0, "DisconnectPort"),
     handlers::disconnect_port<P>},
    {{detail::cc::post_message, Kind::simple, false, false, detail::pv::post_messages,
      detail::sz(sizeof(detail::PostMessageInput)), 0, 0, 0, "PostMessage"}, handlers::post_message<P>},
    {{detail::cc::signal_event, Kind::simple, true, false, detail::pv::signal_events,
      detail::sz(sizeof(detail::SignalEventInput)), 0, 0, 0, "SignalEvent"}, handlers::signal_event<P>},
    {detail::root_call(0x94, Kind::simple, sizeof(detail::rt::AssertVirtualInterruptInput), 0, 0, 0,
                       "AssertVirtualInterrupt"), handlers::assert_virtual_interrupt<P>},
    {detail::root_call(0x95, Kind::simple, sizeof(detail::rt::CreatePortInput), 0, 0, 0, "CreatePort"),
     handlers::create_port<P>},
    {detail::root_call(0x96, Kind::simple, sizeof(detail::rt::ConnectPortInput), 0, 0, 0, "ConnectPort"),
     handlers::connect_port<P>},
    {detail::reserved(0x97), nullptr}, {detail::reserved(0x98), nullptr},
    {detail::root_call(0x99, Kind::simple, sizeof(detail::rt::StartVpInput), 0, 0, 0, "StartVp"), handlers::start_vp<P>},
    // Output: DispatchVpOutput, then the 256-byte intercept message (docs/child-partitions.md).
    {detail::root_call(0xc2, Kind::simple, sizeof(detail::rt::DispatchVpInput), 0, 264, 0, "DispatchVp"),
     handlers::dispatch_vp<P>},
};

// Call code -> row, built at compile time: the lookup on every hypercall is one load, not a scan.
template <class P> struct Index {
    int16_t at[256];
    constexpr Index() : at{} {
        for (auto& a : at)
            a = -1;
        for (size_t i = 0; i < sizeof table<P> / sizeof table<P>[0]; i++)
            at[table<P>[i].spec.code] = static_cast<int16_t>(i);
    }
};
template <class P> inline constexpr Index<P> index{};
static_assert(sizeof(int16_t) == 2);

// The row for `code`, or nullptr when the code is unknown.
template <class P> [[nodiscard]] constexpr const Entry<P>* lookup(uint16_t code) {
    if (code >= 256)
        return nullptr;
    int16_t i = index<P>.at[code];
    return i < 0 ? nullptr : &table<P>[i];
}

} // namespace hypercalls
