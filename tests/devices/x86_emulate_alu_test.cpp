// AND/OR/XOR/ADD/SUB/TEST/CMP with a memory operand: results, which side is written, and RFLAGS,
// checked by hand and then against the host processor itself for every size.
#include "tests/devices/x86_emulate_fixture.hpp"

namespace devices::x86::test {
namespace {

TEST_F(Emulate, AndImmediateToDevice) {
    dev.set(device_base, 0x1234, 4);
    regs.rflags |= CF | OF;
    ASSERT_EQ(run({0x81, 0x23, 0xf0, 0, 0, 0}, Access::read).status, Status::done);
    ASSERT_EQ(dev.log.size(), 2u); // read, modify, write
    EXPECT_EQ(dev.log[1].value, 0x30u);
    EXPECT_EQ(flags(STATUS), PF); // 0x30 has two bits set; CF and OF cleared
    EXPECT_EQ(regs.rip, 6u);
}

TEST_F(Emulate, AndToZeroSetsZf) {
    dev.set(device_base, 0x0f, 1);
    ASSERT_EQ(run({0x80, 0x23, 0xf0}, Access::write).status, Status::done); // and byte [rbx], 0xf0
    EXPECT_EQ(dev.log[1].value, 0u);
    EXPECT_EQ(flags(STATUS), ZF | PF);
}

TEST_F(Emulate, OrRegisterToDeviceSetsSf) {
    dev.set(device_base, 0x80000000, 4);
    regs.gpr[1] = 0x1;
    ASSERT_EQ(run({0x09, 0x0b}, Access::read).status, Status::done); // or [rbx], ecx
    EXPECT_EQ(dev.log[1].value, 0x80000001u);
    EXPECT_EQ(flags(STATUS), SF);
}

TEST_F(Emulate, XorDeviceIntoRegisterZeroExtends) {
    dev.set(device_base, 0xff00ff00, 4);
    regs.gpr[2] = 0xffffffff0000ffff;
    ASSERT_EQ(run({0x33, 0x13}, Access::read).status, Status::done); // xor edx, [rbx]
    EXPECT_EQ(regs.gpr[2], 0xff0000ffu);
    ASSERT_EQ(dev.log.size(), 1u); // the device is only read
    EXPECT_EQ(flags(STATUS), SF | PF);
}

TEST_F(Emulate, AddByteCarryAndOverflow) {
    dev.set(device_base, 0xff, 1);
    ASSERT_EQ(run({0x80, 0x03, 0x01}, Access::read).status, Status::done); // add byte [rbx], 1
    EXPECT_EQ(dev.log[1].value, 0u);
    EXPECT_EQ(flags(STATUS), CF | ZF | AF | PF);
    dev.set(device_base, 0x7f, 1);
    ASSERT_EQ(run({0x80, 0x03, 0x01}, Access::read).status, Status::done);
    EXPECT_EQ(dev.log[3].value, 0x80u);
    EXPECT_EQ(flags(STATUS), OF | SF | AF);
}

TEST_F(Emulate, SubQwordBorrow) {
    dev.set(device_base, 0);
    ASSERT_EQ(run({0x48, 0x83, 0x2b, 0x01}, Access::read).status, Status::done); // sub [rbx], 1
    EXPECT_EQ(dev.log[1].value, ~uint64_t{0});
    EXPECT_EQ(dev.log[1].size, 8u);
    EXPECT_EQ(flags(STATUS), CF | SF | AF | PF);
}

TEST_F(Emulate, TestSetsFlagsWithoutWriting) {
    dev.set(device_base, 0x80, 4);
    ASSERT_EQ(run({0xf7, 0x03, 0x80, 0, 0, 0}, Access::read).status, Status::done);
    EXPECT_EQ(dev.log.size(), 1u);
    EXPECT_EQ(flags(ZF), 0u);
    dev.set(device_base, 0x7f, 4);
    ASSERT_EQ(run({0xf7, 0x03, 0x80, 0, 0, 0}, Access::read).status, Status::done);
    EXPECT_EQ(flags(STATUS), ZF | PF);
}

TEST_F(Emulate, TestWithRegisterByte) {
    dev.set(device_base, 0x81, 1);
    regs.gpr[0] = 0x80;
    ASSERT_EQ(run({0x84, 0x03}, Access::read).status, Status::done); // test [rbx], al
    EXPECT_EQ(flags(STATUS), SF);
    EXPECT_EQ(regs.gpr[0], 0x80u);
}

TEST_F(Emulate, CmpEqualLessGreater) {
    dev.set(device_base, 5, 4);
    ASSERT_EQ(run({0x83, 0x3b, 0x05}, Access::read).status, Status::done); // cmp dword [rbx], 5
    EXPECT_EQ(flags(STATUS), ZF | PF);
    dev.set(device_base, 4, 4);
    ASSERT_EQ(run({0x83, 0x3b, 0x05}, Access::read).status, Status::done); // 4 - 5
    EXPECT_EQ(flags(CF | ZF | SF), CF | SF);
    dev.set(device_base, 6, 4);
    ASSERT_EQ(run({0x83, 0x3b, 0x05}, Access::read).status, Status::done);
    EXPECT_EQ(flags(CF | ZF | SF), 0u);
    for (const Recorded& a : dev.log)
        EXPECT_FALSE(a.write);
}

TEST_F(Emulate, CmpRegisterWithDeviceKeepsOperandOrder) {
    dev.set(device_base, 10, 4);
    regs.gpr[0] = 3;
    ASSERT_EQ(run({0x3b, 0x03}, Access::read).status, Status::done); // cmp eax, [rbx]: 3 - 10
    EXPECT_EQ(flags(CF), CF);
    EXPECT_EQ(regs.gpr[0], 3u);
}

TEST_F(Emulate, CmpWordSignExtendedImmediate) {
    dev.set(device_base, 0xfff0, 2);
    ASSERT_EQ(run({0x66, 0x83, 0x3b, 0xf0}, Access::read).status, Status::done); // cmp [rbx], -16
    EXPECT_EQ(flags(ZF), ZF);
    EXPECT_EQ(dev.log[0].size, 2u);
}

TEST_F(Emulate, LockedAddAndOtherFlagsKept) {
    dev.set(device_base, 1, 4);
    regs.rflags |= DF | (1u << 9); // IF and DF are not status flags: untouched
    ASSERT_EQ(run({0xf0, 0x83, 0x03, 0x01}, Access::read).status, Status::done);
    EXPECT_EQ(dev.log[1].value, 2u);
    EXPECT_EQ(regs.rflags & (DF | (1u << 9) | 2u), DF | (1u << 9) | 2u);
}

// The host processor is the reference: run the same operation natively (register form: the
// flags do not depend on where the operand lives) and compare the result and status flags.
// LAHF/SETO read the flags without the stack, which the red zone makes unsafe in inline asm.
#define HOST_OP(name, insn)                                                              \
    template <typename T> uint64_t host_##name(T& a, T b) {                              \
        uint16_t ax;                                                                     \
        asm(insn " %[b], %[a]\n\tlahf\n\tseto %%al" : [a] "+r"(a), "=a"(ax) : [b] "r"(b) \
            : "cc");                                                                     \
        return ((ax >> 8) & STATUS & 0xff) | (ax & 1 ? OF : 0);                            \
    }
HOST_OP(add, "add")
HOST_OP(sub, "sub")
HOST_OP(and, "and")
HOST_OP(or, "or")
HOST_OP(xor, "xor")
#undef HOST_OP

template <typename T> void compare_with_host(Emulate& t, uint8_t opcode, const char* name,
                                             uint64_t (*host)(T&, T)) {
    const uint64_t samples[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff,
                                0x80000000, 0xffffffff, 0x7fffffffffffffff, 0x8000000000000000,
                                ~uint64_t{0}, 0x0123456789abcdef, 0xf0f0f0f00f0f0f0f, 0x10};
    for (uint64_t a : samples)
        for (uint64_t b : samples) {
            // op [rbx], ecx with the size chosen by prefix (SDM Vol. 2A 2.1: 66 and REX.W).
            std::vector<uint8_t> bytes;
            if (sizeof(T) == 2)
                bytes.push_back(0x66);
            if (sizeof(T) == 8)
                bytes.push_back(0x48);
            bytes.push_back(sizeof(T) == 1 ? opcode : static_cast<uint8_t>(opcode + 1));
            bytes.push_back(0x0b);
            t.dev.log.clear();
            t.dev.set(device_base, a);
            t.regs.gpr[1] = b;
            t.regs.rflags = 0x2;
            const Result r = emulate(bytes.data(), bytes.size(), CpuMode::bits64, t.regs,
                                     {device_base, Access::read}, t.dev, t.mem);
            ASSERT_EQ(r.status, Status::done);
            T x = static_cast<T>(a);
            uint64_t want = host(x, static_cast<T>(b));
            uint64_t got = t.regs.rflags & STATUS;
            if (opcode != 0x00 && opcode != 0x28) { // AF is undefined after logic ops
                want &= ~AF;
                got &= ~AF;
            }
            ASSERT_EQ(got, want) << name << sizeof(T) << " a=" << a << " b=" << b;
            ASSERT_EQ(t.dev.log.back().value, static_cast<uint64_t>(x)) << name << sizeof(T);
        }
}

template <typename T> void compare_all(Emulate& t) {
    compare_with_host<T>(t, 0x00, "add", host_add<T>);
    compare_with_host<T>(t, 0x28, "sub", host_sub<T>);
    compare_with_host<T>(t, 0x20, "and", host_and<T>);
    compare_with_host<T>(t, 0x08, "or", host_or<T>);
    compare_with_host<T>(t, 0x30, "xor", host_xor<T>);
}

TEST_F(Emulate, FlagsMatchHostByte) { compare_all<uint8_t>(*this); }
TEST_F(Emulate, FlagsMatchHostWord) { compare_all<uint16_t>(*this); }
TEST_F(Emulate, FlagsMatchHostDword) { compare_all<uint32_t>(*this); }
TEST_F(Emulate, FlagsMatchHostQword) { compare_all<uint64_t>(*this); }

} // namespace
} // namespace devices::x86::test
