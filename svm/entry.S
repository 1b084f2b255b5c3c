/* svm_enter: one guest run (AMD APM vol 2 15.5). VMRUN switches only RAX, RSP, RIP and the
 * control/segment state in the VMCB; every other GPR is loaded and saved here, and the
 * VMLOAD/VMSAVE state (FS, GS, TR, LDTR, KernelGSBase, syscall MSRs, APM 15.5.2) is swapped
 * with the processor's host area, which keeps the host's GS base (per-CPU pointer) intact.
 *
 * void svm_enter(GuestGprs* gprs, uint64_t vmcb_pa, uint64_t host_area_pa, uint64_t host_if)
 *
 * GIF is cleared before any guest state is loaded and set again only after the host's is back.
 * `clgi; sti; nop; vmrun` lets physical interrupts arrive as INTR exits (V_INTR_MASKING=1)
 * without a host STI shadow leaking into the guest (docs: HARNESS "AMD-V under QEMU 7.2 TCG").
 * After the exit, host_if=0 clears IF before STGI so the caller stays with interrupts off;
 * host_if=1 lets the interrupt that caused an INTR exit be taken right at STGI. */

/* GuestGprs offsets, in the hv::virt::Gpr order. */
#define G_RCX 8
#define G_RDX 16
#define G_RBX 24
#define G_RBP 40
#define G_RSI 48
#define G_RDI 56
#define G_R8 64
#define G_R9 72
#define G_R10 80
#define G_R11 88
#define G_R12 96
#define G_R13 104
#define G_R14 112
#define G_R15 120

    .text
    .globl svm_enter
    .type svm_enter, @function
svm_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi               /* 24(%rsp): gprs */
    push %rsi               /* 16(%rsp): vmcb_pa */
    push %rdx               /*  8(%rsp): host_area_pa */
    push %rcx               /*  0(%rsp): host_if */

    clgi
    mov %rdx, %rax
    vmsave %rax             /* host FS/GS/TR/LDTR/... */
    mov %rsi, %rax
    vmload %rax             /* guest's */

    mov G_RCX(%rdi), %rcx
    mov G_RDX(%rdi), %rdx
    mov G_RBX(%rdi), %rbx
    mov G_RBP(%rdi), %rbp
    mov G_RSI(%rdi), %rsi
    mov G_R8(%rdi), %r8
    mov G_R9(%rdi), %r9
    mov G_R10(%rdi), %r10
    mov G_R11(%rdi), %r11
    mov G_R12(%rdi), %r12
    mov G_R13(%rdi), %r13
    mov G_R14(%rdi), %r14
    mov G_R15(%rdi), %r15
    mov G_RDI(%rdi), %rdi

    sti
    nop
    vmrun %rax
    .globl svm_vmrun_return
svm_vmrun_return:
    /* #VMEXIT: RAX, RSP, RIP are the host's again; the other GPRs hold the guest's. */

    push %rdi
    mov 32(%rsp), %rdi      /* gprs (24 + the push above) */
    mov %rcx, G_RCX(%rdi)
    mov %rdx, G_RDX(%rdi)
    mov %rbx, G_RBX(%rdi)
    mov %rbp, G_RBP(%rdi)
    mov %rsi, G_RSI(%rdi)
    mov %r8, G_R8(%rdi)
    mov %r9, G_R9(%rdi)
    mov %r10, G_R10(%rdi)
    mov %r11, G_R11(%rdi)
    mov %r12, G_R12(%rdi)
    mov %r13, G_R13(%rdi)
    mov %r14, G_R14(%rdi)
    mov %r15, G_R15(%rdi)
    popq G_RDI(%rdi)

    mov 16(%rsp), %rax
    vmsave %rax             /* guest FS/GS/TR/LDTR/... back into its VMCB */
    mov 8(%rsp), %rax
    vmload %rax             /* host's */

    cmpq $0, 0(%rsp)
    jne 1f
    cli
1:  stgi

    add $32, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .size svm_enter, . - svm_enter

    .section .note.GNU-stack, "", @progbits
