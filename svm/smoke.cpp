// svm-smoke: each check enters a tiny guest (svm/smoke_guest.S) and verifies that the exit it
// causes decodes exactly as expected. Instruction lengths are checked against NRIP-save:
// exact with it (Bochs `ryzen`), 0 without (QEMU), except IOIO whose EXITINFO2 always has them.
#include "svm/smoke.hpp"

#include "hv/arch/tsc.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "svm/bitmaps.hpp"
#include "svm/smoke_env.hpp"
#include "svm/vcpu.hpp"

extern "C" const uint8_t svm_guest_cpuid[], svm_guest_vmmcall[], svm_guest_out[], svm_guest_in[],
    svm_guest_msr[], svm_guest_hlt[], svm_guest_npf[], svm_guest_ud[], svm_guest_gp[], svm_guest_vmrun[],
    svm_guest_gprs[], svm_guest_sse[], svm_guest_irq[], svm_guest_irq_handler[], svm_guest_xsetbv[],
    svm_guest_gp_handler[], svm_guest_loop[],
    svm_guest_real[], svm_guest_end[];

namespace svm {
namespace {

using hv::virt::ExitKind;
using hv::virt::Gpr;
using hv::virt::GuestGprs;
using hv::virt::Intercept;

struct Suite {
    int n = 0;
    bool all_ok = true;
    void result(bool ok, const char* name) {
        hv::console::log("%s %d - %s\n", ok ? "ok" : "not ok", ++n, name);
        all_ok = all_ok && ok;
    }
};

constinit smoke::Env env{};
Features feat;
alignas(16) GuestGprs g;

uint64_t gva(const uint8_t* sym) { return smoke::gpa_code + static_cast<uint64_t>(sym - svm_guest_cpuid); }
uint8_t len(uint8_t exact) { return feat.nrip_save ? exact : 0; }

Intercept start(Vcpu& v, const uint8_t* sym, uint64_t rdi = 0) {
    hv::virt::StartState st{hv::virt::StartState::Mode::long_mode, 0, gva(sym), smoke::gpa_stack_top,
                            smoke::gpa_guest_pml4, rdi, 0};
    v.reset(st);
    hv::virt::start_gprs(g, st);
    v.set_exception_intercepts(0);
    return v.run(g);
}

bool expect(const Intercept& x, ExitKind k, uint64_t rip, const Vcpu& v, uint8_t length) {
    bool ok = x.kind == k && v.read(hv::virt::Reg::rip) == rip && x.instruction_length == length;
    if (!ok)
        hv::console::log("# got %s (raw %lx) at rip %lx length %u; want %s at %lx length %u\n",
                         hv::virt::exit_kind_name(x.kind), x.raw_reason, v.read(hv::virt::Reg::rip),
                         x.instruction_length, hv::virt::exit_kind_name(k), rip, length);
    return ok;
}

void test_simple(Suite& s, Vcpu& v) {
    Intercept x = start(v, svm_guest_cpuid);
    s.result(expect(x, ExitKind::cpuid, gva(svm_guest_cpuid) + 5, v, len(2)) && g[Gpr::rax] == 0x80000000, "cpuid");
    x = start(v, svm_guest_vmmcall);
    s.result(expect(x, ExitKind::hypercall, gva(svm_guest_vmmcall), v, len(3)), "vmmcall");
    x = start(v, svm_guest_out);
    s.result(expect(x, ExitKind::io, gva(svm_guest_out) + 10, v, 2) && x.io.port == 0x510 && x.io.size == 2 &&
                 !x.io.in && !x.io.string && !x.io.rep && (g[Gpr::rax] & 0xffff) == 0x1234, "io-out");
    x = start(v, svm_guest_in);
    s.result(expect(x, ExitKind::io, gva(svm_guest_in), v, 2) && x.io.port == 0x71 && x.io.size == 1 && x.io.in,
             "io-in");
    x = start(v, svm_guest_msr);
    bool ok = expect(x, ExitKind::msr_read, gva(svm_guest_msr) + 12, v, len(2)) && g[Gpr::rcx] == 0xc0000081;
    v.advance_rip(2);
    x = v.run(g);
    s.result(ok && expect(x, ExitKind::msr_write, gva(svm_guest_msr) + 14, v, len(2)), "msr-bitmap-read-write");
    x = start(v, svm_guest_hlt);
    s.result(expect(x, ExitKind::hlt, gva(svm_guest_hlt), v, len(1)), "hlt");
}

void test_faults(Suite& s, Vcpu& v) {
    uint64_t base = gva(svm_guest_npf);
    Intercept x = start(v, svm_guest_npf);
    bool ok = expect(x, ExitKind::gpa_access, base + 5, v, 0) && x.gpa.gpa == smoke::gpa_unmapped &&
              x.gpa.read && !x.gpa.write && !x.gpa.execute && !x.gpa.present;
    v.advance_rip(2);
    x = v.run(g);
    ok = ok && expect(x, ExitKind::gpa_access, base + 7, v, 0) && x.gpa.write && !x.gpa.execute;
    v.advance_rip(6);
    x = v.run(g);
    s.result(ok && expect(x, ExitKind::gpa_access, smoke::gpa_unmapped, v, 0) && x.gpa.execute &&
                 x.gpa.gpa == smoke::gpa_unmapped, "npf-read-write-fetch");

    hv::virt::StartState st{hv::virt::StartState::Mode::long_mode, 0, gva(svm_guest_ud), smoke::gpa_stack_top,
                            smoke::gpa_guest_pml4, 0, 0};
    v.reset(st);
    hv::virt::start_gprs(g, st);
    v.set_exception_intercepts((1u << 6) | (1u << 13));
    x = v.run(g);
    s.result(expect(x, ExitKind::exception, gva(svm_guest_ud), v, 0) && x.exception.vector == 6 &&
                 !x.exception.has_error_code, "ud-intercept");
    st.rip = gva(svm_guest_gp);
    v.reset(st);
    hv::virt::start_gprs(g, st);
    x = v.run(g);
    s.result(expect(x, ExitKind::exception, gva(svm_guest_gp) + 5, v, 0) && x.exception.vector == 13 &&
                 x.exception.has_error_code && x.exception.error_code == 8, "gp-intercept-error-code");
    v.set_exception_intercepts(0);
    x = start(v, svm_guest_vmrun);
    s.result(expect(x, ExitKind::virt_instruction, gva(svm_guest_vmrun) + 5, v, len(3)), "vmrun-in-guest");
}

void test_state(Suite& s, Vcpu& v, Vcpu& other) {
    Intercept x = start(v, svm_guest_gprs);
    bool ok = x.kind == ExitKind::hypercall;
    for (int i = 0; i < 16; ++i)
        g.r[i] = 0x1111111111111111ull * static_cast<uint64_t>(i) + 0x0102030405060708ull;
    GuestGprs sent = g;
    v.advance_rip(3);
    x = v.run(g);
    ok = ok && x.kind == ExitKind::hypercall;
    for (int i = 0; i < 16; ++i) {
        if (g.r[i] != sent.r[i] + 1) {
            hv::console::log("# gpr %d: %lx, want %lx\n", i, g.r[i], sent.r[i] + 1);
            ok = false;
        }
    }
    s.result(ok, "gprs-round-trip");

    // Two Vcpus each park a value in XMM0 and exit; each must read back its own.
    GuestGprs ga{}, gb{};
    hv::virt::StartState st{hv::virt::StartState::Mode::long_mode, 0, gva(svm_guest_sse), smoke::gpa_stack_top,
                            smoke::gpa_guest_pml4, 0xaaaa5555aaaa5555ull, 0};
    v.reset(st);
    hv::virt::start_gprs(ga, st);
    st.rdi = 0x5555aaaa5555aaaaull;
    other.reset(st);
    hv::virt::start_gprs(gb, st);
    ok = v.run(ga).kind == ExitKind::hypercall && other.run(gb).kind == ExitKind::hypercall;
    v.advance_rip(3);
    other.advance_rip(3);
    ok = ok && v.run(ga).kind == ExitKind::hypercall && other.run(gb).kind == ExitKind::hypercall;
    s.result(ok && ga[Gpr::rax] == 0xaaaa5555aaaa5555ull && gb[Gpr::rax] == 0x5555aaaa5555aaaaull,
             "extended-state-per-vcpu");

    hv::virt::StartState rs{hv::virt::StartState::Mode::real_mode_sipi, 9, 0, 0, 0, 0, 0};
    v.reset(rs);
    hv::virt::start_gprs(g, rs);
    x = v.run(g);
    hv::virt::Segment cs = v.segment(hv::virt::Seg::cs);
    s.result(expect(x, ExitKind::hypercall, 5, v, len(3)) && (g[Gpr::rax] & 0xffff) == 0x1234 &&
                 (g[Gpr::rbx] & 0xffff) == 0x0900 && cs.base == smoke::gpa_real_code, "real-mode-sipi-start");
}

void set_gate(uint8_t vector, uint64_t handler) {
    auto* idt = reinterpret_cast<uint64_t*>(env.data);
    idt[vector * 2] = (handler & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((handler >> 16 & 0xffff) << 48);
    idt[vector * 2 + 1] = handler >> 32;
}

// IDT at gpa_data (0x40 -> irq_handler, #GP -> gp_handler); GDT at +0x800 with a 64-bit code
// segment for the gates.
void give_idt(Vcpu& v) {
    set_gate(0x40, gva(svm_guest_irq_handler));
    set_gate(13, gva(svm_guest_gp_handler));
    auto* gdt = reinterpret_cast<uint64_t*>(env.data + 0x800);
    gdt[1] = 0x00af9a000000ffffull;
    gdt[2] = 0x00cf92000000ffffull;
    v.set_gdtr({smoke::gpa_data + 0x800, 23});
    v.set_idtr({smoke::gpa_data, 0xfff});
}

void test_interrupts(Suite& s, Vcpu& v) {
    uint64_t handler = gva(svm_guest_irq_handler);
    Intercept x = start(v, svm_guest_irq);
    give_idt(v);
    bool ok = x.kind == ExitKind::hypercall && !v.interruptible();
    v.request_interrupt_window(true);
    v.advance_rip(3);
    x = v.run(g);
    s.result(ok && expect(x, ExitKind::interrupt_window, gva(svm_guest_irq) + 6, v, 0) && v.interruptible(),
             "interrupt-window-after-sti");
    v.inject({hv::virt::Event::Type::external_interrupt, 0x40, false, 0, 0});
    x = v.run(g);
    s.result(expect(x, ExitKind::hypercall, handler + 5, v, len(3)) && g[Gpr::rbx] == 0x40 && !v.injection_pending(),
             "injected-interrupt-reaches-idt");
}

void test_xsetbv(Suite& s, Vcpu& v) {
    if ((guest_xcr0_allowed(feat) & xcr0::avx) == 0) {
        s.result(true, "xsetbv-validated # SKIP no XSAVE with AVX");
        return;
    }
    Intercept x = start(v, svm_guest_xsetbv);
    give_idt(v);
    // QEMU 7.2 TCG runs XSETBV without the intercept; the Vcpu then adopts XCR0 via XGETBV.
    bool intercepted = x.kind == ExitKind::xsetbv, ok = true;
    if (intercepted) {
        ok = expect(x, ExitKind::xsetbv, gva(svm_guest_xsetbv) + 21, v, len(3)) && v.handle_xsetbv(g, x.instruction_length);
        x = v.run(g);
    } else {
        hv::console::log("# XSETBV did not exit: the emulator lacks the intercept\n");
    }
    ok = ok && x.kind == ExitKind::hypercall && g[Gpr::rbx] == 7 && v.guest_xcr0() == 7;
    v.advance_rip(3);
    x = v.run(g);
    if (intercepted) {
        ok = ok && x.kind == ExitKind::xsetbv && !v.handle_xsetbv(g, x.instruction_length);
        x = v.run(g);
    }
    s.result(ok && expect(x, ExitKind::hypercall, gva(svm_guest_gp_handler) + 5, v, len(3)) && g[Gpr::rbx] == 13 &&
                 v.guest_xcr0() == 7, "xsetbv-validated");
}

void test_invalid(Suite& s, Vcpu& v) {
    start(v, svm_guest_vmmcall);
    v.vmcb().save.efer &= ~efer_svme;
    Intercept x = v.run(g);
    bool ok = x.kind == ExitKind::invalid_state && x.entry.code == 0xffffffff;
    hv::console::log("# invalid VMCB: %s\n", ok ? x.entry.check : "no VMEXIT_INVALID");
    s.result(ok, "invalid-vmcb-names-check");
}

void measure(Vcpu& v) {
    start(v, svm_guest_loop);
    constexpr int rounds = 2000;
    uint64_t t0 = hv::x86::rdtsc();
    for (int i = 0; i < rounds; ++i) {
        v.advance_rip(3);
        if (v.run(g).kind != ExitKind::hypercall)
            return;
    }
    uint64_t per = (hv::x86::rdtsc() - t0) / rounds;
    uint64_t mhz = hv::tsc::hz() / 1000000;
    hv::console::log("# round trip VMRUN->VMMCALL->#VMEXIT: %lu TSC cycles, %lu ns\n", per,
                     mhz ? per * 1000 / mhz : 0);
}

} // namespace

bool smoke_test() {
    Suite s;
    hv::console::log("KTAP version 1\n1..19\n");
    feat = detect();
    hv::console::log("# svm=%d npt=%d nrip=%d clean=%d flush_asid=%d decode=%d asids=%u xsave=%d xcr0=%lx\n",
                     feat.svm, feat.npt, feat.nrip_save, feat.vmcb_clean, feat.flush_by_asid, feat.decode_assists,
                     feat.asid_count, feat.xsave, feat.xcr0_supported);
    s.result(feat.svm && feat.npt, "detect");
    smoke::Page hsave = smoke::take_page(), vmsave = smoke::take_page();
    Status st = enable_processor(hsave.pa, vmsave.pa);
    if (st != Status::ok)
        hv::console::log("# %s\n", describe(st));
    bool built = st == Status::ok && smoke::build_env(env);
    s.result(built, "enable-and-build");
    if (!built)
        return false;
    msrpm_fill(env.msrpm, false);
    static_cast<void>(set_msr_intercept(env.msrpm, 0xc0000081, true, true));
    iopm_fill(env.iopm, true);
    for (const uint8_t* p = svm_guest_cpuid; p < svm_guest_real; ++p)
        env.code[p - svm_guest_cpuid] = *p;
    for (const uint8_t* p = svm_guest_real; p < svm_guest_end; ++p)
        env.real_code[p - svm_guest_real] = *p;

    smoke::Page a = smoke::take_page(), ax = smoke::take_page(), b = smoke::take_page(), bx = smoke::take_page();
    Vcpu v({static_cast<Vmcb*>(a.ptr), a.pa, ax.ptr}, env.hw, feat);
    Vcpu other({static_cast<Vmcb*>(b.ptr), b.pa, bx.ptr}, env.hw, feat);
    test_simple(s, v);
    test_faults(s, v);
    test_state(s, v, other);
    test_interrupts(s, v);
    test_xsetbv(s, v);
    test_invalid(s, v);
    measure(v);
    v.release_extended_state();
    other.release_extended_state();
    return s.all_ok;
}

} // namespace svm
