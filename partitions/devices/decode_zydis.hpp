// Instruction decoding for MMIO emulation: a thin wrapper over Zydis 4.0 (the project's one x86
// decoder, built from Debian's source package: cmake/zydis.cmake) that reduces its full output to
// the few facts the emulator in x86_emulate.hpp acts on. Zydis stays behind this header, so the
// emulator and its callers never include Zydis' headers.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace devices::x86 {

// The default operand and address size of the code segment (SDM Vol. 3A 3.4.5: CS.L and CS.D):
// all the decoder needs. Real mode and 16-bit protected mode decode alike, as do 32-bit protected
// and compatibility mode for the instructions that can touch MMIO.
enum class CpuMode : uint8_t { bits16, bits32, bits64 };

// The instruction classes the emulator knows; everything else is `other`.
enum class Op : uint8_t {
    other, mov, movzx, movsx, movs, stos, and_, or_, xor_, add, sub, test, cmp, xchg,
};

// SDM Vol. 2A 2.1.1 group 1: F3 (REP/REPE) and F2 (REPNE); for MOVS and STOS both repeat.
enum class Rep : uint8_t { none, rep, repne };

// Segment registers in their encoding order (SDM Vol. 2A 3.1.1.3, Sreg).
enum class Seg : uint8_t { es, cs, ss, ds, fs, gs };

// `other_reg`: a register that is not a general-purpose one (segment, control, vector...).
enum class OperandKind : uint8_t { none, reg, mem, imm, other_reg };

struct Operand {
    OperandKind kind = OperandKind::none;
    uint8_t size = 0;   // bytes: 1, 2, 4 or 8 for the kinds the emulator handles
    uint8_t reg = 0;    // kind == reg: the GPR number (0 = rAX ... 15 = r15)
    bool high8 = false; // kind == reg: AH, CH, DH or BH (bits 15:8 of registers 0-3)
    Seg seg = Seg::ds;  // kind == mem: the segment, default or overridden
    uint64_t imm = 0;   // kind == imm: already sign- or zero-extended to 64 bits as the SDM says
};

struct Decoded {
    Op op = Op::other;
    uint8_t length = 0;       // instruction length in bytes, 1-15
    uint8_t operand_size = 0; // effective operand size in bytes (SDM Vol. 1 3.6)
    uint8_t address_size = 0; // effective address size in bytes
    Rep rep = Rep::none;
    bool lock = false;
    bool has_memory = false;   // any memory operand, explicit or implied (string instructions)
    Seg string_seg = Seg::ds;  // MOVS source segment (DS unless overridden; the destination is ES)
    uint8_t operand_count = 0; // explicit operands, in Intel order (destination first)
    Operand operands[3];
};

// Decodes the first instruction in bytes[0..size). Returns false for bytes that are no valid
// instruction in that mode or that end before the instruction does; `out` is then unspecified.
// Never reads past bytes[size - 1] nor past the 15-byte architectural limit.
[[nodiscard]] bool decode(const uint8_t* bytes, size_t size, CpuMode mode, Decoded& out);

} // namespace devices::x86
