// Test doubles for the MMIO emulator: a device page that records every access and stores what
// is written, and a guest memory of a few pages addressed by segment:offset.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <vector>

#include "partitions/devices/x86_emulate.hpp"

namespace devices::x86::test {

constexpr uint64_t device_base = 0xfeb00000; // one 4 KiB device page
constexpr uint64_t memory_base = 0x10000;    // guest RAM offsets [0x10000, 0x14000)

struct Recorded {
    bool write;
    uint64_t gpa;
    unsigned size;
    uint64_t value;
};

class FakeDevice final : public MmioBus {
public:
    uint8_t bytes[4096] = {};
    std::vector<Recorded> log;

    uint64_t read(uint64_t gpa, unsigned size) override {
        uint64_t v = 0;
        if (gpa >= device_base && gpa + size <= device_base + sizeof bytes)
            std::memcpy(&v, &bytes[gpa - device_base], size);
        log.push_back({false, gpa, size, v});
        return v;
    }
    void write(uint64_t gpa, unsigned size, uint64_t value) override {
        if (gpa >= device_base && gpa + size <= device_base + sizeof bytes)
            std::memcpy(&bytes[gpa - device_base], &value, size);
        log.push_back({true, gpa, size, value});
    }
    void set(uint64_t gpa, uint64_t value, unsigned size = 8) {
        std::memcpy(&bytes[gpa - device_base], &value, size);
    }
};

class FakeMemory final : public GuestMemory {
public:
    uint8_t bytes[0x4000] = {};
    std::vector<Seg> segs; // segment of each access, in order

    bool read(Seg seg, uint64_t offset, unsigned size, uint64_t& value, Fault& fault) override {
        segs.push_back(seg);
        if (!mapped(offset, size, fault))
            return false;
        value = 0;
        std::memcpy(&value, &bytes[offset - memory_base], size);
        return true;
    }
    bool write(Seg seg, uint64_t offset, unsigned size, uint64_t value, Fault& fault) override {
        segs.push_back(seg);
        if (!mapped(offset, size, fault))
            return false;
        std::memcpy(&bytes[offset - memory_base], &value, size);
        return true;
    }

private:
    bool mapped(uint64_t offset, unsigned size, Fault& fault) const {
        if (offset >= memory_base && offset + size <= memory_base + sizeof bytes)
            return true;
        fault = Fault{14, true, 0x2, offset}; // #PF, not present (SDM Vol. 3A 4.7)
        return false;
    }
};

class Emulate : public ::testing::Test {
public:
    Registers regs;
    FakeDevice dev;
    FakeMemory mem;

    Result run(std::initializer_list<uint8_t> bytes, Access access, uint64_t gpa = device_base,
               CpuMode mode = CpuMode::bits64) {
        const std::vector<uint8_t> v(bytes);
        return emulate(v.data(), v.size(), mode, regs, MmioFault{gpa, access}, dev, mem);
    }
    uint64_t flags(uint64_t mask) const { return regs.rflags & mask; }
};

constexpr uint64_t CF = 1u << 0, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6, SF = 1u << 7,
                   DF = 1u << 10, OF = 1u << 11, RF = 1u << 16;
constexpr uint64_t STATUS = CF | PF | AF | ZF | SF | OF;

} // namespace devices::x86::test
