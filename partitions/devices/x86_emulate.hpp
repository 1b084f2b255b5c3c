// Emulation of the x86 instructions a guest uses to touch emulated device memory (MMIO). When a
// child partition's access to a device page faults, the hypervisor hands the root the faulting
// GPA, the access type, the instruction bytes and the registers; emulate() decodes the
// instruction (decode_zydis.hpp), performs the device access through MmioBus, updates registers,
// RFLAGS and RIP, and says what happened. It knows nothing of the guest's segmentation or paging:
// the device side is addressed by the faulting GPA, the ordinary-memory side of MOVS by segment
// and offset through GuestMemory, which the caller translates (docs/instruction-emulation.md).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "partitions/devices/decode_zydis.hpp"

namespace devices::x86 {

// The guest's general-purpose registers in encoding order (rAX=0 ... r15=15), RIP and RFLAGS.
struct Registers {
    uint64_t gpr[16] = {};
    uint64_t rip = 0;
    uint64_t rflags = 0x2; // bit 1 is always set (SDM Vol. 1 3.4.3)
};

enum class Access : uint8_t { read, write };

// An exception for the caller to inject into the guest (SDM Vol. 3A 6.3.1), with CR2 for #PF.
struct Fault {
    uint8_t vector = 0;
    bool has_error_code = false;
    uint32_t error_code = 0;
    uint64_t cr2 = 0;
};

// The device behind the faulting page. Sizes are 1, 2, 4 or 8; values are zero-extended.
// Not abstract (no __cxa_pure_virtual in partition images): the defaults behave like an
// unclaimed range on a PC, reading all ones and dropping writes.
class MmioBus {
public:
    virtual uint64_t read(uint64_t gpa, unsigned size);
    virtual void write(uint64_t gpa, unsigned size, uint64_t value);

protected:
    ~MmioBus() = default;
};

// The guest's ordinary memory, addressed as segment:offset (offset already truncated to the
// address size); the caller applies segmentation and paging and reports a fault it finds.
// The defaults know no memory: they answer #GP(0).
class GuestMemory {
public:
    virtual bool read(Seg seg, uint64_t offset, unsigned size, uint64_t& value, Fault& fault);
    virtual bool write(Seg seg, uint64_t offset, unsigned size, uint64_t value, Fault& fault);

protected:
    ~GuestMemory() = default;
};

enum class Status : uint8_t {
    done,            // emulated; registers updated (RIP only once a REP string op completes)
    unsupported,     // a valid instruction this emulator does not handle, or one without memory
    bad_instruction, // undecodable or truncated bytes, or bytes that cannot have faulted so
    fault,           // inject Result::fault; registers hold the progress made before it
};

struct Result {
    Status status = Status::unsupported;
    Fault fault;
    uint8_t length = 0;      // decoded instruction length (0 when undecodable)
    uint32_t iterations = 0; // string instructions: iterations performed by this call
};

struct MmioFault {
    uint64_t gpa = 0;
    Access access = Access::read;
};

// A REP string instruction runs at most this many iterations per call, and never past the
// device page: the caller returns to the guest, which re-executes the instruction for the rest
// (SDM Vol. 2B, REP: the count register and pointers are kept at each iteration boundary).
constexpr uint32_t max_rep_iterations = 256;

// bytes: the instruction at RIP as fetched by the caller (up to 15 are used).
[[nodiscard]] Result emulate(const uint8_t* bytes, size_t size, CpuMode mode, Registers& regs,
                             const MmioFault& mmio, MmioBus& bus, GuestMemory& memory);

// The same on an instruction decoded already (by the caller, or to skip decoding in tests).
[[nodiscard]] Result emulate(const Decoded& insn, CpuMode mode, Registers& regs,
                             const MmioFault& mmio, MmioBus& bus, GuestMemory& memory);

} // namespace devices::x86
