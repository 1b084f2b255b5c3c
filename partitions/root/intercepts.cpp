#include "partitions/root/intercepts.hpp"

#include "partitions/root/calls.hpp"
#include "partitions/root/scheduler.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

using abi::MessageType;

VpRun kill(ChildVp& v, const char* why, uint64_t a = 0, uint64_t b = 0) {
    rt::log("root: child %s vp %u: %s (%lx, %lx)\n", v.child->config.name, v.index, why, a, b);
    end_child(*v.child, EndReason::killed, 0);
    return VpRun::done;
}

VpRun complete(ChildVp& v, const RegisterPair* regs, uint32_t n) {
    if (Status s = set_registers(v.child->id, v.index, regs, n); !rt::hc::ok(s))
        return kill(v, "SetVpRegisters failed", rt::hc::code(s));
    return VpRun::runnable;
}

// TLFS x64 I/O port intercept: the device answers, then RIP moves past the instruction and an
// IN's destination (AL, AX or EAX; EAX zero-extends into RAX, SDM vol 1 3.4.1.1) is written.
VpRun io(ChildVp& v, const abi::IoPortInterceptMessage& m) {
    Child& c = *v.child;
    auto size = static_cast<uint8_t>(m.access_info & abi::io_access::size_mask);
    uint8_t len = abi::instruction_length(m.header);
    if (m.access_info & abi::io_access::string_op)
        return kill(v, "string I/O is not emulated", m.port, m.header.rip);
    if (len == 0 || (size != 1 && size != 2 && size != 4))
        return kill(v, "I/O intercept without instruction length or size", m.port, size);
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    bool write = m.header.access_type == abi::AccessType::write;
    auto value = static_cast<uint32_t>(m.rax) & mask;
    uint32_t result = mask;   // an unclaimed port reads all ones
    if (c.com1.claims(m.port)) {
        if (write) c.com1.write(m.port, size, value); else result = c.com1.read(m.port, size);
    } else if (c.debug_exit.claims(m.port)) {
        if (!write) {
            result = c.debug_exit.read(m.port, size);
        } else {
            c.debug_exit.write(m.port, size, value);
            devices::PortEvent e = c.debug_exit.take_event();
            if (e.kind == devices::PortEvent::Kind::exit) {
                end_child(c, EndReason::debug_exit, e.value);
                return VpRun::done;
            }
        }
    } else if (c.fw_cfg.claims(m.port)) {
        if (write) c.fw_cfg.write(m.port, size, value); else result = c.fw_cfg.read(m.port, size);
    }
    RegisterPair regs[2] = {{abi::RegisterName::rip, m.header.rip + len}, {abi::RegisterName::rax, 0}};
    if (!write)
        regs[1].value = size == 4 ? result : (m.rax & ~uint64_t{mask}) | (result & mask);
    return complete(v, regs, write ? 1 : 2);
}

// Device memory: none is emulated in the root yet (the local APIC is the hypervisor's), so an
// access to guest-physical memory the child does not have stops it.
VpRun mmio(ChildVp& v, const abi::MemoryInterceptMessage& m) {
    return kill(v, "access to unmapped guest-physical memory", m.gpa, m.header.rip);
}

} // namespace

VpRun run_vp(ChildVp& v) {
    static_assert(sizeof(Dispatched) == 8 + sizeof(abi::Message));
    Dispatched d;
    Status s = dispatch_vp(v.child->id, v.index, d);
    if (!rt::hc::ok(s))
        return kill(v, "DispatchVp failed", rt::hc::code(s));
    const void* payload = d.message.payload;
    switch (d.message.header.type) {
    case MessageType::x64_io_port_intercept:
        return io(v, *static_cast<const abi::IoPortInterceptMessage*>(payload));
    case MessageType::unmapped_gpa:
    case MessageType::gpa_intercept:
        return mmio(v, *static_cast<const abi::MemoryInterceptMessage*>(payload));
    case MessageType::x64_halt: {
        const auto& h = *static_cast<const abi::HaltMessage*>(payload);
        v.asleep_for_good = !(h.rflags & (1u << 9));   // halted with IF clear
        return VpRun::waiting;
    }
    case MessageType::unrecoverable_exception:
        end_child(*v.child, EndReason::triple_fault, 0);
        return VpRun::done;
    case MessageType::none:
        // No message: preempted (a root interrupt, the time slice), or blocked (halted, or an
        // AP still waiting for its SIPI).
        if (d.head.state != abi::DispatchState::blocked)
            return VpRun::runnable;
        v.asleep_for_good = true;   // waits for a SIPI
        return VpRun::waiting;
    default:
        return kill(v, "unexpected intercept message", static_cast<uint32_t>(d.message.header.type), d.head.state == abi::DispatchState::blocked);
    }
}

} // namespace root
