// One hostile action per child (`args="probe=..."`): the outcome is the root's, not the child's
// to report. An access outside the child's RAM is an intercept the root answers by ending the
// child (`root: child NAME vp 0: access to unmapped guest-physical memory (GPA, RIP)`, then
// `... ended killed`); a triple fault ends it `triple-fault`; a VP spinning with interrupts off
// runs until the root's time limit for it (`timeout=`) ends it `killed`. A probe that returns
// ends the child with 3: the access was allowed. `cr4-vmxe` is the exception: it must survive.
#include "tests/guest/isolation/isolation.hpp"

namespace iso {
namespace {

using namespace mb1;

void announce(const char* what, uint32_t gpa) {
    print("isolation: probe ");
    print(what);
    print(" ");
    print_x(gpa);
    print("\n");
}

[[noreturn]] void triple_fault() {
    // SDM vol 3 6.15: with no IDT entry for #UD the processor raises #GP, which cannot be
    // delivered either, hence #DF, and #DF failing is a triple fault (shutdown).
    struct [[gnu::packed]] {
        uint16_t limit;
        uint32_t base;
    } empty{0, 0};
    asm volatile("lidt %0; ud2" : : "m"(empty) : "memory");
    __builtin_unreachable();
}

void set_cr4_vmxe(void*) {
    uint32_t cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    asm volatile("mov %0, %%cr4" : : "r"(cr4 | (1u << 13)) : "memory");
    asm volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");   // reached only when it was accepted
}

[[noreturn]] void spin() {
    for (;;)
        asm volatile("cli; jmp ." ::: "memory");
}

} // namespace

uint32_t run_probe(const Boot&, const char* probe) {
    const char* colon = probe;
    while (*colon && *colon != ':' && *colon != ' ')
        colon++;
    uint32_t gpa = *colon == ':' ? parse_number(colon + 1) : 0;
    if (word_is(probe, "triple-fault")) {
        announce("triple-fault", 0);
        triple_fault();
    }
    if (word_is(probe, "spin")) {
        announce("spin", 0);
        spin();
    }
    if (word_is(probe, "cr4-vmxe")) {
        // Not hostile to others: VMX is hidden, so the write must raise #GP (SDM vol 3 2.5) and
        // the child carry on.
        announce("cr4-vmxe", 0);
        int f = try_run(set_cr4_vmxe, nullptr);
        print(f == 13 ? "isolation: setting CR4.VMXE raised #GP\n" : "isolation: setting CR4.VMXE did not raise #GP\n");
        return f == 13 ? 0 : 3;
    }
    if (word_is(probe, "not-ok")) {   // for the harness's own check: a KTAP failure must fail the run
        ktap_begin(1);
        ktap_check(false, "a deliberate failure (probe=not-ok)");
        return 0;
    }
    auto* p = phys<volatile uint32_t>(gpa);
    if (colon - probe == 4 && __builtin_memcmp(probe, "read", 4) == 0) {
        announce("read", gpa);
        uint32_t v = *p;
        print("isolation: probe survived: the read returned ");
        print_x(v);
        print("\n");
        return 3;
    }
    if (colon - probe == 5 && __builtin_memcmp(probe, "write", 5) == 0) {
        announce("write", gpa);
        *p = 0x15015015;
        print("isolation: probe survived: the write completed\n");
        return 3;
    }
    if (colon - probe == 4 && __builtin_memcmp(probe, "exec", 4) == 0) {
        announce("exec", gpa);
        reinterpret_cast<void (*)()>(gpa)();
        print("isolation: probe survived: the call returned\n");
        return 3;
    }
    print("isolation: unknown probe (read:GPA write:GPA exec:GPA triple-fault spin cr4-vmxe not-ok)\n");
    return 4;
}

} // namespace iso
