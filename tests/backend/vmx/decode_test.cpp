// decode_exit over raw exit fields (SDM vol 3 ch. 28 exit information, appendix C).
#include <gtest/gtest.h>

#include <cstring>

#include "vmx/exit_decode.hpp"
#include "vmx/vmcs.hpp"

namespace {

using hv::virt::ExitKind;
using vmx::RawExit;

RawExit raw(uint32_t reason, uint64_t q = 0, uint32_t len = 0) {
    RawExit e{};
    e.reason = reason;
    e.qualification = q;
    e.instr_len = len;
    return e;
}

TEST(Decode, SimpleInstructionExitsCarryTheirLength) {
    struct Case { uint32_t reason; ExitKind kind; } cases[] = {
        {10, ExitKind::cpuid}, {12, ExitKind::hlt}, {13, ExitKind::invd}, {18, ExitKind::hypercall},
        {31, ExitKind::msr_read}, {32, ExitKind::msr_write}, {40, ExitKind::pause}, {55, ExitKind::xsetbv},
    };
    for (auto c : cases) {
        auto i = vmx::decode_exit(raw(c.reason, 0, 3));
        EXPECT_EQ(i.kind, c.kind) << c.reason;
        EXPECT_EQ(i.instruction_length, 3) << c.reason;
        EXPECT_EQ(i.raw_reason, c.reason);
    }
}

TEST(Decode, VmxInstructionsAreVirtInstruction) {
    for (uint32_t r : {19u, 20u, 21u, 22u, 23u, 24u, 25u, 26u, 27u, 50u, 53u, 59u}) {
        auto i = vmx::decode_exit(raw(r, 0, 4));
        EXPECT_EQ(i.kind, ExitKind::virt_instruction) << r;
        EXPECT_EQ(i.instruction_length, 4) << r;
    }
}

TEST(Decode, EventsWithoutInstructionLength) {
    struct Case { uint32_t reason; ExitKind kind; } cases[] = {
        {2, ExitKind::triple_fault}, {3, ExitKind::init_signal}, {7, ExitKind::interrupt_window},
        {8, ExitKind::nmi_window}, {52, ExitKind::preemption_timer},
    };
    for (auto c : cases) {
        auto i = vmx::decode_exit(raw(c.reason, 0, 7));
        EXPECT_EQ(i.kind, c.kind) << c.reason;
        EXPECT_EQ(i.instruction_length, 0) << c.reason;
    }
}

TEST(Decode, SipiVectorFromQualification) {
    auto i = vmx::decode_exit(raw(4, 0x9a));
    EXPECT_EQ(i.kind, ExitKind::sipi);
    EXPECT_EQ(i.vector, 0x9a);
}

TEST(Decode, ExternalInterruptVectorWithAcknowledgeOnExit) {
    auto e = raw(1);
    e.intr_info = vmx::make_intr_info(0xef, vmx::EventType::external_interrupt, false);
    auto i = vmx::decode_exit(e);
    EXPECT_EQ(i.kind, ExitKind::external_interrupt);
    EXPECT_EQ(i.vector, 0xef);
    EXPECT_EQ(vmx::decode_exit(raw(1)).vector, 0);   // not acknowledged: unknown
}

TEST(Decode, ExceptionsAndNmiFromInterruptionInfo) {
    auto e = raw(0, 0xdead000);
    e.intr_info = vmx::make_intr_info(14, vmx::EventType::hardware_exception, true);
    e.intr_error = 0x6;
    auto i = vmx::decode_exit(e);
    ASSERT_EQ(i.kind, ExitKind::exception);
    EXPECT_EQ(i.exception.vector, 14);
    EXPECT_TRUE(i.exception.has_error_code);
    EXPECT_EQ(i.exception.error_code, 6u);
    EXPECT_EQ(i.exception.cr2, 0xdead000u);

    e = raw(0, 0, 1);
    e.intr_info = vmx::make_intr_info(3, vmx::EventType::software_exception, false);
    e.intr_error = 0x55;   // stale: must be ignored without the valid bit
    i = vmx::decode_exit(e);
    EXPECT_EQ(i.exception.vector, 3);
    EXPECT_FALSE(i.exception.has_error_code);
    EXPECT_EQ(i.exception.error_code, 0u);
    EXPECT_EQ(i.exception.cr2, 0u);
    EXPECT_EQ(i.instruction_length, 1);

    e = raw(0);
    e.intr_info = vmx::make_intr_info(2, vmx::EventType::nmi, false);
    EXPECT_EQ(vmx::decode_exit(e).kind, ExitKind::nmi);
}

TEST(Decode, IoQualification) {
    // OUT DX, AL to 0x3f8: size 0 (1 byte), direction 0, DX operand.
    auto i = vmx::decode_exit(raw(30, 0x03f80000ull, 1));
    ASSERT_EQ(i.kind, ExitKind::io);
    EXPECT_EQ(i.io.port, 0x3f8);
    EXPECT_EQ(i.io.size, 1);
    EXPECT_FALSE(i.io.in);
    EXPECT_FALSE(i.io.string);
    EXPECT_FALSE(i.io.rep);
    // REP INSW from 0x1f0: size 1, in, string, rep.
    i = vmx::decode_exit(raw(30, (0x1f0ull << 16) | 0x38 | 1, 3));
    EXPECT_EQ(i.io.port, 0x1f0);
    EXPECT_EQ(i.io.size, 2);
    EXPECT_TRUE(i.io.in);
    EXPECT_TRUE(i.io.string);
    EXPECT_TRUE(i.io.rep);
    // IN EAX, 0x71 (immediate operand, bit 6): size 3 -> 4 bytes.
    i = vmx::decode_exit(raw(30, (0x71ull << 16) | 0x40 | 0x8 | 3, 2));
    EXPECT_EQ(i.io.port, 0x71);
    EXPECT_EQ(i.io.size, 4);
    EXPECT_TRUE(i.io.in);
    // Encodings the SDM leaves unused still give a legal size.
    i = vmx::decode_exit(raw(30, 7));
    EXPECT_EQ(i.io.size, 4);
}

TEST(Decode, EptViolationQualification) {
    auto e = raw(48, 0x2 | 0x8 | 0x80 | 0x100);   // write to a read-only page, GVA valid
    e.guest_phys = 0x12345678;
    e.guest_linear = 0xffff800000001000ull;
    auto i = vmx::decode_exit(e);
    ASSERT_EQ(i.kind, ExitKind::gpa_access);
    EXPECT_EQ(i.gpa.gpa, 0x12345678u);
    EXPECT_FALSE(i.gpa.read);
    EXPECT_TRUE(i.gpa.write);
    EXPECT_FALSE(i.gpa.execute);
    EXPECT_TRUE(i.gpa.present);
    EXPECT_TRUE(i.gpa.gva_valid);
    EXPECT_EQ(i.gpa.gva, 0xffff800000001000ull);

    e = raw(48, 0x4);   // fetch from nothing, no linear address
    e.guest_phys = 0x1000;
    e.guest_linear = 0x5555;
    i = vmx::decode_exit(e);
    EXPECT_TRUE(i.gpa.execute);
    EXPECT_FALSE(i.gpa.present);
    EXPECT_FALSE(i.gpa.gva_valid);
    EXPECT_EQ(i.gpa.gva, 0u);
    EXPECT_EQ(i.instruction_length, 0);   // not an instruction exit: the core decodes
}

TEST(Decode, CrAccessQualification) {
    auto i = vmx::decode_exit(raw(28, 0x0300 | 0x00 | 4, 3));   // MOV CR4, RBX
    ASSERT_EQ(i.kind, ExitKind::cr_access);
    EXPECT_EQ(i.cr.cr, 4);
    EXPECT_TRUE(i.cr.write);
    EXPECT_EQ(i.cr.gpr, 3);
    i = vmx::decode_exit(raw(28, 0x0f00 | 0x10 | 3, 3));        // MOV R15, CR3
    EXPECT_EQ(i.cr.cr, 3);
    EXPECT_FALSE(i.cr.write);
    EXPECT_EQ(i.cr.gpr, 15);
    i = vmx::decode_exit(raw(28, 0x20, 2));                      // CLTS
    EXPECT_EQ(i.cr.cr, 0);
    EXPECT_TRUE(i.cr.write);
    EXPECT_EQ(i.cr.gpr, 0xff);
    i = vmx::decode_exit(raw(28, 0x30 | (0x1ull << 16), 3));     // LMSW
    EXPECT_TRUE(i.cr.write);
    EXPECT_EQ(i.cr.gpr, 0xff);
}

TEST(Decode, EntryFailuresAreInvalidState) {
    auto i = vmx::decode_exit(raw(0x80000021, 0));
    ASSERT_EQ(i.kind, ExitKind::invalid_state);
    EXPECT_EQ(i.entry.code, 0x80000021u);
    EXPECT_EQ(i.raw_reason, 0x80000021u);
    EXPECT_NE(std::strstr(i.entry.check, "invalid guest state"), nullptr);
    EXPECT_NE(std::strstr(vmx::decode_exit(raw(0x80000021, 4)).entry.check, "link pointer"), nullptr);
    EXPECT_NE(std::strstr(vmx::decode_exit(raw(0x80000022, 1)).entry.check, "MSR"), nullptr);
    EXPECT_NE(std::strstr(vmx::decode_exit(raw(0x80000029, 0)).entry.check, "machine-check"), nullptr);
}

TEST(Decode, VmFailOutcomes) {
    auto i = vmx::vmfail_intercept(true, 7);
    EXPECT_EQ(i.kind, ExitKind::invalid_state);
    EXPECT_EQ(i.entry.code, 7u);
    EXPECT_EQ(i.raw_reason, vmx::raw_vmfail_valid | 7);
    EXPECT_STREQ(i.entry.check, "VM entry with invalid control field(s)");
    i = vmx::vmfail_intercept(false, 99);
    EXPECT_EQ(i.raw_reason, vmx::raw_vmfail_invalid);
    EXPECT_EQ(i.entry.code, 0u);
}

TEST(Decode, EveryReasonIsTotal) {
    // Unknown and never-enabled reasons decode to `unknown` with the raw reason, never crash.
    for (uint32_t r : {5u, 6u, 9u, 11u, 14u, 17u, 29u, 35u, 49u, 54u, 65u, 69u, 200u, 0xffffu}) {
        auto i = vmx::decode_exit(raw(r, ~0ull, 15));
        EXPECT_EQ(i.kind, ExitKind::unknown) << r;
        EXPECT_EQ(i.raw_reason, r);
    }
    for (uint32_t r = 0; r < 0x10000; ++r) {
        RawExit e{};
        e.reason = r | ((r & 1) ? 0x80000000u : 0);
        e.qualification = ~0ull * r;
        e.intr_info = ~0u;
        e.instr_len = 0xffffffff;
        auto i = vmx::decode_exit(e);
        EXPECT_NE(i.kind, ExitKind::none);
    }
}

} // namespace
