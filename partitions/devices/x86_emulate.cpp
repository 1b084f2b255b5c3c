// MMIO instruction emulation (x86_emulate.hpp). Semantics follow the SDM Vol. 2 entries of each
// instruction; flags follow SDM Vol. 1 3.4.3.1 and appendix A.
#include "partitions/devices/x86_emulate.hpp"

namespace devices::x86 {

uint64_t MmioBus::read(uint64_t, unsigned) { return ~uint64_t{0}; }
void MmioBus::write(uint64_t, unsigned, uint64_t) {}

bool GuestMemory::read(Seg, uint64_t, unsigned, uint64_t&, Fault& fault) {
    fault = Fault{13, true, 0, 0};
    return false;
}
bool GuestMemory::write(Seg, uint64_t, unsigned, uint64_t, Fault& fault) {
    fault = Fault{13, true, 0, 0};
    return false;
}

namespace {

constexpr uint64_t flag_cf = 1u << 0, flag_pf = 1u << 2, flag_af = 1u << 4, flag_zf = 1u << 6,
                   flag_sf = 1u << 7, flag_df = 1u << 10, flag_of = 1u << 11, flag_rf = 1u << 16;
constexpr uint64_t status_flags = flag_cf | flag_pf | flag_af | flag_zf | flag_sf | flag_of;
constexpr unsigned rcx = 1, rsi = 6, rdi = 7;

bool valid_size(unsigned size) { return size == 1 || size == 2 || size == 4 || size == 8; }
uint64_t mask(unsigned size) { return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (size * 8)) - 1; }
uint64_t sign_bit(unsigned size) { return uint64_t{1} << (size * 8 - 1); }
uint64_t sign_extend(uint64_t v, unsigned size) {
    v &= mask(size);
    return (v & sign_bit(size)) ? v | ~mask(size) : v;
}

uint64_t read_reg(const Registers& regs, const Operand& op) {
    const uint64_t v = regs.gpr[op.reg & 15];
    return op.high8 ? (v >> 8) & 0xff : v & mask(op.size);
}

// SDM Vol. 1 3.4.1.1: a 32-bit destination zero-extends into the full 64-bit register; 8- and
// 16-bit destinations leave the other bits alone.
void write_gpr(Registers& regs, unsigned reg, unsigned size, bool high8, uint64_t value) {
    uint64_t& r = regs.gpr[reg & 15];
    if (high8)
        r = (r & ~uint64_t{0xff00}) | ((value & 0xff) << 8);
    else if (size >= 4)
        r = value & mask(size);
    else
        r = (r & ~mask(size)) | (value & mask(size));
}
void write_reg(Registers& regs, const Operand& op, uint64_t value) {
    write_gpr(regs, op.reg, op.size, op.high8, value);
}

bool parity_even(uint64_t v) { // PF looks at the low byte only
    auto b = static_cast<uint8_t>(v);
    b ^= static_cast<uint8_t>(b >> 4);
    b ^= static_cast<uint8_t>(b >> 2);
    b ^= static_cast<uint8_t>(b >> 1);
    return (b & 1) == 0;
}

// The arithmetic of the ALU class on `size`-byte operands; sets the six status flags.
uint64_t alu(Op op, uint64_t a, uint64_t b, unsigned size, uint64_t& rflags) {
    const uint64_t m = mask(size), sign = sign_bit(size);
    a &= m;
    b &= m;
    uint64_t r = 0, flags = 0;
    switch (op) {
    case Op::add:
        r = (a + b) & m;
        flags |= r < a ? flag_cf : 0;
        flags |= ((a ^ r) & (b ^ r) & sign) ? flag_of : 0;
        flags |= (a ^ b ^ r) & flag_af;
        break;
    case Op::sub:
    case Op::cmp:
        r = (a - b) & m;
        flags |= a < b ? flag_cf : 0;
        flags |= ((a ^ b) & (a ^ r) & sign) ? flag_of : 0;
        flags |= (a ^ b ^ r) & flag_af;
        break;
    // Logic: CF = OF = 0; AF is undefined and left clear, as processors do.
    case Op::and_:
    case Op::test: r = a & b; break;
    case Op::or_: r = a | b; break;
    default: r = a ^ b; break;
    }
    flags |= r == 0 ? flag_zf : 0;
    flags |= (r & sign) ? flag_sf : 0;
    flags |= parity_even(r) ? flag_pf : 0;
    rflags = (rflags & ~status_flags) | flags;
    return r;
}

// Instruction completed: next RIP, wrapped to the code segment's width, and RF cleared
// (SDM Vol. 3B 18.3.1.1: RF is cleared when an instruction completes).
Result finish(const Decoded& d, CpuMode mode, Registers& regs, Result res) {
    const uint64_t ip_mask = mode == CpuMode::bits64   ? ~uint64_t{0}
                             : mode == CpuMode::bits32 ? 0xffffffffu
                                                       : 0xffffu;
    regs.rip = (regs.rip + d.length) & ip_mask;
    regs.rflags &= ~flag_rf;
    res.status = Status::done;
    return res;
}

Result status(Status s, const Decoded& d) {
    Result r;
    r.status = s;
    r.length = d.length;
    return r;
}

bool gpr_or_imm(const Operand& op) {
    return (op.kind == OperandKind::reg && valid_size(op.size)) || op.kind == OperandKind::imm;
}

Result string_op(const Decoded& d, CpuMode mode, Registers& regs, const MmioFault& mmio,
                 MmioBus& bus, GuestMemory& memory);

} // namespace

