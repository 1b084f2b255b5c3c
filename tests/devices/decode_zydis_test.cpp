// The Zydis wrapper: each field of Decoded, in each mode, and the failures (truncated, invalid,
// over-long). Encodings checked against GNU as.
#include <gtest/gtest.h>

#include <vector>

#include "partitions/devices/decode_zydis.hpp"

namespace devices::x86 {
namespace {

Decoded dec(std::vector<uint8_t> b, CpuMode mode = CpuMode::bits64) {
    Decoded d;
    EXPECT_TRUE(decode(b.data(), b.size(), mode, d));
    return d;
}
bool fails(std::vector<uint8_t> b, CpuMode mode = CpuMode::bits64) {
    Decoded d;
    return !decode(b.data(), b.size(), mode, d);
}

TEST(Decode, MovStoreRegister) {
    const Decoded d = dec({0x89, 0x03}); // mov [rbx], eax
    EXPECT_EQ(d.op, Op::mov);
    EXPECT_EQ(d.length, 2);
    EXPECT_EQ(d.operand_size, 4);
    EXPECT_EQ(d.address_size, 8);
    EXPECT_TRUE(d.has_memory);
    ASSERT_EQ(d.operand_count, 2);
    EXPECT_EQ(d.operands[0].kind, OperandKind::mem);
    EXPECT_EQ(d.operands[0].size, 4);
    EXPECT_EQ(d.operands[0].seg, Seg::ds);
    EXPECT_EQ(d.operands[1].kind, OperandKind::reg);
    EXPECT_EQ(d.operands[1].reg, 0);
    EXPECT_EQ(d.operands[1].size, 4);
}

TEST(Decode, ByteRegistersHighAndRex) {
    const Decoded ah = dec({0x88, 0x23});       // mov [rbx], ah
    EXPECT_EQ(ah.operands[1].reg, 0);
    EXPECT_TRUE(ah.operands[1].high8);
    const Decoded sil = dec({0x40, 0x88, 0x33}); // mov [rbx], sil: REX turns 6 into SIL
    EXPECT_EQ(sil.operands[1].reg, 6);
    EXPECT_FALSE(sil.operands[1].high8);
    const Decoded bh = dec({0x8a, 0x3b});        // mov bh, [rbx]
    EXPECT_EQ(bh.operands[0].reg, 3);
    EXPECT_TRUE(bh.operands[0].high8);
}

TEST(Decode, ExtendedRegisters) {
    const Decoded d = dec({0x4c, 0x8b, 0x23}); // mov r12, [rbx]
    EXPECT_EQ(d.operands[0].reg, 12);
    EXPECT_EQ(d.operands[0].size, 8);
    EXPECT_EQ(d.operands[1].size, 8);
    EXPECT_EQ(dec({0x44, 0x89, 0x0b}).operands[1].reg, 9); // mov [rbx], r9d
}

TEST(Decode, ImmediatesAreExtendedToOperandSize) {
    const Decoded q = dec({0x48, 0xc7, 0x03, 0xfe, 0xff, 0xff, 0xff}); // mov qword [rbx], -2
    EXPECT_EQ(q.operands[1].kind, OperandKind::imm);
    EXPECT_EQ(q.operands[1].imm, 0xfffffffffffffffeull);
    const Decoded w = dec({0x66, 0x83, 0x3b, 0x10}); // cmp word [rbx], 0x10
    EXPECT_EQ(w.op, Op::cmp);
    EXPECT_EQ(w.operands[0].size, 2);
    EXPECT_EQ(w.operands[1].imm & 0xffff, 0x10u);
    EXPECT_EQ(dec({0xc6, 0x03, 0xab}).operands[1].imm & 0xff, 0xabu); // mov byte [rbx], 0xab
}

TEST(Decode, ExtensionsKeepBothSizes) {
    const Decoded zx = dec({0x0f, 0xb6, 0x03}); // movzx eax, byte [rbx]
    EXPECT_EQ(zx.op, Op::movzx);
    EXPECT_EQ(zx.operands[0].size, 4);
    EXPECT_EQ(zx.operands[1].size, 1);
    const Decoded sxd = dec({0x48, 0x63, 0x03}); // movsxd rax, dword [rbx]
    EXPECT_EQ(sxd.op, Op::movsx);
    EXPECT_EQ(sxd.operands[0].size, 8);
    EXPECT_EQ(sxd.operands[1].size, 4);
}

TEST(Decode, AluClasses) {
    EXPECT_EQ(dec({0x81, 0x23, 0xf0, 0, 0, 0}).op, Op::and_);
    EXPECT_EQ(dec({0x09, 0x0b}).op, Op::or_);
    EXPECT_EQ(dec({0x33, 0x13}).op, Op::xor_);
    EXPECT_EQ(dec({0x80, 0x03, 0x01}).op, Op::add);
    EXPECT_EQ(dec({0x48, 0x83, 0x2b, 0x01}).op, Op::sub);
    EXPECT_EQ(dec({0x84, 0x03}).op, Op::test);
    EXPECT_EQ(dec({0x87, 0x03}).op, Op::xchg);
}

TEST(Decode, StringInstructions) {
    const Decoded movs = dec({0xf3, 0xa5}); // rep movsd
    EXPECT_EQ(movs.op, Op::movs);
    EXPECT_EQ(movs.rep, Rep::rep);
    EXPECT_EQ(movs.operand_size, 4);
    EXPECT_TRUE(movs.has_memory);
    EXPECT_EQ(movs.string_seg, Seg::ds);
    const Decoded stos = dec({0xf3, 0x48, 0xab}); // rep stosq
    EXPECT_EQ(stos.op, Op::stos);
    EXPECT_EQ(stos.operand_size, 8);
    EXPECT_EQ(dec({0xaa}).rep, Rep::none);
}

TEST(Decode, StringSegmentOverrideAndAddressSize) {
    EXPECT_EQ(dec({0x64, 0xa4}).string_seg, Seg::fs); // movsb fs:[rsi], es:[rdi]
    const Decoded a32 = dec({0x67, 0xf3, 0xaa});      // rep stosb es:[edi]
    EXPECT_EQ(a32.address_size, 4);
    EXPECT_EQ(a32.op, Op::stos);
}

TEST(Decode, SseMovsdIsNotTheStringMove) {
    const Decoded d = dec({0xf2, 0x0f, 0x10, 0x03}); // movsd xmm0, [rbx]
    EXPECT_EQ(d.op, Op::other);
    EXPECT_TRUE(d.has_memory);
}

TEST(Decode, SegmentOverrideOnMemoryOperand) {
    EXPECT_EQ(dec({0x64, 0x8b, 0x03}).operands[1].seg, Seg::fs); // mov eax, fs:[rbx]
    EXPECT_EQ(dec({0x8b, 0x45, 0x00}).operands[1].seg, Seg::ss); // mov eax, [rbp]: SS default
}

TEST(Decode, LockPrefix) {
    EXPECT_TRUE(dec({0xf0, 0x83, 0x03, 0x01}).lock); // lock add dword [rbx], 1
    EXPECT_TRUE(fails({0xf0, 0x89, 0x03}));          // LOCK MOV is #UD (SDM Vol. 2B LOCK)
}

TEST(Decode, MoffsHasImplicitAccumulator) {
    const Decoded d = dec({0xa1, 0, 0, 0xb0, 0xfe, 0, 0, 0, 0}); // mov eax, [0xfeb00000]
    EXPECT_EQ(d.length, 9);
    ASSERT_EQ(d.operand_count, 2);
    EXPECT_EQ(d.operands[0].kind, OperandKind::reg);
    EXPECT_EQ(d.operands[1].kind, OperandKind::mem);
}

TEST(Decode, NonGprOperands) {
    EXPECT_EQ(dec({0x8c, 0x1b}).operands[1].kind, OperandKind::other_reg); // mov [rbx], ds
    const Decoded lea = dec({0x48, 0x8d, 0x03});                            // lea rax, [rbx]
    EXPECT_FALSE(lea.has_memory);
    EXPECT_FALSE(dec({0x01, 0xc3}).has_memory); // add ebx, eax
    EXPECT_FALSE(dec({0x90}).has_memory);
}

TEST(Decode, Mode16) {
    const Decoded d = dec({0x89, 0x07}, CpuMode::bits16); // mov [bx], ax
    EXPECT_EQ(d.operand_size, 2);
    EXPECT_EQ(d.address_size, 2);
    EXPECT_EQ(d.operands[1].size, 2);
    const Decoded d32 = dec({0x66, 0x67, 0x89, 0x03}, CpuMode::bits16); // mov [ebx], eax
    EXPECT_EQ(d32.operand_size, 4);
    EXPECT_EQ(d32.address_size, 4);
    EXPECT_EQ(d32.length, 4);
}

TEST(Decode, Mode32) {
    const Decoded d = dec({0x89, 0x03}, CpuMode::bits32); // mov [ebx], eax
    EXPECT_EQ(d.operand_size, 4);
    EXPECT_EQ(d.address_size, 4);
    EXPECT_EQ(dec({0x66, 0x89, 0x03}, CpuMode::bits32).operand_size, 2);
    const Decoded dec_eax = dec({0x48, 0x89, 0x03}, CpuMode::bits32); // 48 is DEC EAX here
    EXPECT_EQ(dec_eax.length, 1);
    EXPECT_EQ(dec_eax.op, Op::other);
}

TEST(Decode, TruncatedFails) {
    EXPECT_TRUE(fails({}));
    EXPECT_TRUE(fails({0x89}));
    EXPECT_TRUE(fails({0x48, 0xc7, 0x03, 0xfe}));
    EXPECT_TRUE(fails({0xa1, 0, 0, 0xb0}));
    EXPECT_TRUE(fails({0x66}));
}

TEST(Decode, InvalidFails) {
    EXPECT_TRUE(fails({0x06}));       // PUSH ES does not exist in 64-bit mode
    EXPECT_TRUE(fails({0x0f, 0x04})); // unassigned opcode
    EXPECT_FALSE(fails({0x06}, CpuMode::bits32));
}

TEST(Decode, LongerThanFifteenBytesFails) {
    std::vector<uint8_t> b(14, 0x66);
    b.insert(b.end(), {0x89, 0x03}); // 16 bytes: SDM Vol. 2A 2.3.11, #GP beyond 15
    EXPECT_TRUE(fails(b));
    b.erase(b.begin()); // 15 bytes is fine
    EXPECT_EQ(dec(b).length, 15);
}

} // namespace
} // namespace devices::x86
