// The one dispatch table: call code -> {kind, fast allowed, variable header, privilege, list
// sizes, handler} (TLFS appendix A for the codes, chapter 3 for the shapes). Instantiated per
// platform, so the hypervisor, the unit tests and the fuzzer all run this very table.
// Partition-management codes keep reserved rows: they answer HV_STATUS_INVALID_HYPERCALL_CODE
// until the partition-management issue gives them handlers.
#pragma once
#include "hypercalls/handlers_basic.hpp"
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
    {detail::reserved(0x40), nullptr}, {detail::reserved(0x41), nullptr}, {detail::reserved(0x42), nullptr},
    {detail::reserved(0x43), nullptr}, {detail::reserved(0x44), nullptr}, {detail::reserved(0x45), nullptr},
    {{detail::cc::get_partition_id, Kind::simple, false, false, detail::pv::access_partition_id, 0, 0, 8, 0,
      "GetPartitionId"}, handlers::get_partition_id<P>},
    {detail::reserved(0x47), nullptr}, {detail::reserved(0x48), nullptr}, {detail::reserved(0x49), nullptr},
    {detail::reserved(0x4a), nullptr}, {detail::reserved(0x4b), nullptr}, {detail::reserved(0x4c), nullptr},
    {detail::reserved(0x4d), nullptr}, {detail::reserved(0x4e), nullptr}, {detail::reserved(0x4f), nullptr},
    {{detail::cc::get_vp_registers, Kind::rep, false, false, 0, detail::sz(sizeof(detail::VpRegistersInput)), 4, 0,
      detail::sz(sizeof(detail::RegisterValue)), "GetVpRegisters"}, handlers::get_vp_registers<P>},
    {{detail::cc::set_vp_registers, Kind::rep, false, false, 0, detail::sz(sizeof(detail::VpRegistersInput)),
      detail::sz(sizeof(detail::RegisterAssoc)), 0, 0, "SetVpRegisters"}, handlers::set_vp_registers<P>},
    {{detail::cc::post_message, Kind::simple, false, false, detail::pv::post_messages,
      detail::sz(sizeof(detail::PostMessageInput)), 0, 0, 0, "PostMessage"}, handlers::post_message<P>},
    {{detail::cc::signal_event, Kind::simple, true, false, detail::pv::signal_events,
      detail::sz(sizeof(detail::SignalEventInput)), 0, 0, 0, "SignalEvent"}, handlers::signal_event<P>},
    {detail::reserved(0x94), nullptr}, {detail::reserved(0x95), nullptr}, {detail::reserved(0x96), nullptr},
    {detail::reserved(0x97), nullptr}, {detail::reserved(0x98), nullptr}, {detail::reserved(0x99), nullptr},
    {detail::reserved(0xc2), nullptr},
};

// The row for `code`, or nullptr when the code is unknown.
template <class P> [[nodiscard]] constexpr const Entry<P>* lookup(uint16_t code) {
    for (const Entry<P>& e : table<P>)
        if (e.spec.code == code)
            return &e;
    return nullptr;
}

} // namespace hypercalls