Result emulate(const uint8_t* bytes, size_t size, CpuMode mode, Registers& regs,
               const MmioFault& mmio, MmioBus& bus, GuestMemory& memory) {
    Decoded d;
    if (!decode(bytes, size, mode, d)) {
        Result r;
        r.status = Status::bad_instruction;
        return r;
    }
    return emulate(d, mode, regs, mmio, bus, memory);
}

Result emulate(const Decoded& d, CpuMode mode, Registers& regs, const MmioFault& mmio,
               MmioBus& bus, GuestMemory& memory) {
    if (d.op == Op::other || !d.has_memory)
        return status(Status::unsupported, d);
    if (d.op == Op::movs || d.op == Op::stos)
        return string_op(d, mode, regs, mmio, bus, memory);
    if (d.operand_count < 2)
        return status(Status::unsupported, d);
    const Operand& dst = d.operands[0];
    const Operand& src = d.operands[1];
    // Exactly one of the first two operands is the memory operand; the other a GPR or immediate.
    const bool mem_dst = dst.kind == OperandKind::mem;
    const Operand& mem = mem_dst ? dst : src;
    const Operand& other = mem_dst ? src : dst;
    if (mem.kind != OperandKind::mem || !valid_size(mem.size) || !gpr_or_imm(other) ||
        (!mem_dst && other.kind != OperandKind::reg))
        return status(Status::unsupported, d);

    // What the instruction does to memory; an access it never makes cannot have faulted (the
    // bytes changed since the fault, or the caller mixed things up).
    const bool load_only = d.op == Op::cmp || d.op == Op::test || d.op == Op::movzx ||
                           d.op == Op::movsx || (d.op == Op::mov && !mem_dst);
    const bool reads = !(d.op == Op::mov && mem_dst);
    const bool writes = mem_dst && !load_only;
    if ((mmio.access == Access::read && !reads) || (mmio.access == Access::write && !writes))
        return status(Status::bad_instruction, d);

    Result res;
    res.length = d.length;
    const unsigned size = mem.size;
    const uint64_t operand = other.kind == OperandKind::imm ? other.imm : read_reg(regs, other);
    switch (d.op) {
    case Op::mov:
        if (mem_dst)
            bus.write(mmio.gpa, size, operand & mask(size));
        else
            write_reg(regs, other, bus.read(mmio.gpa, size) & mask(size));
        break;
    case Op::movzx:
    case Op::movsx: {
        if (mem_dst || other.kind != OperandKind::reg)
            return status(Status::unsupported, d);
        const uint64_t v = bus.read(mmio.gpa, size) & mask(size);
        write_reg(regs, other, d.op == Op::movsx ? sign_extend(v, size) : v);
        break;
    }
    case Op::xchg: { // SDM Vol. 2B XCHG: with memory, locked regardless of a LOCK prefix
        if (other.kind != OperandKind::reg)
            return status(Status::unsupported, d);
        const uint64_t old = bus.read(mmio.gpa, size) & mask(size);
        bus.write(mmio.gpa, size, operand & mask(size));
        write_reg(regs, other, old);
        break;
    }
    default: { // the ALU class: dst = dst op src, keeping Intel operand order for SUB and CMP
        const uint64_t m = bus.read(mmio.gpa, size);
        const uint64_t a = mem_dst ? m : operand, b = mem_dst ? operand : m;
        const uint64_t r = alu(d.op, a, b, size, regs.rflags);
        if (d.op == Op::cmp || d.op == Op::test)
            break;
        if (mem_dst)
            bus.write(mmio.gpa, size, r);
        else if (other.kind == OperandKind::reg)
            write_reg(regs, other, r);
        break;
    }
    }
    return finish(d, mode, regs, res);
}

