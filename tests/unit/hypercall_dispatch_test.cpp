// The checks every call shares and the handlers, against the fake platform (TLFS 3.x, 7.x, 15.x).
#include <gtest/gtest.h>

#include "tests/fuzz/fake_platform.hpp"

namespace {

using hcfake::FakePlatform;
using hypercalls::Outcome;
using tlfs::Status;
namespace cw = tlfs::control;
namespace code = tlfs::call;

constexpr uint64_t in = FakePlatform::base, out = FakePlatform::base + 4096;

struct Hypercall : ::testing::Test {
    FakePlatform pf;
    Outcome run(uint64_t control, uint64_t rdx = in, uint64_t r8 = out) { return hypercalls::execute(pf, {control, rdx, r8}); }
    Status status(uint64_t control, uint64_t rdx = in, uint64_t r8 = out) {
        return static_cast<Status>(tlfs::result::status(run(control, rdx, r8).rax));
    }
    void header(uint64_t partition = tlfs::partition_id_self, uint32_t vp = tlfs::vp_index_self) {
        pf.put(in, tlfs::VpRegistersInput{partition, vp, 0, {}});
    }
};

TEST_F(Hypercall, GetPartitionIdWritesTheCallersId) {
    EXPECT_EQ(status(cw::make(code::get_partition_id)), Status::success);
    EXPECT_EQ(pf.get<uint64_t>(out), 7u);
    pf.priv = 0;
    EXPECT_EQ(status(cw::make(code::get_partition_id)), Status::access_denied);
}

TEST_F(Hypercall, UnknownAndReservedCodes) {
    EXPECT_EQ(status(cw::make(0x7)), Status::invalid_hypercall_code);
    EXPECT_EQ(status(cw::make(code::create_partition)), Status::invalid_hypercall_code);
    EXPECT_EQ(status(cw::make(0x7) | (1ull << 63)), Status::invalid_hypercall_input);   // reserved bits first
}

TEST_F(Hypercall, ShapeOfTheControlWord) {
    EXPECT_EQ(status(cw::make(code::get_partition_id, false, 1)), Status::invalid_hypercall_input);
    EXPECT_EQ(status(cw::make(code::get_vp_registers, false, 0)), Status::invalid_hypercall_input);
    EXPECT_EQ(status(cw::make(code::get_vp_registers, false, 2, 2)), Status::invalid_hypercall_input);
    EXPECT_EQ(status(cw::make(code::get_partition_id, false, 0, 0, 1)), Status::invalid_hypercall_input);
    EXPECT_EQ(status(cw::make(code::get_partition_id, true)), Status::invalid_hypercall_input);
    EXPECT_EQ(status(cw::make(code::send_synthetic_cluster_ipi_ex, true, 0, 0, 1)), Status::invalid_hypercall_input);
}

TEST_F(Hypercall, MemoryLists) {
    header();
    uint64_t get1 = cw::make(code::get_vp_registers, false, 1);
    EXPECT_EQ(status(get1, in + 4, out), Status::invalid_alignment);
    EXPECT_EQ(status(get1, in, out + 4), Status::invalid_alignment);
    EXPECT_EQ(status(get1, in + 4096 - 16, out), Status::invalid_alignment);      // 20 bytes cross
    EXPECT_EQ(status(cw::make(code::get_vp_registers, false, 2), in, out + 4096 - 16), Status::invalid_alignment);
    EXPECT_EQ(status(get1, in, pf.width_end), Status::invalid_alignment);
    EXPECT_EQ(status(get1, in, 0x5000), Status::access_denied);                    // not mapped
    EXPECT_EQ(status(get1, in, FakePlatform::base + 3 * 4096), Status::access_denied);   // read-only
    EXPECT_EQ(status(get1, in, in + 8), Status::invalid_alignment);                // overlapping
    EXPECT_EQ(status(cw::make(code::get_partition_id), 0x13, out), Status::success);   // no input list
    EXPECT_TRUE(pf.writes.within(out, 8));
}

TEST_F(Hypercall, RepCallsArePreemptedAndResumed) {
    header();
    for (uint32_t i = 0; i < 100; i++)
        pf.put(in + 16 + 4 * i, tlfs::reg::rax + (i % 8));
    for (int i = 0; i < 8; i++)
        pf.regs[i] = 0x100 + i;
    uint64_t control = cw::make(code::get_vp_registers, false, 100);
    int exits = 0;
    Outcome o;
    while ((o = run(control)).action == Outcome::Action::resume) {
        hypercalls::Control c;
        ASSERT_TRUE(hypercalls::decode_control(o.control, c));
        EXPECT_EQ(c.rep_start, (exits + 1) * hypercalls::rep_budget);
        control = o.control;
        ASSERT_LT(++exits, 10);
    }
    EXPECT_EQ(exits, (100 - 1) / hypercalls::rep_budget);
    EXPECT_EQ(tlfs::result::status(o.rax), 0);
    EXPECT_EQ(tlfs::result::reps(o.rax), 100);
    for (uint32_t i = 0; i < 100; i++)
        EXPECT_EQ(pf.get<uint64_t>(out + 16 * i), 0x100u + i % 8);
}

TEST_F(Hypercall, RepErrorReportsRepsCompleted) {
    header();
    pf.put(in + 16, tlfs::reg::rax);
    pf.put(in + 20, tlfs::reg::rax + 1);
    pf.put(in + 24, 0x9999u);
    Outcome o = run(cw::make(code::get_vp_registers, false, 3));
    EXPECT_EQ(tlfs::result::status(o.rax), static_cast<uint16_t>(Status::invalid_parameter));
    EXPECT_EQ(tlfs::result::reps(o.rax), 2);
}

TEST_F(Hypercall, VpRegistersTargetOnlyTheCaller) {
    uint64_t get1 = cw::make(code::get_vp_registers, false, 1);
    pf.put(in + 16, tlfs::reg::rax);
    header(7, 1);
    EXPECT_EQ(status(get1), Status::success);
    header(8, 1);
    EXPECT_EQ(status(get1), Status::invalid_partition_id);
    header(tlfs::partition_id_self, 0);
    EXPECT_EQ(status(get1), Status::access_denied);
    header(tlfs::partition_id_self, 3);
    EXPECT_EQ(status(get1), Status::invalid_vp_index);
    pf.put(in, tlfs::VpRegistersInput{tlfs::partition_id_self, tlfs::vp_index_self, 1, {}});
    EXPECT_EQ(status(get1), Status::invalid_parameter);
    header();
    pf.put(in + 16, tlfs::RegisterAssoc{tlfs::reg::rax + 3, 0, 0, {0xabc, 0}});
    EXPECT_EQ(status(cw::make(code::set_vp_registers, false, 1), in, 0), Status::success);
    EXPECT_EQ(pf.regs[3], 0xabcu);
}

TEST_F(Hypercall, FlushNamesVpsByMaskAndSparseSet) {
    pf.put(in, tlfs::FlushSpaceInput{0, 0, 0b101});
    EXPECT_EQ(status(cw::make(code::flush_virtual_address_space), in, 0), Status::success);
    EXPECT_EQ(pf.flushed, 0b101u);   // VP 2 exists; VPs beyond the count are ignored
    pf.flushed = 0;
    pf.put(in, tlfs::FlushSpaceInput{0, tlfs::flush::all_processors, 0});
    EXPECT_EQ(status(cw::make(code::flush_virtual_address_list, false, 5), in, 0), Status::success);
    EXPECT_EQ(pf.flushed, 0b111u);
    pf.put(in, tlfs::FlushSpaceInput{0, 1ull << 9, 1});
    EXPECT_EQ(status(cw::make(code::flush_virtual_address_space), in, 0), Status::invalid_parameter);
    pf.flushed = 0;
    pf.put(in, tlfs::FlushSpaceExInput{0, 0, tlfs::vp_set::sparse_4k, 1});
    pf.put(in + 32, uint64_t{0b10});
    EXPECT_EQ(status(cw::make(code::flush_virtual_address_space_ex, false, 0, 0, 1), in, 0), Status::success);
    EXPECT_EQ(pf.flushed, 0b10u);
    EXPECT_EQ(status(cw::make(code::flush_virtual_address_space_ex, false, 0, 0, 0), in, 0),
              Status::invalid_hypercall_input);
    pf.put(in, tlfs::FlushSpaceExInput{0, 0, 5, 1});
    EXPECT_EQ(status(cw::make(code::flush_virtual_address_space_ex, false, 0, 0, 1), in, 0), Status::invalid_parameter);
}

TEST_F(Hypercall, SyntheticIpisValidateTheVector) {
    EXPECT_EQ(status(cw::make(code::send_synthetic_cluster_ipi, true), 0x31, 0b11), Status::success);
    EXPECT_EQ(pf.ipi_targets, 0b11u);
    EXPECT_EQ(pf.ipi_vector, 0x31);
    EXPECT_EQ(status(cw::make(code::send_synthetic_cluster_ipi, true), 0x0f, 1), Status::invalid_parameter);
    EXPECT_EQ(status(cw::make(code::send_synthetic_cluster_ipi, true), 0x100, 1), Status::invalid_parameter);
    pf.ipi_targets = 0;
    pf.put(in, tlfs::SendIpiExInput{0x40, 0, {}, tlfs::vp_set::all, 0});
    EXPECT_EQ(status(cw::make(code::send_synthetic_cluster_ipi_ex), in, 0), Status::success);
    EXPECT_EQ(pf.ipi_targets, 0b111u);
}

TEST_F(Hypercall, MessagesAndEventsHaveNoConnectionYet) {
    tlfs::PostMessageInput m{};
    m.message_type = 1;
    m.payload_size = 240;
    pf.put(in, m);
    EXPECT_EQ(status(cw::make(code::post_message), in, 0), Status::invalid_connection_id);
    m.payload_size = 241;
    pf.put(in, m);
    EXPECT_EQ(status(cw::make(code::post_message), in, 0), Status::invalid_parameter);
    pf.priv &= ~tlfs::privilege::post_messages;
    EXPECT_EQ(status(cw::make(code::post_message), in, 0), Status::access_denied);
    EXPECT_EQ(status(cw::make(code::signal_event, true), 1 | (5ull << 32), 0), Status::invalid_connection_id);
    EXPECT_EQ(status(cw::make(code::signal_event, true), 1 | (2048ull << 32), 0), Status::invalid_parameter);
    EXPECT_EQ(status(cw::make(code::notify_long_spin_wait, true), 5, 0), Status::success);
}

} // namespace
