#include "partitions/root/calls.hpp"

namespace root {
namespace {

namespace hc = rt::hc;
namespace call = tlfs::call;

template <class T> T& fresh_input() {
    __builtin_memset(hc::input_bytes(), 0, sizeof(T));
    return hc::input<T>();
}

} // namespace

Status create_partition(uint64_t& id) {
    auto& in = fresh_input<abi::CreatePartitionInput>();
    in.compatibility_version = abi::compatibility_21h2;   // what Linux's mshv sends
    Status s = hc::call(call::create_partition);
    id = hc::ok(s) ? hc::output<abi::CreatePartitionOutput>().partition_id : 0;
    return s;
}

Status initialize_partition(uint64_t id) {
    fresh_input<abi::PartitionIdInput>().partition_id = id;
    return hc::call(call::initialize_partition);
}

Status delete_partition(uint64_t id) {
    fresh_input<abi::PartitionIdInput>().partition_id = id;
    return hc::call(call::delete_partition);
}

Status deposit(uint64_t id, const uint64_t* pages, uint32_t count) {
    while (count) {
        uint32_t n = count < abi::deposit_max_reps ? count : abi::deposit_max_reps;
        fresh_input<abi::DepositMemoryInput>().partition_id = id;
        auto* list = reinterpret_cast<uint64_t*>(hc::input_bytes() + sizeof(abi::DepositMemoryInput));
        for (uint32_t i = 0; i < n; i++)
            list[i] = pages[i] / abi::page_size;
        if (Status s = hc::rep(call::deposit_memory, static_cast<uint16_t>(n)); !hc::ok(s))
            return s;
        pages += n;
        count -= n;
    }
    return Status::success;
}

Status map_gpa(uint64_t id, uint64_t child_gpa, uint64_t root_gpa, uint64_t count, uint32_t flags, uint64_t& done) {
    done = 0;
    while (count) {
        uint32_t n = count < abi::map_gpa_max_reps ? static_cast<uint32_t>(count) : abi::map_gpa_max_reps;
        auto& in = fresh_input<abi::MapGpaPagesInput>();
        in.target_partition_id = id;
        in.target_gpa_base = child_gpa / abi::page_size;
        in.map_flags = flags;
        auto* list = reinterpret_cast<uint64_t*>(hc::input_bytes() + sizeof(abi::MapGpaPagesInput));
        for (uint32_t i = 0; i < n; i++)
            list[i] = root_gpa / abi::page_size + i;
        uint16_t reps = 0;
        Status s = hc::rep(call::map_gpa_pages, static_cast<uint16_t>(n), &reps);
        done += reps;
        if (!hc::ok(s))
            return s;
        child_gpa += uint64_t{n} * abi::page_size;
        root_gpa += uint64_t{n} * abi::page_size;
        count -= n;
    }
    return Status::success;
}

Status install_io_intercept(uint64_t id, uint16_t port) {
    auto& in = fresh_input<abi::InstallInterceptInput>();
    in.partition_id = id;
    in.access_type = abi::access_mask::read | abi::access_mask::write;
    in.type = abi::InterceptType::x64_io_port;
    in.parameters = abi::intercept_param::io_port(port);
    return hc::call(call::install_intercept);
}

Status create_vp(uint64_t id, uint32_t vp) {
    auto& in = fresh_input<abi::CreateVpInput>();
    in.partition_id = id;
    in.vp_index = vp;
    return hc::call(call::create_vp);
}

Status start_vp(uint64_t id, uint32_t vp, const abi::InitialVpContext& ctx) {
    auto& in = fresh_input<abi::StartVpInput>();
    in.partition_id = id;
    in.vp_index = vp;
    in.context = ctx;
    return hc::call(call::start_vp);
}

Status set_registers(uint64_t id, uint32_t vp, const RegisterPair* regs, uint32_t count) {
    auto& in = fresh_input<tlfs::VpRegistersInput>();
    in.partition_id = id;
    in.vp_index = vp;
    auto* list = reinterpret_cast<tlfs::RegisterAssoc*>(hc::input_bytes() + sizeof(tlfs::VpRegistersInput));
    for (uint32_t i = 0; i < count; i++)
        list[i] = {static_cast<uint32_t>(regs[i].name), 0, 0, {regs[i].value, 0}};
    return hc::rep(call::set_vp_registers, static_cast<uint16_t>(count));
}

Status get_registers(uint64_t id, uint32_t vp, RegisterPair* regs, uint32_t count) {
    auto& in = fresh_input<tlfs::VpRegistersInput>();
    in.partition_id = id;
    in.vp_index = vp;
    auto* names = reinterpret_cast<uint32_t*>(hc::input_bytes() + sizeof(tlfs::VpRegistersInput));
    for (uint32_t i = 0; i < count; i++)
        names[i] = static_cast<uint32_t>(regs[i].name);
    Status s = hc::rep(call::get_vp_registers, static_cast<uint16_t>(count));
    const auto* values = &hc::output<tlfs::RegisterValue>();
    for (uint32_t i = 0; i < count && hc::ok(s); i++)
        regs[i].value = values[i].low;
    return s;
}

Status assert_interrupt(uint64_t id, abi::InterruptType type, uint32_t apic_id, uint32_t vector) {
    auto& in = fresh_input<abi::AssertVirtualInterruptInput>();
    in.partition_id = id;
    in.control = {type, 0};
    in.destination = apic_id;
    in.vector = vector;
    return hc::call(call::assert_virtual_interrupt);
}

namespace {
abi::CreatePortInput& port_input(uint64_t owner, uint32_t port, abi::PortType type, uint64_t allowed) {
    auto& in = fresh_input<abi::CreatePortInput>();
    in.port_partition_id = owner;
    in.port_id = port;
    in.connection_partition_id = allowed;
    in.port_info.type = type;
    return in;
}
} // namespace

Status create_message_port(uint64_t owner, uint32_t port, uint32_t vp, uint32_t sint, uint64_t allowed) {
    auto& in = port_input(owner, port, abi::PortType::message, allowed);
    in.port_info.info.message.target_sint = sint;
    in.port_info.info.message.target_vp = vp;
    return hc::call(call::create_port);
}

Status create_event_port(uint64_t owner, uint32_t port, uint32_t vp, uint32_t sint, uint16_t base_flag,
                         uint16_t flag_count, uint64_t allowed) {
    auto& in = port_input(owner, port, abi::PortType::event, allowed);
    in.port_info.info.event.target_sint = sint;
    in.port_info.info.event.target_vp = vp;
    in.port_info.info.event.base_flag_number = base_flag;
    in.port_info.info.event.flag_count = flag_count;
    return hc::call(call::create_port);
}

Status connect_port(uint64_t sender, uint32_t connection, uint64_t owner, uint32_t port, abi::PortType type) {
    auto& in = fresh_input<abi::ConnectPortInput>();
    in.connection_partition_id = sender;
    in.connection_id = connection;
    in.port_partition_id = owner;
    in.port_id = port;
    in.connection_info.type = type;
    return hc::call(call::connect_port);
}

Status delete_port(uint64_t owner, uint32_t port) {
    auto& in = fresh_input<abi::DeletePortInput>();
    in.port_partition_id = owner;
    in.port_id = port;
    return hc::call(abi::call_code::delete_port);
}

Status post_message(uint32_t connection, uint32_t type, const void* payload, uint32_t size) {
    auto& in = fresh_input<tlfs::PostMessageInput>();
    in.connection_id = connection;
    in.message_type = type;
    in.payload_size = size;
    __builtin_memcpy(in.payload, payload, size < sizeof in.payload ? size : sizeof in.payload);
    return hc::call(call::post_message);
}

Status signal_event(uint32_t connection, uint16_t flag) {
    return hc::fast(call::signal_event, connection | (uint64_t{flag} << 32));
}

Status dispatch_vp(uint64_t id, uint32_t vp, Dispatched& out) {
    auto& in = fresh_input<abi::DispatchVpInput>();
    in.partition_id = id;
    in.vp_index = vp;
    in.time_slice = 100000;   // 10 ms in 100 ns units; the root's own timer usually ends it first
    __builtin_memset(hc::output_bytes(), 0, sizeof(Dispatched));
    Status s = hc::call(call::dispatch_vp);
    __builtin_memcpy(&out, hc::output_bytes(), sizeof out);
    return s;
}

} // namespace root
