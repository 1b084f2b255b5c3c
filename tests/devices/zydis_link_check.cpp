// A partition kernel that only proves the freestanding Zydis build and the MMIO emulator link
// into an image with nothing but the partition runtime (tests/devices/CMakeLists.txt). Booted,
// it emulates one store and reports what it did, so it doubles as a smoke test.
#include "partitions/devices/x86_emulate.hpp"
#include "partitions/rt/rt.hpp"

namespace {

class LastWrite final : public devices::x86::MmioBus {
public:
    uint64_t gpa = 0, value = 0;
    unsigned size = 0;
    void write(uint64_t g, unsigned s, uint64_t v) override {
        gpa = g;
        size = s;
        value = v;
    }
};

class NoMemory final : public devices::x86::GuestMemory {};

} // namespace

int rt::partition_main(const root_abi::RootHandoff&) {
    using namespace devices::x86;
    static const uint8_t mov_store[] = {0x89, 0x03}; // mov [rbx], eax
    Registers regs;
    regs.gpr[0] = 0x12345678;
    LastWrite bus;
    NoMemory memory;
    const Result r = emulate(mov_store, sizeof mov_store, CpuMode::bits64, regs,
                             MmioFault{0xfeb00000, Access::write}, bus, memory);
    rt::log("zydis_link_check: status=%u gpa=%#lx size=%u value=%#lx rip=%lu\n",
            static_cast<unsigned>(r.status), bus.gpa, bus.size, bus.value, regs.rip);
    const bool ok = r.status == Status::done && bus.value == 0x12345678 && regs.rip == 2;
    return ok ? 0 : 1;
}

void rt::ap_main(uint32_t) {}
