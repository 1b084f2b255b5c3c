// A platform for hypercalls/dispatch.hpp made of a few pages of bytes that records every access:
// the unit tests and the fuzzer run the hypervisor's own table and handlers against it and
// check that nothing reaches outside the lists the control word allows.
#pragma once
#include <stdint.h>
#include <string.h>

#include "hypercalls/dispatch.hpp"

namespace hcfake {

using tlfs::Status;

struct Range {
    uint64_t lo = ~0ull, hi = 0;   // [lo, hi) of every access, empty while lo > hi
    void add(uint64_t gpa, uint32_t n) {
        if (gpa < lo)
            lo = gpa;
        if (gpa + n > hi)
            hi = gpa + n;
    }
    [[nodiscard]] bool empty() const { return lo >= hi; }
    [[nodiscard]] bool within(uint64_t a, uint64_t len) const { return empty() || (lo >= a && hi <= a + len); }
};

struct FakePlatform {
    static constexpr uint64_t base = 0x100000;       // the partition's memory: pages 0..3
    static constexpr uint32_t pages = 4;
    static constexpr uint32_t read_only_page = 3;    // mapped, not writable
    uint8_t mem[pages * 4096] = {};
    uint64_t priv = ~0ull;
    uint64_t id = 7;
    uint32_t index = 1, count = 3;
    uint64_t width_end = 1ull << 36;
    Range reads, writes;
    uint64_t flushed = 0, ipi_targets = 0;
    uint8_t ipi_vector = 0;
    uint64_t regs[8] = {};   // RAX..RDI for get/set
    uint32_t register_calls = 0;

    [[nodiscard]] uint64_t privileges() const { return priv; }
    [[nodiscard]] uint64_t partition_id() const { return id; }
    [[nodiscard]] uint32_t vp_index() const { return index; }
    [[nodiscard]] uint32_t vp_count() const { return count; }
    [[nodiscard]] bool gpa_in_space(uint64_t gpa) const { return gpa < width_end; }
    [[nodiscard]] bool inside(uint64_t gpa, uint32_t n) const {
        return gpa >= base && n <= pages * 4096 && gpa - base <= pages * 4096 - n;
    }
    [[nodiscard]] bool accessible(uint64_t gpa, uint32_t n, bool w) const {
        if (!inside(gpa, n))
            return false;
        return !w || (gpa + n - 1 - base) / 4096 != read_only_page;
    }
    [[nodiscard]] bool read(uint64_t gpa, void* dst, uint32_t n) {
        if (!accessible(gpa, n, false))
            return false;
        reads.add(gpa, n);
        memcpy(dst, mem + (gpa - base), n);
        return true;
    }
    [[nodiscard]] bool write(uint64_t gpa, const void* src, uint32_t n) {
        if (!accessible(gpa, n, true))
            return false;
        writes.add(gpa, n);
        memcpy(mem + (gpa - base), src, n);
        return true;
    }
    [[nodiscard]] Status get_register(uint32_t name, tlfs::RegisterValue& v) {
        register_calls++;
        if (name < tlfs::reg::rax || name >= tlfs::reg::rax + 8)
            return Status::invalid_parameter;
        v = {regs[name - tlfs::reg::rax], 0};
        return Status::success;
    }
    [[nodiscard]] Status set_register(uint32_t name, const tlfs::RegisterValue& v) {
        register_calls++;
        if (name < tlfs::reg::rax || name >= tlfs::reg::rax + 8)
            return Status::invalid_parameter;
        regs[name - tlfs::reg::rax] = v.low;
        return Status::success;
    }
    void flush_vp(uint32_t i) { flushed |= 1ull << i; }
    void send_ipi(uint32_t i, uint8_t vector) {
        ipi_targets |= 1ull << i;
        ipi_vector = vector;
    }

    template <class T> void put(uint64_t gpa, const T& v) { memcpy(mem + (gpa - base), &v, sizeof v); }
    template <class T> [[nodiscard]] T get(uint64_t gpa) const {
        T v;
        memcpy(&v, mem + (gpa - base), sizeof v);
        return v;
    }
};
static_assert(hypercalls::Platform<FakePlatform>);

// The input and output lists a control word allows (0 when the call has none or is refused
// before its lists are looked at), from the same table the dispatcher uses.
struct Lists {
    uint32_t in_len, out_len;
};
inline Lists lists_of(uint64_t control) {
    hypercalls::Control c;
    if (!hypercalls::decode_control(control, c))
        return {0, 0};
    const auto* e = hypercalls::lookup<FakePlatform>(c.code);
    if (!e || !e->fn)
        return {0, 0};
    return {e->spec.in_fixed + c.var_qwords * 8u + uint32_t{c.rep_count} * e->spec.in_rep,
            e->spec.out_fixed + uint32_t{c.rep_count} * e->spec.out_rep};
}

} // namespace hcfake
