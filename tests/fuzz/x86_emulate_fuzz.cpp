// libFuzzer target over the MMIO emulator: random instruction bytes, registers, CPU mode, access
// type and device data. Beyond the sanitizers' checks it asserts the emulator's contract: no
// device access or register change unless the instruction was emulated, accesses of 1/2/4/8
// bytes inside the faulting device page after the first, at most max_rep_iterations per call,
// RIP advanced by exactly the decoded length when an instruction completes.
// Built by tests/devices/fuzz.cmake with clang++-14 into build/fuzz/x86_emulate_fuzz.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "partitions/devices/x86_emulate.hpp"

using namespace devices::x86;

namespace {

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

struct Input {
    const uint8_t* p;
    size_t n;
    uint64_t take(unsigned bytes) {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes && n; i++, n--)
            v |= uint64_t{*p++} << (8 * i);
        return v;
    }
};

class Device final : public MmioBus {
public:
    uint64_t first_gpa = 0, seed = 0;
    unsigned accesses = 0;
    uint64_t read(uint64_t gpa, unsigned size) override {
        check(gpa, size);
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        return seed; // the emulator must truncate what a device returns
    }
    void write(uint64_t gpa, unsigned size, uint64_t value) override {
        check(gpa, size);
        CHECK(size == 8 || (value >> (8 * size)) == 0);
    }

private:
    void check(uint64_t gpa, unsigned size) {
        CHECK(size == 1 || size == 2 || size == 4 || size == 8);
        CHECK(accesses == 0 ? gpa == first_gpa : gpa >> 12 == first_gpa >> 12);
        CHECK(++accesses <= 2 * max_rep_iterations);
    }
};

class Memory final : public GuestMemory {
public:
    uint64_t fault_below = 0; // offsets below this fault, above it read back a pattern
    bool read(Seg, uint64_t offset, unsigned size, uint64_t& value, Fault& fault) override {
        CHECK(size == 1 || size == 2 || size == 4 || size == 8);
        if (offset < fault_below) {
            fault = Fault{14, true, 0, offset};
            return false;
        }
        value = offset * 0x9e3779b97f4a7c15u;
        return true;
    }
    bool write(Seg, uint64_t offset, unsigned size, uint64_t value, Fault& fault) override {
        CHECK(size == 8 || (value >> (8 * size)) == 0);
        return read(Seg::es, offset, size, value, fault);
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    const uint64_t control = in.take(1);
    const CpuMode mode = static_cast<CpuMode>((control & 3) % 3);
    const Access access = (control & 4) ? Access::write : Access::read;
    // The instruction first, so that short inputs already reach the decoder.
    uint8_t bytes[15] = {};
    const size_t count = in.n < sizeof bytes ? in.n : sizeof bytes;
    memcpy(bytes, in.p, count);
    in.p += count;
    in.n -= count;
    Registers regs;
    for (uint64_t& r : regs.gpr)
        r = in.take(1) & 1 ? in.take(8) : in.take(1); // small values make REP counts reachable
    regs.rip = in.take(8);
    regs.rflags = (in.take(8) & 0x3f7fd7) | 2;
    Device dev;
    dev.first_gpa = in.take(8);
    dev.seed = in.take(2);
    Memory mem;
    mem.fault_below = in.take(2);

    const Registers before = regs;
    const Result r = emulate(bytes, count, mode, regs, MmioFault{dev.first_gpa, access}, dev, mem);
    const uint64_t ip_mask = mode == CpuMode::bits64   ? ~uint64_t{0}
                             : mode == CpuMode::bits32 ? 0xffffffffu
                                                       : 0xffffu;
    switch (r.status) {
    case Status::unsupported:
    case Status::bad_instruction:
        CHECK(dev.accesses == 0);
        CHECK(memcmp(&before, &regs, sizeof regs) == 0);
        break;
    case Status::fault:
        CHECK(r.fault.vector == 14);
        CHECK(regs.rip == before.rip);
        break;
    case Status::done:
        CHECK(r.length >= 1 && r.length <= 15 && r.length <= count);
        CHECK(r.iterations <= max_rep_iterations);
        CHECK(regs.rip == before.rip || regs.rip == ((before.rip + r.length) & ip_mask));
        break;
    }
    return 0;
}
