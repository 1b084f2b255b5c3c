// The VT-x smoke suite: one boot processor, an identity EPT, and small guests (smoke_guest.S)
// that provoke each exit the backend decodes. Every check prints one KTAP line; a mismatch
// also prints what arrived, so a failing run on Bochs says enough to start debugging.
#include "vmx/smoke.hpp"

#include "hv/arch/interrupts.hpp"
#include "hv/arch/irq.hpp"
#include "hv/arch/tsc.hpp"
#include "hv/arch/x86.hpp"
#include "hv/console.hpp"
#include "vmx/smoke_env.hpp"
#include "vmx/vcpu.hpp"
#include "vmx/vmx.hpp"

namespace vmx {
namespace {

using namespace hv::virt;
using hv::console::log;

constexpr int planned = 25;

void note(const Intercept& i) {
    log("# got %s raw=%lx len=%u", exit_kind_name(i.kind), i.raw_reason, i.instruction_length);
    if (i.kind == ExitKind::exception)
        log(" vector=%u error=%x", i.exception.vector, i.exception.error_code);
    log("\n");
}

class Ktap {
public:
    Ktap() { log("KTAP version 1\n1..%d\n", planned); }
    bool check(bool ok, const char* name) {
        ++n_;
        all_ = all_ && ok;
        log("%s %d - %s\n", ok ? "ok" : "not ok", n_, name);
        return ok;
    }
    bool expect(const Intercept& i, ExitKind k, bool more, const char* name) {
        bool ok = i.kind == k && more;
        if (!ok)
            note(i);
        return check(ok, name);
    }
    bool finish() {
        while (n_ < planned)
            check(false, "not reached");
        return all_;
    }

private:
    int n_ = 0;
    bool all_ = true;
};

// Enters the guest until an exit the test asked for: host interrupts are dispatched as the
// exit loop will (acknowledge-on-exit gives the vector; NMIs go through `int $2`).
Intercept enter(Vcpu& v, GuestGprs& g, bool want_timer = false) {
    for (;;) {
        Intercept i;
        {
            hv::IrqSave irq;
            i = v.run(g);
            if (i.kind == ExitKind::external_interrupt && i.vector >= 32) {
                hv::RegisterDump r{};
                r.vector = i.vector;
                hv_interrupt_dispatch(&r);
            } else if (i.kind == ExitKind::nmi) {
                asm volatile("int $2");
            }
        }
        if (i.kind == ExitKind::external_interrupt || i.kind == ExitKind::nmi ||
            (i.kind == ExitKind::preemption_timer && !want_timer))
            continue;
        return i;
    }
}

void exit_tests(Ktap& t, SmokeEnv& e, Vcpu& v, GuestGprs& g) {
    constexpr uint64_t magic = 0x5ca1ab1e;
    *reinterpret_cast<uint64_t*>(e.data.va) = magic;
    g[Gpr::rbx] = SmokeEnv::unmapped_gpa;
    Intercept i = enter(v, g);
    t.expect(i, ExitKind::cpuid, i.instruction_length == 2, "CPUID exits (length 2)");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    t.expect(i, ExitKind::hypercall, i.instruction_length == 3 && g[Gpr::rdi] == 0x1111 && g[Gpr::rsi] == 0x2222,
             "VMCALL exits as hypercall (length 3, start RDI/RSI handed over)");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    t.expect(i, ExitKind::io, i.io.port == 0x1234 && i.io.size == 1 && !i.io.in && !i.io.string &&
             (g[Gpr::rax] & 0xff) == 0xab && i.instruction_length == 1, "OUT DX, AL decodes port/size/direction");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    t.expect(i, ExitKind::io, i.io.port == 0x71 && i.io.size == 2 && i.io.in && i.instruction_length == 3,
             "IN AX, imm8 decodes port/size/direction");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    t.expect(i, ExitKind::msr_read, g[Gpr::rcx] == 0x174,
             "RDMSR of an intercepted MSR exits, an allowed one does not");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    t.expect(i, ExitKind::msr_write, g[Gpr::rcx] == 0xc0000081 && g[Gpr::rax] == 0x11 && g[Gpr::rdx] == 0x22,
             "WRMSR of an intercepted MSR exits with ECX/EDX:EAX");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    t.expect(i, ExitKind::hlt, i.instruction_length == 1, "HLT exits");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    bool ept_ok = i.kind == ExitKind::gpa_access && i.gpa.gpa == SmokeEnv::unmapped_gpa && i.gpa.read &&
                  !i.gpa.write && !i.gpa.execute && !i.gpa.present && i.gpa.gva_valid &&
                  i.gpa.gva == SmokeEnv::unmapped_gpa;
    if (i.kind == ExitKind::gpa_access && !e.map_data_page())
        ept_ok = false;
    invept(1, v.eptp());
    i = enter(v, g);   // the load runs again, now mapped, then UD2 exits
    ept_ok = ept_ok && g[Gpr::rax] == magic;
    t.check(ept_ok, "EPT violation on an unmapped GPA decodes; mapped and resumed, the read completes");
    t.expect(i, ExitKind::exception, i.exception.vector == 6 && !i.exception.has_error_code,
             "UD2 exits as #UD through the exception bitmap");
    v.advance_rip(2);
    i = enter(v, g);
    t.expect(i, ExitKind::virt_instruction, i.instruction_length == 4, "VMXON in the guest exits as virt_instruction");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);   // the closing VMCALL
}

void gpr_test(Ktap& t, SmokeEnv& e, Vcpu& v, GuestGprs& g) {
    v.write(Reg::rip, e.at(vmx_smoke_gprs));
    for (unsigned r = 0; r < 16; ++r)
        g.r[r] = r == 4 ? g.r[r] : 0x0101010101010101ull * (r + 1) + 0x1000 * r;
    Intercept i = enter(v, g);
    bool ok = i.kind == ExitKind::hypercall && g[Gpr::rsp] == v.read(Reg::rsp);
    for (unsigned r = 0; r < 16; ++r)
        ok = ok && (r == 4 || g.r[r] == ~(0x0101010101010101ull * (r + 1) + 0x1000 * r));
    t.check(ok, "all 15 guest GPRs load and save across a round trip; RSP mirrors the VMCS");
}

void interrupt_tests(Ktap& t, SmokeEnv& e, Vcpu& v, GuestGprs& g) {
    v.write(Reg::rip, e.at(vmx_smoke_irq));
    Intercept i = enter(v, g);
    bool blocked = i.kind == ExitKind::hypercall && !v.interruptible();
    v.advance_rip(i.instruction_length);
    v.request_interrupt_window(true);
    i = enter(v, g);
    uint64_t rip = v.read(Reg::rip);
    t.expect(i, ExitKind::interrupt_window, blocked && v.interruptible() && rip == e.at(vmx_smoke_irq) + 6,
             "interrupt window opens after STI; NOP (not while IF=0)");
    v.request_interrupt_window(false);
    v.inject({Event::Type::external_interrupt, SmokeEnv::guest_vector, false, 0, 0});
    bool pending = v.injection_pending();
    i = enter(v, g);
    t.expect(i, ExitKind::hypercall, pending && (g[Gpr::rax] & 0xffffffff) == 0xfeed && g[Gpr::rbx] == rip,
             "injected interrupt reaches the guest IDT handler with the right frame");
}

void xsetbv_tests(Ktap& t, SmokeEnv& e, Vcpu& v, GuestGprs& g) {
    constexpr uint64_t osxsave = 1u << 18;
    v.write(Reg::cr4, v.read(Reg::cr4) | osxsave);
    v.write(Reg::cr4_read_shadow, v.read(Reg::cr4_read_shadow) | osxsave);
    v.write(Reg::rip, e.at(vmx_smoke_xsetbv));
    Intercept i = enter(v, g);
    t.expect(i, ExitKind::hypercall, v.xcr0() == 3, "XSETBV of x87|SSE is handled inside run()");
    v.advance_rip(i.instruction_length);
    i = enter(v, g);
    // Injected events bypass the exception bitmap (26.6.1): the guest's own #GP handler reports.
    t.expect(i, ExitKind::hypercall, (g[Gpr::rax] & 0xffff) == 0x0d0d && g[Gpr::rbx] == 0 && v.xcr0() == 3,
             "XSETBV without x87 gets #GP(0) in the guest");
}

void xsave_tests(Ktap& t, SmokeEnv& e, Vcpu& v, Vcpu& w, GuestGprs& g) {
    if (!caps().xsave) {
        t.check(true, "XSETBV # SKIP no XSAVE");
        t.check(true, "XSETBV #GP # SKIP no XSAVE");
    } else {
        xsetbv_tests(t, e, v, g);
    }
    v.write(Reg::rip, e.at(vmx_smoke_xmm));
    g[Gpr::rax] = 0x1111222233334444ull;
    Intercept i = enter(v, g);
    GuestGprs h{};
    StartState xs = e.long_start(vmx_smoke_xmm);
    w.reset(xs);
    hv::virt::start_gprs(h, xs);
    h[Gpr::rax] = 0x5555666677778888ull;
    Intercept j = enter(w, h);
    v.advance_rip(3);
    i = enter(v, g);
    w.advance_rip(3);
    j = enter(w, h);
    bool ok = i.kind == ExitKind::hypercall && j.kind == ExitKind::hypercall &&
              g[Gpr::rbx] == 0x1111222233334444ull && h[Gpr::rbx] == 0x5555666677778888ull;
    if (!ok) {
        note(i);
        note(j);
    }
    t.check(ok, "guest XMM state survives another Vcpu running on the processor");
}

void failure_tests(Ktap& t, SmokeEnv& e, Vcpu& v, GuestGprs& g) {
    v.set_backstop(200000);
    v.write(Reg::rip, e.at(vmx_smoke_spin));
    Intercept i = enter(v, g, true);
    t.expect(i, ExitKind::preemption_timer, true, "the preemption-timer backstop ends a spinning guest");
    v.set_backstop(1ull << 22);

    v.write(Reg::rip, e.at(vmx_smoke_loop));
    v.inject({Event::Type::exception, 6, true, 0, 0});   // #UD has no error code: invalid control
    i = enter(v, g);
    t.expect(i, ExitKind::invalid_state, i.entry.code == 7, "an invalid injection fails with VM-instruction error 7");
    if (i.kind == ExitKind::invalid_state)
        log("# %s\n", i.entry.check);
    v.cancel_injection();

    v.write(Reg::rflags, 0);   // bit 1 must be 1 (SDM 26.3.1.4)
    i = enter(v, g);
    bool named = i.kind == ExitKind::invalid_state && i.entry.check && i.entry.check[0] == 'R';
    t.expect(i, ExitKind::invalid_state, i.raw_reason == 0x80000021 && named,
             "invalid guest state is reported as invalid_state naming the RFLAGS check");
    if (i.kind == ExitKind::invalid_state)
        log("# %s\n", i.entry.check);
    v.write(Reg::rflags, 2);
    i = enter(v, g);
    t.expect(i, ExitKind::hypercall, true, "after fixing RFLAGS the guest enters again");
}

void real_mode_test(Ktap& t, SmokeEnv& e, Vcpu& w) {
    constexpr uint8_t vector = 0x10;
    bool mapped = e.map_real_mode_page(uint64_t(vector) << 12);
    invept(1, w.eptp());
    w.reset({StartState::Mode::real_mode_sipi, vector, 0, 0, 0, 0, 0});
    GuestGprs h{};
    Intercept i = enter(w, h);
    t.expect(i, ExitKind::hypercall, mapped && (h[Gpr::rax] & 0xffff) == (vector << 8) &&
             (h[Gpr::rbx] & 0xffff) == 0x4321 + (vector << 8) && w.read(Reg::rip) == 7 &&
             w.segment(Seg::cs).base == uint64_t(vector) << 12,
             "a real-mode SIPI start runs 16-bit code at CS = vector << 8 (unrestricted guest)");
}

void round_trip(Ktap& t, SmokeEnv& e, Vcpu& v, GuestGprs& g) {
    constexpr uint64_t n = 2000;
    v.write(Reg::rip, e.at(vmx_smoke_loop));
    uint64_t bad = 0, start = hv::x86::rdtsc();
    for (uint64_t k = 0; k < n; ++k) {
        Intercept i = enter(v, g);
        bad += i.kind != ExitKind::hypercall;
        v.advance_rip(3);
    }
    uint64_t ticks = (hv::x86::rdtsc() - start) / n;
    uint64_t khz = hv::tsc::hz() / 1000;
    log("# round trip (VMCALL -> exit -> VMRESUME): %lu TSC ticks, %lu ns\n", ticks, khz ? ticks * 1000000 / khz : 0);
    t.check(bad == 0, "2000 VMCALL round trips");
}

} // namespace

