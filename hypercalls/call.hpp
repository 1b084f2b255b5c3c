// What a hypercall handler sees: the decoded control word, bounded access to its input and
// output lists, and the caller's platform (docs/hypercalls.md, "How to add a call").
//
// The platform P is the only way out of this pure layer. The hypervisor's P (hv/virt/
// hypercall_entry.hpp) reaches the caller's partition through its nested map, its Vcpu and its
// sibling VPs; the unit tests' and the fuzzer's P is a byte array that records every access.
// Handlers are templates over P, so the exit path has no virtual calls.
#pragma once
#include <stdint.h>

#include "hv/lib/traits.hpp"
#include "hypercalls/abi/tlfs.hpp"
#include "hypercalls/control.hpp"

namespace hypercalls {

using tlfs::Status;

template <class P>
concept Platform = requires(P& p, const P& cp, uint64_t gpa, void* dst, const void* src, uint32_t n, bool w,
                            uint32_t name, tlfs::RegisterValue& v, const tlfs::RegisterValue& cv) {
    { cp.privileges() } -> hv::same_as<uint64_t>;
    { cp.partition_id() } -> hv::same_as<uint64_t>;
    { cp.vp_index() } -> hv::same_as<uint32_t>;
    { cp.vp_count() } -> hv::same_as<uint32_t>;
    { cp.gpa_in_space(gpa) } -> hv::same_as<bool>;        // below the partition's address width
    { cp.accessible(gpa, n, w) } -> hv::same_as<bool>;    // mapped, and writable if w
    { p.read(gpa, dst, n) } -> hv::same_as<bool>;
    { p.write(gpa, src, n) } -> hv::same_as<bool>;
    { p.get_register(name, v) } -> hv::same_as<Status>;
    { p.set_register(name, cv) } -> hv::same_as<Status>;
    { p.flush_vp(n) } -> hv::same_as<void>;               // the guest TLB of VP n (n < vp_count)
    { p.send_ipi(n, static_cast<uint8_t>(n)) } -> hv::same_as<void>;
};

enum class Kind : uint8_t {
    reserved,   // a slot kept for a later issue: answers HV_STATUS_INVALID_HYPERCALL_CODE
    simple,
    rep,
};

// One row of the dispatch table, minus the handler (hypercalls/table.hpp).
struct CallSpec {
    uint16_t code;
    Kind kind;
    bool fast_ok;          // register input allowed (RDX, R8: at most 16 bytes, no output)
    bool var_header_ok;    // takes a variable header (the Ex calls' VP set banks)
    uint64_t privilege;    // every bit of it must be in the caller's mask (TLFS 4.2.2)
    uint16_t in_fixed, in_rep, out_fixed, out_rep;   // bytes; *_rep per element
    const char* name;
};

// How many elements one exit processes at most: a rep call is preemptible (TLFS 3.9), so an
// input of 4095 elements never keeps the processor from its guest or its interrupts for long.
inline constexpr uint16_t rep_budget = 32;

// VP indexes the handlers can name; a platform never reports more VPs than this.
inline constexpr uint32_t max_vps = 256;

template <class P> struct Call {
    P& pf;
    Control ctl;
    const CallSpec& spec;
    uint64_t regs[2];          // fast input: RDX, R8
    uint64_t in_gpa, out_gpa;
    uint32_t in_len, out_len;  // the whole lists, every element included
    uint16_t next;             // rep calls: the next element; the handler advances it
    uint16_t limit;            // rep calls: stop before this one in this exit

    // Reads input bytes [off, off+n); false outside the list (so no handler can stray).
    [[nodiscard]] bool in(uint32_t off, void* dst, uint32_t n) {
        if (off > in_len || n > in_len - off)
            return false;
        if (ctl.fast) {
            __builtin_memcpy(dst, reinterpret_cast<const uint8_t*>(regs) + off, n);
            return true;
        }
        return pf.read(in_gpa + off, dst, n);
    }
    [[nodiscard]] bool out(uint32_t off, const void* src, uint32_t n) {
        if (off > out_len || n > out_len - off || ctl.fast)
            return false;
        return pf.write(out_gpa + off, src, n);
    }
    // Where the variable header and the rep elements start in the input list.
    [[nodiscard]] uint32_t var_offset() const { return spec.in_fixed; }
    [[nodiscard]] uint32_t rep_in(uint16_t i) const { return spec.in_fixed + ctl.var_qwords * 8u + i * spec.in_rep; }
    [[nodiscard]] uint32_t rep_out(uint16_t i) const { return spec.out_fixed + i * spec.out_rep; }
};

} // namespace hypercalls
