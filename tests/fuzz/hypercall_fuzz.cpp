// libFuzzer target: hypercall control-word and input decoding (hypercalls/dispatch.hpp, every
// handler of the table) and the hypercall page MSRs (hypercalls/page.hpp), against the fake
// platform. Beyond ASan/UBSan, it checks what the hypervisor promises for any input: reads stay
// in the input list, writes in the output list, VPs named exist, rep progress is monotonic and
// bounded, a preempted call always finishes, and statuses are TLFS codes.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <iterator>

#include "hypercalls/page.hpp"
#include "tests/fuzz/fake_platform.hpp"

namespace {

using hcfake::FakePlatform;

struct Bytes {
    const uint8_t* p;
    size_t n;
    template <class T> T take() {
        T v{};
        size_t k = n < sizeof v ? n : sizeof v;
        memcpy(&v, p, k);
        p += k;
        n -= k;
        return v;
    }
};

void require(bool ok) {
    if (!ok)
        abort();
}

bool known(uint16_t s) {
    return s == 0 || (s >= 2 && s <= 8) || s == 0xd || s == 0xe || s == 0x12;
}

void run_call(FakePlatform& pf, uint64_t control, uint64_t rdx, uint64_t r8) {
    hypercalls::Control c;
    bool valid = hypercalls::decode_control(control, c);
    hcfake::Lists l = hcfake::lists_of(control);
    for (int exits = 0;; exits++) {
        pf.reads = {};
        pf.writes = {};
        hypercalls::Outcome o = hypercalls::execute(pf, {control, rdx, r8});
        if (c.fast || !valid) {
            require(pf.reads.empty() && pf.writes.empty());
        } else {
            require(pf.reads.within(rdx, l.in_len));
            require(pf.writes.within(r8, l.out_len));
        }
        require(pf.count >= 64 || ((pf.flushed >> pf.count) == 0 && (pf.ipi_targets >> pf.count) == 0));
        if (o.action == hypercalls::Outcome::Action::complete) {
            require(known(tlfs::result::status(o.rax)));
            require(tlfs::result::reps(o.rax) <= c.rep_count);
            require((o.rax >> 44) == 0 && ((o.rax >> 16) & 0xffff) == 0);
            return;
        }
        hypercalls::Control next;
        require(hypercalls::decode_control(o.control, next));
        require(next.rep_start > c.rep_start && next.rep_start < c.rep_count);
        require(next.rep_start - c.rep_start <= hypercalls::rep_budget);
        require((o.control & ~tlfs::control::rep_start_mask) == (control & ~tlfs::control::rep_start_mask));
        require(exits < 4096);
        control = o.control;
        c = next;
    }
}

struct PageMemory {
    FakePlatform& pf;
    bool read(uint64_t gpa, void* dst, uint32_t n) { return pf.read(gpa, dst, n); }
    bool write(uint64_t gpa, const void* src, uint32_t n) { return pf.write(gpa, src, n); }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Bytes in{data, size};
    static FakePlatform pf;
    pf = FakePlatform{};
    uint8_t mode = in.take<uint8_t>();
    pf.priv = in.take<uint64_t>();
    pf.count = 1 + in.take<uint8_t>() % 64;
    pf.index = in.take<uint8_t>() % pf.count;
    if (mode & 1) {   // hypercall page MSR sequence
        hypercalls::InterfaceState s;
        PageMemory mem{pf};
        for (int i = 0; i < 16 && in.n; i++) {
            uint64_t v = in.take<uint64_t>();
            if (v & 1) {
                hypercalls::write_guest_os_id(s, v >> 1 & 1 ? 0 : v, mem);
            } else {
                uint64_t gpa = FakePlatform::base + (v >> 8) % (6 * 4096);
                static_cast<void>(hypercalls::write_hypercall_msr(s, (gpa & ~0xfffull) | (v >> 1 & 1),
                                                                  hypercalls::sequence_vmcall, mem));
            }
            require(!(s.hypercall_msr & 0xffe));
            require(!(s.hypercall_msr & 1) || hypercalls::interface_enabled(s));
            require(pf.writes.empty() || (pf.writes.lo >= FakePlatform::base &&
                                          pf.writes.hi <= FakePlatform::base + FakePlatform::pages * 4096));
        }
        return 0;
    }
    uint64_t control = in.take<uint64_t>();
    if (mode & 2)   // mostly a known code, so the handlers get exercised
        control = (control & ~0xffffull) | hypercalls::table<FakePlatform>[(control & 0xffff) %
                                                                      std::size(hypercalls::table<FakePlatform>)]
                                               .spec.code;
    if (mode & 4)   // mostly no reserved bits
        control &= tlfs::control::valid_mask;
    uint64_t rdx = in.take<uint64_t>(), r8 = in.take<uint64_t>();
    if (mode & 8) {   // lists in the partition's memory
        rdx = FakePlatform::base + rdx % (FakePlatform::pages * 4096 + 64);
        r8 = FakePlatform::base + r8 % (FakePlatform::pages * 4096 + 64);
        if (mode & 16) {
            rdx &= ~7ull;
            r8 &= ~7ull;
        }
    }
    size_t k = in.n < sizeof pf.mem ? in.n : sizeof pf.mem;
    memcpy(pf.mem, in.p, k);
    run_call(pf, control, rdx, r8);
    return 0;
}