bool smoke_test() {
    Ktap t;
    Detection d = detect();
    if (!t.check(d.usable, "VMX detected with EPT, unrestricted guest and the required controls")) {
        log("# %s\n", d.reason);
        return t.finish();
    }
    SmokeEnv e;
    if (!t.check(e.build(), "VMXON on the boot processor; EPT, bitmaps and guest tables built"))
        return t.finish();
    Vcpu v(e.vmcs[0].pa, e.vmcs[0].va, e.xsave[0].va, e.hw);
    Vcpu w(e.vmcs[1].pa, e.vmcs[1].va, e.xsave[1].va, e.hw);
    if (!t.check(v.ok() && w.ok(), "two Vcpus: VMCLEAR, VMPTRLD, controls and host state"))
        return t.finish();
    GuestGprs g{};
    StartState es = e.long_start(vmx_smoke_exits);
    v.reset(es);
    hv::virt::start_gprs(g, es);
    e.prepare_long_guest(v);
    exit_tests(t, e, v, g);
    gpr_test(t, e, v, g);
    interrupt_tests(t, e, v, g);
    xsave_tests(t, e, v, w, g);
    failure_tests(t, e, v, g);
    real_mode_test(t, e, w);
    round_trip(t, e, v, g);
    v.unload();
    w.unload();
    disable_processor();
    return t.finish();
}

} // namespace vmx
