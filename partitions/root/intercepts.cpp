#include "partitions/root/intercepts.hpp"

#include "partitions/devices/x86_emulate.hpp"
#include "partitions/root/calls.hpp"
#include "partitions/root/scheduler.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

using abi::MessageType;
namespace x86 = devices::x86;

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

// The xAPIC page as a device behind the instruction emulator.
struct ApicBus final : x86::MmioBus {
    ChildVp& vp;
    Ipi ipi;
    explicit ApicBus(ChildVp& v) : vp(v) {}
    uint64_t read(uint64_t gpa, unsigned size) override {
        uint32_t off = static_cast<uint32_t>(gpa & 0xfff);
        uint64_t now = rt::rdtsc();
        uint32_t word = with_apic(vp, [&](Vapic& a) { return a.read(off & ~3u, now); });
        uint64_t v = word >> ((off & 3) * 8);
        return size >= 8 ? v : v & ((1ull << (size * 8)) - 1);
    }
    void write(uint64_t gpa, unsigned size, uint64_t value) override {
        uint32_t off = static_cast<uint32_t>(gpa & 0xfff);
        if ((off & 3) || size < 4)
            return;   // SDM 10.4.1: only aligned 32-bit accesses are defined
        uint64_t now = rt::rdtsc();
        Ipi got = with_apic(vp, [&](Vapic& a) { return a.write(off, static_cast<uint32_t>(value), now); });
        if (got.kind != Ipi::Kind::none)
            ipi = got;
    }
};
struct NoMemory final : x86::GuestMemory {};

x86::CpuMode mode_of(const abi::InterceptHeader& h) {
    if (!(h.execution_state & abi::exec_state::cr0_pe))
        return x86::CpuMode::bits16;
    if ((h.execution_state & abi::exec_state::efer_lma) && (h.cs.attributes & abi::seg_attr::long_mode))
        return x86::CpuMode::bits64;
    return (h.cs.attributes & abi::seg_attr::default_big) ? x86::CpuMode::bits32 : x86::CpuMode::bits16;
}

VpRun mmio(ChildVp& v, const abi::MemoryInterceptMessage& m) {
    if ((m.gpa & ~0xfffull) != apic_base_gpa)
        return kill(v, "access to unmapped guest-physical memory", m.gpa, m.header.rip);
    if (m.instruction_byte_count == 0)
        return kill(v, "APIC access without instruction bytes", m.gpa, m.header.rip);
    RegisterPair regs[18];
    for (uint32_t i = 0; i < 16; i++)
        regs[i] = {static_cast<abi::RegisterName>(static_cast<uint32_t>(abi::RegisterName::rax) + i), 0};
    if (Status s = get_registers(v.child->id, v.index, regs, 16); !rt::hc::ok(s))
        return kill(v, "GetVpRegisters failed", rt::hc::code(s));
    x86::Registers r;
    for (uint32_t i = 0; i < 16; i++)
        r.gpr[i] = regs[i].value;
    r.rip = m.header.rip;
    r.rflags = m.header.rflags;
    ApicBus bus(v);
    NoMemory mem;
    x86::MmioFault where{m.gpa, m.header.access_type == abi::AccessType::write ? x86::Access::write : x86::Access::read};
    x86::Result res = x86::emulate(m.instruction_bytes, m.instruction_byte_count, mode_of(m.header), r, where, bus, mem);
    if (res.status != x86::Status::done)
        return kill(v, "APIC access by an instruction the root does not emulate", m.header.rip, m.instruction_bytes[0]);
    uint32_t n = 0;
    for (uint32_t i = 0; i < 16; i++)
        if (r.gpr[i] != regs[i].value)
            regs[n++] = {regs[i].name, r.gpr[i]};
    regs[n++] = {abi::RegisterName::rip, r.rip};
    regs[n++] = {abi::RegisterName::rflags, r.rflags};
    VpRun next = complete(v, regs, n);
    if (bus.ipi.kind != Ipi::Kind::none && next != VpRun::done)
        post_ipi(*v.child, v.index, bus.ipi);
    return next;
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
    case MessageType::x64_halt:
        return VpRun::waiting;
    case MessageType::unrecoverable_exception:
        end_child(*v.child, EndReason::triple_fault, 0);
        return VpRun::done;
    case MessageType::none:
        // No message: preempted (a root interrupt, the time slice), or blocked (halted, or an
        // AP still waiting for its SIPI).
        return d.head.state == abi::DispatchState::blocked ? VpRun::waiting : VpRun::runnable;
    default:
        return kill(v, "unexpected intercept message", static_cast<uint32_t>(d.message.header.type), d.head.state == abi::DispatchState::blocked);
    }
}

} // namespace root
