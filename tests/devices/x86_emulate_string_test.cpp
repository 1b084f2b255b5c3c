// MOVS and STOS, with and without REP: direction, address size, count, the per-call bound, the
// device page boundary, faults on the ordinary-memory side, and the access-type check.
#include "tests/devices/x86_emulate_fixture.hpp"

namespace devices::x86::test {
namespace {

constexpr unsigned rcx = 1, rsi = 6, rdi = 7;

TEST_F(Emulate, StosbSingle) {
    regs.gpr[0] = 0x1234;
    regs.gpr[rdi] = 0x5000;
    const Result r = run({0xaa}, Access::write);
    ASSERT_EQ(r.status, Status::done);
    EXPECT_EQ(r.iterations, 1u);
    ASSERT_EQ(dev.log.size(), 1u);
    EXPECT_EQ(dev.log[0].size, 1u);
    EXPECT_EQ(dev.log[0].value, 0x34u);
    EXPECT_EQ(regs.gpr[rdi], 0x5001u);
    EXPECT_EQ(regs.rip, 1u);
}

TEST_F(Emulate, StoswBackwardWithDf) {
    regs.rflags |= DF;
    regs.gpr[0] = 0xbeef;
    regs.gpr[rdi] = 0x5000;
    ASSERT_EQ(run({0x66, 0xab}, Access::write, device_base + 0x10).status, Status::done);
    EXPECT_EQ(dev.log[0].gpa, device_base + 0x10);
    EXPECT_EQ(dev.log[0].value, 0xbeefu);
    EXPECT_EQ(regs.gpr[rdi], 0x4ffeu);
}

TEST_F(Emulate, RepStosqWritesCountElements) {
    regs.gpr[0] = 0x0123456789abcdef;
    regs.gpr[rcx] = 4;
    regs.gpr[rdi] = 0x5000;
    const Result r = run({0xf3, 0x48, 0xab}, Access::write);
    ASSERT_EQ(r.status, Status::done);
    EXPECT_EQ(r.iterations, 4u);
    ASSERT_EQ(dev.log.size(), 4u);
    for (unsigned i = 0; i < 4; i++) {
        EXPECT_EQ(dev.log[i].gpa, device_base + 8 * i);
        EXPECT_EQ(dev.log[i].value, 0x0123456789abcdefu);
    }
    EXPECT_EQ(regs.gpr[rcx], 0u);
    EXPECT_EQ(regs.gpr[rdi], 0x5020u);
    EXPECT_EQ(regs.rip, 3u);
}

TEST_F(Emulate, RepWithZeroCountOnlyAdvancesRip) {
    regs.gpr[rcx] = 0;
    const Result r = run({0xf3, 0xaa}, Access::write);
    ASSERT_EQ(r.status, Status::done);
    EXPECT_EQ(r.iterations, 0u);
    EXPECT_TRUE(dev.log.empty());
    EXPECT_EQ(regs.rip, 2u);
}

TEST_F(Emulate, RepIsBoundedPerCallAndResumes) {
    regs.gpr[rcx] = 1000;
    const Result first = run({0xf3, 0xaa}, Access::write);
    ASSERT_EQ(first.status, Status::done);
    EXPECT_EQ(first.iterations, max_rep_iterations);
    EXPECT_EQ(regs.gpr[rcx], 1000u - max_rep_iterations);
    EXPECT_EQ(regs.rip, 0u); // the guest re-executes the REP STOSB for the rest
    while (regs.rip == 0)
        ASSERT_EQ(run({0xf3, 0xaa}, Access::write, device_base + regs.gpr[rdi]).status,
                  Status::done);
    EXPECT_EQ(regs.gpr[rcx], 0u);
    EXPECT_EQ(regs.gpr[rdi], 1000u);
    EXPECT_EQ(dev.log.size(), 1000u);
}

TEST_F(Emulate, RepStopsAtDevicePageEnd) {
    regs.gpr[rcx] = 4;
    const Result r = run({0xf3, 0x48, 0xab}, Access::write, device_base + 0xff0);
    ASSERT_EQ(r.status, Status::done);
    EXPECT_EQ(r.iterations, 2u); // 0xff0 and 0xff8; 0x1000 is another page
    EXPECT_EQ(regs.gpr[rcx], 2u);
    EXPECT_EQ(regs.rip, 0u);
}

TEST_F(Emulate, RepAddressSize32UsesEcxAndZeroExtendsEdi) {
    regs.gpr[rcx] = 0xffffffff00000002;
    regs.gpr[rdi] = 0xaaaaaaaa00001000;
    ASSERT_EQ(run({0x67, 0xf3, 0xaa}, Access::write).status, Status::done);
    EXPECT_EQ(dev.log.size(), 2u);
    EXPECT_EQ(regs.gpr[rcx], 0u);
    EXPECT_EQ(regs.gpr[rdi], 0x1002u);
}

TEST_F(Emulate, Mode16RepStoswWrapsDiAndKeepsUpperBits) {
    regs.gpr[0] = 0x5555;
    regs.gpr[rcx] = 0x12340002;
    regs.gpr[rdi] = 0x7777fffe;
    ASSERT_EQ(run({0xf3, 0xab}, Access::write, device_base, CpuMode::bits16).status, Status::done);
    ASSERT_EQ(dev.log.size(), 2u);
    EXPECT_EQ(dev.log[1].size, 2u);
    EXPECT_EQ(regs.gpr[rcx], 0x12340000u);
    EXPECT_EQ(regs.gpr[rdi], 0x77770002u); // DI wrapped within 16 bits
    EXPECT_EQ(regs.rip, 2u);
}

TEST_F(Emulate, MovsbFromRamToDevice) {
    mem.bytes[0] = 0x5a;
    regs.gpr[rsi] = memory_base;
    regs.gpr[rdi] = 0x9000;
    ASSERT_EQ(run({0xa4}, Access::write).status, Status::done);
    ASSERT_EQ(dev.log.size(), 1u);
    EXPECT_EQ(dev.log[0].value, 0x5au);
    EXPECT_EQ(mem.segs[0], Seg::ds);
    EXPECT_EQ(regs.gpr[rsi], memory_base + 1);
    EXPECT_EQ(regs.gpr[rdi], 0x9001u);
}

TEST_F(Emulate, RepMovsdFromRamToDevice) {
    const uint32_t src[3] = {0x11111111, 0x22222222, 0x33333333};
    std::memcpy(mem.bytes, src, sizeof src);
    regs.gpr[rsi] = memory_base;
    regs.gpr[rcx] = 3;
    ASSERT_EQ(run({0xf3, 0xa5}, Access::write).status, Status::done);
    ASSERT_EQ(dev.log.size(), 3u);
    for (unsigned i = 0; i < 3; i++) {
        EXPECT_EQ(dev.log[i].gpa, device_base + 4 * i);
        EXPECT_EQ(dev.log[i].value, src[i]);
    }
    EXPECT_EQ(std::memcmp(&dev.bytes[0], src, sizeof src), 0);
    EXPECT_EQ(regs.gpr[rsi], memory_base + 12);
}

TEST_F(Emulate, MovsFromDeviceToRamOnReadFault) {
    dev.set(device_base, 0xdeadbeefcafe, 8);
    regs.gpr[rdi] = memory_base + 8;
    regs.gpr[rcx] = 1;
    ASSERT_EQ(run({0xf3, 0x48, 0xa5}, Access::read).status, Status::done); // rep movsq
    EXPECT_FALSE(dev.log[0].write);
    EXPECT_EQ(mem.segs[0], Seg::es);
    uint64_t v;
    std::memcpy(&v, &mem.bytes[8], 8);
    EXPECT_EQ(v, 0xdeadbeefcafeu);
}

TEST_F(Emulate, MovsSourceSegmentOverride) {
    regs.gpr[rsi] = memory_base;
    ASSERT_EQ(run({0x64, 0xa4}, Access::write).status, Status::done); // movsb fs:[rsi]
    EXPECT_EQ(mem.segs[0], Seg::fs);
}

TEST_F(Emulate, MovsRamFaultKeepsProgress) {
    regs.gpr[rsi] = memory_base + sizeof mem.bytes - 8; // the third dword is unmapped
    regs.gpr[rcx] = 4;
    const Result r = run({0xf3, 0xa5}, Access::write);
    ASSERT_EQ(r.status, Status::fault);
    EXPECT_EQ(r.fault.vector, 14);
    EXPECT_EQ(r.fault.cr2, memory_base + sizeof mem.bytes);
    EXPECT_EQ(r.iterations, 2u);
    EXPECT_EQ(regs.gpr[rcx], 2u); // SDM Vol. 2B REP: state at the faulting iteration
    EXPECT_EQ(regs.gpr[rsi], memory_base + sizeof mem.bytes);
    EXPECT_EQ(regs.rip, 0u);
    EXPECT_EQ(dev.log.size(), 2u);
}

TEST_F(Emulate, RepneMovsRepeatsToo) {
    regs.gpr[rsi] = memory_base;
    regs.gpr[rcx] = 2;
    ASSERT_EQ(run({0xf2, 0xa4}, Access::write).status, Status::done);
    EXPECT_EQ(dev.log.size(), 2u);
    EXPECT_EQ(regs.gpr[rcx], 0u);
}

TEST_F(Emulate, StosOnReadFaultIsBad) {
    EXPECT_EQ(run({0xaa}, Access::read).status, Status::bad_instruction);
    EXPECT_TRUE(dev.log.empty());
}

TEST_F(Emulate, Mode32RepMovsw) {
    regs.gpr[rsi] = memory_base;
    regs.gpr[rcx] = 2;
    mem.bytes[0] = 1;
    mem.bytes[2] = 2;
    ASSERT_EQ(run({0x66, 0xf3, 0xa5}, Access::write, device_base, CpuMode::bits32).status,
              Status::done);
    ASSERT_EQ(dev.log.size(), 2u);
    EXPECT_EQ(dev.log[1].value, 2u);
    EXPECT_EQ(dev.log[1].size, 2u);
    EXPECT_EQ(regs.rip, 3u);
}

} // namespace
} // namespace devices::x86::test
