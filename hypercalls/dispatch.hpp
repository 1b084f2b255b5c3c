// Executing one hypercall (TLFS 3.x): the checks every call shares, in a fixed order, then the
// handler from the dispatch table. Pure over the platform P; the exit path applies the Outcome.
//
// Order of the checks (the TLFS names the statuses, not their order):
//   1. reserved control bits           -> HV_STATUS_INVALID_HYPERCALL_INPUT
//   2. unknown or reserved call code   -> HV_STATUS_INVALID_HYPERCALL_CODE
//   3. privilege missing from the mask -> HV_STATUS_ACCESS_DENIED
//   4. shape: rep count/start index against the call's kind, a variable header where none is
//      taken, the fast flag where the call has no register form -> INVALID_HYPERCALL_INPUT
//   5. memory lists: 8-byte alignment, crossing a page, beyond the address width, overlapping
//      input and output -> HV_STATUS_INVALID_ALIGNMENT
//   6. lists not mapped readable (input) or writable (output) in the caller's partition ->
//      HV_STATUS_ACCESS_DENIED (the TLFS sends the parent a memory intercept; a root has none)
//   7. the handler, at most rep_budget elements per exit.
#pragma once
#include "hypercalls/table.hpp"

namespace hypercalls {

struct Outcome {
    enum class Action : uint8_t {
        complete,   // write rax, step over the call instruction
        resume,     // rep call preempted: write the control word back, leave RIP on the call
    } action;
    uint64_t rax;
    uint64_t control;   // for resume: the control word with the start index advanced
};

struct Input {
    uint64_t control, rdx, r8;
};

namespace detail {
constexpr Outcome fail(Status s, uint16_t reps = 0) { return {Outcome::Action::complete, make_result(s, reps), 0}; }

[[nodiscard]] constexpr bool crosses_page(uint64_t gpa, uint32_t len) {
    return len && ((gpa & 0xfff) + len > 0x1000);
}

template <class P> [[nodiscard]] Status check_list(const P& pf, uint64_t gpa, uint32_t len) {
    if (!len)
        return Status::success;   // the TLFS: a list the call does not take is ignored
    if ((gpa & 7) || crosses_page(gpa, len) || !pf.gpa_in_space(gpa))
        return Status::invalid_alignment;
    return Status::success;
}
} // namespace detail

template <class P> [[nodiscard]] Outcome execute_call(P& pf, const Input& in, const Control& ctl, const Entry<P>* e);

// The checks every call starts with, inline in the exit path; the rest of a call is out of line.
template <class P> [[nodiscard]] inline Outcome execute(P& pf, const Input& in) {
    Control ctl;
    if (!decode_control(in.control, ctl))
        return detail::fail(Status::invalid_hypercall_input);
    const Entry<P>* e = lookup<P>(ctl.code);
    if (!e || !e->fn)
        return detail::fail(Status::invalid_hypercall_code);
    return execute_call(pf, in, ctl, e);
}

template <class P>
[[nodiscard, gnu::noinline]] Outcome execute_call(P& pf, const Input& in, const Control& ctl, const Entry<P>* e) {
    const CallSpec& spec = e->spec;
    if ((pf.privileges() & spec.privilege) != spec.privilege)
        return detail::fail(Status::access_denied);
    bool rep = spec.kind == Kind::rep;
    if (rep ? (ctl.rep_count == 0 || ctl.rep_start >= ctl.rep_count) : (ctl.rep_count || ctl.rep_start))
        return detail::fail(Status::invalid_hypercall_input);
    if (ctl.var_qwords && !spec.var_header_ok)
        return detail::fail(Status::invalid_hypercall_input);
    uint32_t in_len = spec.in_fixed + ctl.var_qwords * 8u + uint32_t{ctl.rep_count} * spec.in_rep;
    uint32_t out_len = spec.out_fixed + uint32_t{ctl.rep_count} * spec.out_rep;
    // Register input holds 16 bytes and there is no register output (XMM input is not offered:
    // CPUID 0x40000003 EDX bit 4 stays clear).
    if (ctl.fast && (!spec.fast_ok || in_len > 16 || out_len))
        return detail::fail(Status::invalid_hypercall_input);

    Call<P> c{pf, ctl, spec, {in.rdx, in.r8}, in.rdx, in.r8, in_len, out_len, ctl.rep_start,
              static_cast<uint16_t>(rep ? ctl.rep_count : 0)};
    if (!ctl.fast) {
        if (Status s = detail::check_list(pf, c.in_gpa, in_len); s != Status::success)
            return detail::fail(s);
        if (Status s = detail::check_list(pf, c.out_gpa, out_len); s != Status::success)
            return detail::fail(s);
        if (in_len && out_len && c.in_gpa < c.out_gpa + out_len && c.out_gpa < c.in_gpa + in_len)
            return detail::fail(Status::invalid_alignment);   // "cannot overlap" (TLFS 3.x)
        if ((in_len && !pf.accessible(c.in_gpa, in_len, false)) || (out_len && !pf.accessible(c.out_gpa, out_len, true)))
            return detail::fail(Status::access_denied);
    }
    if (rep && ctl.rep_count - ctl.rep_start > rep_budget)
        c.limit = static_cast<uint16_t>(ctl.rep_start + rep_budget);
    uint16_t granted = c.limit;
    Status s = e->fn(c);
    if (!rep)
        return detail::fail(s);
    // A handler that lowered the limit ended the call there (e.g. WithdrawMemory with fewer
    // pages left than asked): it completes with the reps done, it does not resume.
    if (c.limit < granted && c.next == c.limit && c.next >= ctl.rep_start)
        return detail::fail(s, c.next);
    if (c.next < ctl.rep_start || c.next > c.limit)
        c.next = ctl.rep_start;   // a handler bug must not report work it did not do
    if (s == Status::success && c.next < ctl.rep_count) {
        if (c.next == ctl.rep_start)   // no progress: end the call rather than spin for ever
            return detail::fail(Status::invalid_hypercall_input, c.next);
        return {Outcome::Action::resume, 0, with_rep_start(in.control, c.next)};
    }
    return detail::fail(s, c.next);
}

} // namespace hypercalls
