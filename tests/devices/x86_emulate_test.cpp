// MOV, MOVZX/MOVSX and XCHG against a device page; RIP and RF after emulation; the cases the
// emulator must refuse (unsupported, bad_instruction) without touching the device or registers.
#include "tests/devices/x86_emulate_fixture.hpp"

namespace devices::x86::test {
namespace {

TEST_F(Emulate, MovStoreEachSize) {
    regs.gpr[0] = 0x1122334455667788;
    EXPECT_EQ(run({0x88, 0x03}, Access::write).status, Status::done);       // byte
    EXPECT_EQ(run({0x66, 0x89, 0x03}, Access::write).status, Status::done); // word
    EXPECT_EQ(run({0x89, 0x03}, Access::write).status, Status::done);       // dword
    EXPECT_EQ(run({0x48, 0x89, 0x03}, Access::write).status, Status::done); // qword
    ASSERT_EQ(dev.log.size(), 4u);
    const unsigned sizes[] = {1, 2, 4, 8};
    const uint64_t values[] = {0x88, 0x7788, 0x55667788, 0x1122334455667788};
    for (int i = 0; i < 4; i++) {
        EXPECT_TRUE(dev.log[i].write);
        EXPECT_EQ(dev.log[i].gpa, device_base);
        EXPECT_EQ(dev.log[i].size, sizes[i]);
        EXPECT_EQ(dev.log[i].value, values[i]);
    }
    EXPECT_EQ(regs.rip, 2u + 3 + 2 + 3);
}

TEST_F(Emulate, MovStoreHighByteAndExtendedRegister) {
    regs.gpr[0] = 0xabcd;
    regs.gpr[9] = 0xfeedface00000042;
    ASSERT_EQ(run({0x88, 0x23}, Access::write).status, Status::done);       // mov [rbx], ah
    ASSERT_EQ(run({0x44, 0x89, 0x0b}, Access::write).status, Status::done); // mov [rbx], r9d
    EXPECT_EQ(dev.log[0].value, 0xabu);
    EXPECT_EQ(dev.log[1].value, 0x42u);
}

TEST_F(Emulate, MovLoadByteAndWordKeepUpperBits) {
    dev.set(device_base, 0x1234);
    regs.gpr[1] = 0xffffffffffffffff;
    ASSERT_EQ(run({0x8a, 0x0b}, Access::read).status, Status::done); // mov cl, [rbx]
    EXPECT_EQ(regs.gpr[1], 0xffffffffffffff34u);
    ASSERT_EQ(run({0x66, 0x8b, 0x0b}, Access::read).status, Status::done); // mov cx, [rbx]
    EXPECT_EQ(regs.gpr[1], 0xffffffffffff1234u);
}

TEST_F(Emulate, MovLoadDwordZeroExtends) {
    dev.set(device_base, 0x8765432112345678);
    regs.gpr[1] = 0xffffffffffffffff;
    ASSERT_EQ(run({0x8b, 0x0b}, Access::read).status, Status::done); // mov ecx, [rbx]
    EXPECT_EQ(regs.gpr[1], 0x12345678u);                            // SDM Vol. 1 3.4.1.1
    EXPECT_EQ(dev.log[0].size, 4u);
}

TEST_F(Emulate, MovLoadQwordAndHighByte) {
    dev.set(device_base, 0x8765432112345678);
    ASSERT_EQ(run({0x4c, 0x8b, 0x23}, Access::read).status, Status::done); // mov r12, [rbx]
    EXPECT_EQ(regs.gpr[12], 0x8765432112345678u);
    regs.gpr[3] = 0x1111;
    ASSERT_EQ(run({0x8a, 0x3b}, Access::read).status, Status::done); // mov bh, [rbx]
    EXPECT_EQ(regs.gpr[3], 0x7811u);
}

TEST_F(Emulate, MovStoreImmediates) {
    ASSERT_EQ(run({0xc6, 0x03, 0xab}, Access::write).status, Status::done);
    ASSERT_EQ(run({0x66, 0xc7, 0x03, 0xef, 0xbe}, Access::write).status, Status::done);
    ASSERT_EQ(run({0xc7, 0x03, 0x78, 0x56, 0x34, 0x12}, Access::write).status, Status::done);
    ASSERT_EQ(run({0x48, 0xc7, 0x03, 0xfe, 0xff, 0xff, 0xff}, Access::write).status, Status::done);
    EXPECT_EQ(dev.log[0].value, 0xabu);
    EXPECT_EQ(dev.log[1].value, 0xbeefu);
    EXPECT_EQ(dev.log[2].value, 0x12345678u);
    EXPECT_EQ(dev.log[3].value, 0xfffffffffffffffeu); // imm32 sign-extended to 64 bits
    EXPECT_EQ(dev.log[3].size, 8u);
    EXPECT_EQ(regs.rip, 3u + 5 + 6 + 7);
}

TEST_F(Emulate, MovMoffsLoadAndStore) {
    dev.set(device_base, 0xcafef00d, 4);
    ASSERT_EQ(run({0xa1, 0, 0, 0xb0, 0xfe, 0, 0, 0, 0}, Access::read).status, Status::done);
    EXPECT_EQ(regs.gpr[0], 0xcafef00du);
    regs.gpr[0] = 0x600d;
    ASSERT_EQ(run({0xa3, 0, 0, 0xb0, 0xfe, 0, 0, 0, 0}, Access::write).status, Status::done);
    EXPECT_EQ(dev.log[1].value, 0x600du);
    EXPECT_EQ(regs.rip, 18u);
}

TEST_F(Emulate, MovzxByteAndWord) {
    dev.set(device_base, 0xfff0);
    regs.gpr[0] = ~uint64_t{0};
    ASSERT_EQ(run({0x0f, 0xb6, 0x03}, Access::read).status, Status::done); // movzx eax, byte
    EXPECT_EQ(regs.gpr[0], 0xf0u);
    EXPECT_EQ(dev.log[0].size, 1u);
    ASSERT_EQ(run({0x48, 0x0f, 0xb7, 0x03}, Access::read).status, Status::done); // movzx rax, word
    EXPECT_EQ(regs.gpr[0], 0xfff0u);
    EXPECT_EQ(dev.log[1].size, 2u);
}

TEST_F(Emulate, MovsxByteWordDword) {
    dev.set(device_base, 0x80008080);
    ASSERT_EQ(run({0x0f, 0xbe, 0x03}, Access::read).status, Status::done); // movsx eax, byte
    EXPECT_EQ(regs.gpr[0], 0xffffff80u);                                   // and zero-extended
    ASSERT_EQ(run({0x48, 0x0f, 0xbf, 0x03}, Access::read).status, Status::done); // rax, word
    EXPECT_EQ(regs.gpr[0], 0xffffffffffff8080u);
    ASSERT_EQ(run({0x48, 0x63, 0x03}, Access::read).status, Status::done); // movsxd rax, dword
    EXPECT_EQ(regs.gpr[0], 0xffffffff80008080u);
}

TEST_F(Emulate, MovsxPositiveAndIntoWord) {
    dev.set(device_base, 0x7f);
    regs.gpr[0] = 0xaaaaaaaaaaaaaaaa;
    ASSERT_EQ(run({0x66, 0x0f, 0xbe, 0x03}, Access::read).status, Status::done); // movsx ax, byte
    EXPECT_EQ(regs.gpr[0], 0xaaaaaaaaaaaa007fu);
}

TEST_F(Emulate, XchgSwapsRegisterAndDevice) {
    dev.set(device_base, 0x11111111);
    regs.gpr[0] = 0x22222222;
    ASSERT_EQ(run({0x87, 0x03}, Access::read).status, Status::done); // xchg [rbx], eax
    EXPECT_EQ(regs.gpr[0], 0x11111111u);
    ASSERT_EQ(dev.log.size(), 2u);
    EXPECT_FALSE(dev.log[0].write);
    EXPECT_TRUE(dev.log[1].write);
    EXPECT_EQ(dev.log[1].value, 0x22222222u);
}

TEST_F(Emulate, XchgQwordWithR8OnWriteFault) {
    dev.set(device_base, 0x0102030405060708);
    regs.gpr[8] = 0xa0a0a0a0b0b0b0b0;
    ASSERT_EQ(run({0x4c, 0x87, 0x03}, Access::write).status, Status::done);
    EXPECT_EQ(regs.gpr[8], 0x0102030405060708u);
    EXPECT_EQ(dev.log[1].value, 0xa0a0a0a0b0b0b0b0u);
}

TEST_F(Emulate, RipAdvancesByLengthAndRfClears) {
    regs.rip = 0x1000;
    regs.rflags |= RF;
    const Result r = run({0x64, 0x48, 0x89, 0x83, 0x10, 0x00, 0x00, 0x00}, Access::write);
    ASSERT_EQ(r.status, Status::done); // mov fs:[rbx+0x10], rax
    EXPECT_EQ(r.length, 8);
    EXPECT_EQ(regs.rip, 0x1008u);
    EXPECT_EQ(regs.rflags & RF, 0u);
}

TEST_F(Emulate, Mode32EipWraps) {
    regs.rip = 0xfffffffe;
    regs.gpr[0] = 0x12345678;
    ASSERT_EQ(run({0x89, 0x03}, Access::write, device_base, CpuMode::bits32).status,
              Status::done);
    EXPECT_EQ(regs.rip, 0u);
    EXPECT_EQ(dev.log[0].size, 4u);
}

TEST_F(Emulate, Mode16OperandsAndIpWrap) {
    regs.rip = 0xffff;
    regs.gpr[0] = 0x12345678;
    ASSERT_EQ(run({0x89, 0x07}, Access::write, device_base, CpuMode::bits16).status,
              Status::done); // mov [bx], ax
    EXPECT_EQ(dev.log[0].size, 2u);
    EXPECT_EQ(dev.log[0].value, 0x5678u);
    EXPECT_EQ(regs.rip, 1u);
    ASSERT_EQ(run({0x66, 0x89, 0x07}, Access::write, device_base, CpuMode::bits16).status,
              Status::done); // mov [bx], eax
    EXPECT_EQ(dev.log[1].size, 4u);
}

TEST_F(Emulate, UnsupportedWithoutMemory) {
    const Registers before = regs;
    EXPECT_EQ(run({0x01, 0xc3}, Access::read).status, Status::unsupported);       // add ebx, eax
    EXPECT_EQ(run({0x90}, Access::read).status, Status::unsupported);             // nop
    EXPECT_EQ(run({0x48, 0x8d, 0x03}, Access::read).status, Status::unsupported); // lea
    EXPECT_EQ(run({0x0f, 0xb6, 0xc3}, Access::read).status, Status::unsupported); // movzx eax, bl
    EXPECT_EQ(std::memcmp(&before, &regs, sizeof regs), 0);
    EXPECT_TRUE(dev.log.empty());
}

TEST_F(Emulate, UnsupportedMemoryInstructions) {
    EXPECT_EQ(run({0xff, 0x03}, Access::read).status, Status::unsupported);             // inc
    EXPECT_EQ(run({0x8c, 0x1b}, Access::write).status, Status::unsupported);            // mov [rbx], ds
    EXPECT_EQ(run({0xf2, 0x0f, 0x10, 0x03}, Access::read).status, Status::unsupported); // movsd xmm
    EXPECT_EQ(run({0xac}, Access::read).status, Status::unsupported);                   // lodsb
    EXPECT_EQ(run({0x11, 0x03}, Access::read).status, Status::unsupported);             // adc
    EXPECT_TRUE(dev.log.empty());
    EXPECT_EQ(regs.rip, 0u);
}

TEST_F(Emulate, BadBytes) {
    EXPECT_EQ(run({}, Access::read).status, Status::bad_instruction);
    EXPECT_EQ(run({0x89}, Access::write).status, Status::bad_instruction);
    EXPECT_EQ(run({0x48, 0xc7, 0x03, 0xfe}, Access::write).status, Status::bad_instruction);
    EXPECT_EQ(run({0x06}, Access::read).status, Status::bad_instruction);
    EXPECT_EQ(run({0xf0, 0x89, 0x03}, Access::write).status, Status::bad_instruction);
    EXPECT_TRUE(dev.log.empty());
    EXPECT_EQ(regs.rip, 0u);
}

TEST_F(Emulate, AccessTheInstructionNeverMakesIsBad) {
    EXPECT_EQ(run({0x89, 0x03}, Access::read).status, Status::bad_instruction);        // store
    EXPECT_EQ(run({0x8b, 0x03}, Access::write).status, Status::bad_instruction);       // load
    EXPECT_EQ(run({0x83, 0x3b, 0x05}, Access::write).status, Status::bad_instruction); // cmp
    EXPECT_EQ(run({0x0f, 0xb6, 0x03}, Access::write).status, Status::bad_instruction); // movzx
    EXPECT_TRUE(dev.log.empty());
}

TEST_F(Emulate, DefaultBusReadsAllOnesAndDefaultMemoryFaults) {
    struct Unclaimed final : MmioBus {} bus;
    struct NoMemory final : GuestMemory {} memory;
    const uint8_t load[] = {0x8b, 0x03};
    ASSERT_EQ(emulate(load, 2, CpuMode::bits64, regs, {device_base, Access::read}, bus, memory)
                  .status,
              Status::done);
    EXPECT_EQ(regs.gpr[0], 0xffffffffu);
    const uint8_t movsb[] = {0xa4};
    const Result r = emulate(movsb, 1, CpuMode::bits64, regs, {device_base, Access::write}, bus,
                             memory);
    EXPECT_EQ(r.status, Status::fault);
    EXPECT_EQ(r.fault.vector, 13);
}

} // namespace
} // namespace devices::x86::test
