// Turning a DispatchReport into what the root reads back from HvCallDispatchVp: the TLFS
// dispatch state and event, and the 256-byte intercept message (hypercalls/abi/partition.hpp;
// docs/child-partitions.md for our output layout).
#pragma once
#include "hv/virt/children.hpp"
#include "hypercalls/abi/partition.hpp"

namespace hv::virt {

struct DispatchOutput {
    tlfs::root::DispatchVpOutput state;
    tlfs::root::Message message;   // at offset 8
};
static_assert(sizeof(DispatchOutput) == 264 && __builtin_offsetof(DispatchOutput, message) == 8);

inline uint16_t tlfs_attributes(uint16_t packed) {
    // Our packed form (AMD: G 11, D/B 10, L 9, AVL 8) to the VMX access-rights layout the TLFS
    // segment register uses (G 15, D/B 14, L 13, AVL 12).
    return static_cast<uint16_t>((packed & 0xff) | ((packed & 0xf00) << 4));
}

inline void fill_header(tlfs::root::InterceptHeader& h, const Vp& vp, const DispatchReport& r,
                        tlfs::root::AccessType access) {
    using namespace tlfs::root;
    h.vp_index = vp.index;
    h.instruction_length_cr8 = static_cast<uint8_t>(r.exit.instruction_length & 0xf);
    h.access_type = access;
    uint16_t state = static_cast<uint16_t>((r.cs_attr >> 5) & exec_state::cpl_mask);
    if (r.cr0 & 1)
        state |= exec_state::cr0_pe;
    if (r.efer & (1u << 10))
        state |= exec_state::efer_lma;
    h.execution_state = state;
    h.cs = SegmentRegister{0, 0, r.cs_selector, tlfs_attributes(r.cs_attr)};
    h.rip = r.rip;
    h.rflags = r.rflags;
}

inline void build_dispatch_output(const Vp& vp, const DispatchReport& r, DispatchOutput& out) {
    using namespace tlfs::root;
    out = DispatchOutput{};
    out.state = {DispatchState::ready, DispatchEvent::intercept};
    Message& m = out.message;
    m.header.origin = vp.partition->id;
    auto payload = [&m](auto& body) -> decltype(body) {
        static_assert(sizeof body <= sizeof m.payload);
        m.header.payload_size = sizeof body;
        return body;
    };
    switch (r.reason) {
    case DispatchReport::Reason::interrupted:
        out.state = {DispatchState::ready, DispatchEvent::suspend};
        return;
    case DispatchReport::Reason::halted: {
        out.state = {DispatchState::blocked, DispatchEvent::intercept};
        m.header.type = MessageType::x64_halt;
        HaltMessage h{};
        fill_header(h, vp, r, AccessType::execute);
        __builtin_memcpy(m.payload, &payload(h), sizeof h);
        return;
    }
    case DispatchReport::Reason::stopped: {
        out.state = {DispatchState::blocked, DispatchEvent::intercept};
        m.header.type = MessageType::unrecoverable_exception;
        UnrecoverableExceptionMessage h{};
        fill_header(h, vp, r, AccessType::execute);
        __builtin_memcpy(m.payload, &payload(h), sizeof h);
        return;
    }
    case DispatchReport::Reason::intercept:
        break;
    }
    const Intercept& x = r.exit;
    switch (x.kind) {
    case ExitKind::io: {
        IoPortInterceptMessage b{};
        fill_header(b.header, vp, r, x.io.in ? AccessType::read : AccessType::write);
        b.port = x.io.port;
        b.access_info = static_cast<uint8_t>((x.io.size & io_access::size_mask) | (x.io.string ? io_access::string_op : 0) |
                                             (x.io.rep ? io_access::rep_prefix : 0));
        b.rax = r.io_value;
        m.header.type = MessageType::x64_io_port_intercept;
        __builtin_memcpy(m.payload, &payload(b), sizeof b);
        return;
    }
    case ExitKind::msr_read:
    case ExitKind::msr_write: {
        MsrInterceptMessage b{};
        fill_header(b.header, vp, r, x.kind == ExitKind::msr_write ? AccessType::write : AccessType::read);
        b.msr = static_cast<uint32_t>(vp.gprs[Gpr::rcx]);
        b.rdx = r.msr_value >> 32;
        b.rax = static_cast<uint32_t>(r.msr_value);
        m.header.type = MessageType::x64_msr_intercept;
        __builtin_memcpy(m.payload, &payload(b), sizeof b);
        return;
    }
    case ExitKind::cpuid: {
        CpuidInterceptMessage b{};
        fill_header(b.header, vp, r, AccessType::execute);
        b.rax = r.cpuid_leaf;
        b.rcx = r.cpuid_subleaf;
        b.rdx = vp.gprs[Gpr::rdx];
        b.rbx = vp.gprs[Gpr::rbx];
        b.default_rax = r.default_cpuid[0];
        b.default_rbx = r.default_cpuid[1];
        b.default_rcx = r.default_cpuid[2];
        b.default_rdx = r.default_cpuid[3];
        m.header.type = MessageType::x64_cpuid_intercept;
        __builtin_memcpy(m.payload, &payload(b), sizeof b);
        return;
    }
    case ExitKind::gpa_access: {
        MemoryInterceptMessage b{};
        fill_header(b.header, vp, r,
                    x.gpa.write ? AccessType::write : x.gpa.execute ? AccessType::execute : AccessType::read);
        b.cache_type = tlfs::root::CacheType::write_back;
        b.instruction_byte_count = r.instruction_count;
        b.access_info = x.gpa.gva_valid ? memory_access::gva_valid : 0;
        b.gva = x.gpa.gva;
        b.gpa = x.gpa.gpa;
        __builtin_memcpy(b.instruction_bytes, r.instruction_bytes, sizeof b.instruction_bytes);
        m.header.type = x.gpa.present ? MessageType::gpa_intercept : MessageType::unmapped_gpa;
        __builtin_memcpy(m.payload, &payload(b), sizeof b);
        return;
    }
    case ExitKind::exception: {
        ExceptionInterceptMessage b{};
        fill_header(b.header, vp, r, AccessType::execute);
        b.vector = x.exception.vector;
        b.info = x.exception.has_error_code ? exception_info::error_code_valid : 0;
        b.error_code = x.exception.error_code;
        b.exception_parameter = x.exception.cr2;
        const uint64_t* g = vp.gprs.r;
        b.rax = g[0], b.rcx = g[1], b.rdx = g[2], b.rbx = g[3], b.rsp = g[4], b.rbp = g[5], b.rsi = g[6], b.rdi = g[7];
        b.r8 = g[8], b.r9 = g[9], b.r10 = g[10], b.r11 = g[11], b.r12 = g[12], b.r13 = g[13], b.r14 = g[14],
        b.r15 = g[15];
        m.header.type = MessageType::x64_exception_intercept;
        __builtin_memcpy(m.payload, &payload(b), sizeof b);
        return;
    }
    default:
        m.header.type = MessageType::unrecoverable_exception;
        return;
    }
}

} // namespace hv::virt