namespace {

// MOVS and STOS (SDM Vol. 2B MOVS/STOS, REP): the device side is the faulting GPA, stepped by
// the operand size in the direction of DF; the other side of MOVS is ordinary memory at
// DS:rSI (segment overridable) or ES:rDI. Pointers and count use the address size.
Result string_op(const Decoded& d, CpuMode mode, Registers& regs, const MmioFault& mmio,
                 MmioBus& bus, GuestMemory& memory) {
    const unsigned size = d.operand_size, asize = d.address_size;
    if (!valid_size(size) || !(asize == 2 || asize == 4 || asize == 8))
        return status(Status::unsupported, d);
    if (d.op == Op::stos && mmio.access != Access::write)
        return status(Status::bad_instruction, d);
    const uint64_t amask = mask(asize);
    const bool rep = d.rep != Rep::none; // F2 on MOVS/STOS repeats like F3
    const uint64_t step = (regs.rflags & flag_df) ? -uint64_t{size} : uint64_t{size};
    uint64_t count = rep ? regs.gpr[rcx] & amask : 1;
    Result res;
    res.length = d.length;
    uint64_t gpa = mmio.gpa;
    const uint64_t page = mmio.gpa >> 12;
    while (count != 0 && res.iterations < max_rep_iterations) {
        // Only the first access is known to fall in the faulting device page.
        if (res.iterations != 0 && (gpa >> 12 != page || (gpa + size - 1) >> 12 != page))
            break;
        const uint64_t si = regs.gpr[rsi] & amask, di = regs.gpr[rdi] & amask;
        uint64_t value = regs.gpr[0] & mask(size);
        if (d.op == Op::stos) {
            bus.write(gpa, size, value);
        } else if (mmio.access == Access::write) {
            if (!memory.read(d.string_seg, si, size, value, res.fault)) {
                res.status = Status::fault;
                return res;
            }
            bus.write(gpa, size, value & mask(size));
        } else {
            value = bus.read(gpa, size) & mask(size);
            if (!memory.write(Seg::es, di, size, value, res.fault)) {
                res.status = Status::fault;
                return res;
            }
        }
        if (d.op == Op::movs)
            write_gpr(regs, rsi, asize, false, si + step);
        write_gpr(regs, rdi, asize, false, di + step);
        gpa += step;
        count--;
        res.iterations++;
        if (rep)
            write_gpr(regs, rcx, asize, false, count);
    }
    if (count != 0) { // the guest re-executes the instruction for the remaining iterations
        res.status = Status::done;
        return res;
    }
    return finish(d, mode, regs, res);
}

} // namespace
} // namespace devices::x86
