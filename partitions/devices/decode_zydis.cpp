// Zydis' decoded instruction reduced to decode_zydis.hpp's Decoded. Zydis already applies the
// SDM's rules for prefixes, operand and address size, default segments and immediate extension;
// this file only renames its answers.
#include "partitions/devices/decode_zydis.hpp"

#include <Zydis/Decoder.h>

namespace devices::x86 {
namespace {

constexpr size_t max_instruction_length = 15; // SDM Vol. 2A 2.3.11

Op op_of(const ZydisDecodedInstruction& insn) {
    // MOVSD is also the SSE2 scalar move (F2 0F 10): only the string category is MOVS.
    const bool string = insn.meta.category == ZYDIS_CATEGORY_STRINGOP;
    switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV: return Op::mov;
    case ZYDIS_MNEMONIC_MOVZX: return Op::movzx;
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD: return Op::movsx;
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_MOVSQ: return string ? Op::movs : Op::other;
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ: return string ? Op::stos : Op::other;
    case ZYDIS_MNEMONIC_AND: return Op::and_;
    case ZYDIS_MNEMONIC_OR: return Op::or_;
    case ZYDIS_MNEMONIC_XOR: return Op::xor_;
    case ZYDIS_MNEMONIC_ADD: return Op::add;
    case ZYDIS_MNEMONIC_SUB: return Op::sub;
    case ZYDIS_MNEMONIC_TEST: return Op::test;
    case ZYDIS_MNEMONIC_CMP: return Op::cmp;
    case ZYDIS_MNEMONIC_XCHG: return Op::xchg;
    default: return Op::other;
    }
}

Seg seg_of(ZydisRegister r) {
    switch (r) {
    case ZYDIS_REGISTER_ES: return Seg::es;
    case ZYDIS_REGISTER_CS: return Seg::cs;
    case ZYDIS_REGISTER_SS: return Seg::ss;
    case ZYDIS_REGISTER_FS: return Seg::fs;
    case ZYDIS_REGISTER_GS: return Seg::gs;
    default: return Seg::ds;
    }
}

// A general-purpose register as number and width. Zydis numbers the byte registers AL, CL, DL,
// BL, AH, CH, DH, BH, SPL, BPL, SIL, DIL, R8B-R15B (its Register.h): without REX, encodings 4-7
// name AH-BH; with REX they name SPL-DIL (SDM Vol. 2A 3.1.1.1, table 3-1).
void set_register(ZydisRegister r, Operand& op) {
    const ZydisRegisterClass cls = ZydisRegisterGetClass(r);
    const int id = ZydisRegisterGetId(r);
    op.kind = OperandKind::reg;
    switch (cls) {
    case ZYDIS_REGCLASS_GPR8:
        op.size = 1;
        op.high8 = id >= 4 && id < 8;
        op.reg = static_cast<uint8_t>(op.high8 ? id - 4 : (id < 4 ? id : id - 4));
        return;
    case ZYDIS_REGCLASS_GPR16: op.size = 2; break;
    case ZYDIS_REGCLASS_GPR32: op.size = 4; break;
    case ZYDIS_REGCLASS_GPR64: op.size = 8; break;
    default: op.kind = OperandKind::other_reg; return;
    }
    op.reg = static_cast<uint8_t>(id);
}

Operand operand_of(const ZydisDecodedOperand& z) {
    Operand op;
    op.size = static_cast<uint8_t>(z.size / 8);
    switch (z.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: set_register(z.reg.value, op); break;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        // LEA's and MIB's "memory" operands compute an address without accessing memory.
        op.kind = z.mem.type == ZYDIS_MEMOP_TYPE_MEM ? OperandKind::mem : OperandKind::other_reg;
        op.seg = seg_of(z.mem.segment);
        break;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        op.kind = OperandKind::imm;
        op.imm = z.imm.value.u; // Zydis sign-extends signed immediates to 64 bits already
        break;
    default: op.kind = OperandKind::other_reg; break;
    }
    return op;
}

} // namespace

bool decode(const uint8_t* bytes, size_t size, CpuMode mode, Decoded& out) {
    ZydisDecoder decoder;
    const ZydisMachineMode machine = mode == CpuMode::bits64 ? ZYDIS_MACHINE_MODE_LONG_64
                                     : mode == CpuMode::bits32 ? ZYDIS_MACHINE_MODE_LEGACY_32
                                                               : ZYDIS_MACHINE_MODE_LEGACY_16;
    const ZydisStackWidth stack = mode == CpuMode::bits64 ? ZYDIS_STACK_WIDTH_64
                                  : mode == CpuMode::bits32 ? ZYDIS_STACK_WIDTH_32
                                                            : ZYDIS_STACK_WIDTH_16;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&decoder, machine, stack)))
        return false;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (size > max_instruction_length)
        size = max_instruction_length;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, bytes, size, &insn, ops)))
        return false;

    out = Decoded{};
    out.op = op_of(insn);
    out.length = insn.length;
    out.operand_size = static_cast<uint8_t>(insn.operand_width / 8);
    out.address_size = static_cast<uint8_t>(insn.address_width / 8);
    out.lock = (insn.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0;
    if (insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
        out.rep = Rep::rep;
    else if (insn.attributes & ZYDIS_ATTRIB_HAS_REPNE)
        out.rep = Rep::repne;

    // Visible operands (explicit, plus implicit ones such as AL in MOV AL, moffs8) come first;
    // hidden ones (a string instruction's [rSI]/[rDI]) follow them.
    for (uint8_t i = 0; i < insn.operand_count; i++) {
        const Operand op = operand_of(ops[i]);
        if (op.kind == OperandKind::mem) {
            out.has_memory = true;
            if (ops[i].mem.base == ZYDIS_REGISTER_RSI || ops[i].mem.base == ZYDIS_REGISTER_ESI ||
                ops[i].mem.base == ZYDIS_REGISTER_SI)
                out.string_seg = op.seg;
        }
        if (i < insn.operand_count_visible && out.operand_count < 3)
            out.operands[out.operand_count++] = op;
    }
    return true;
}

} // namespace devices::x86
