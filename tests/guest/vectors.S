/* Entry stubs for vectors 0-255 of the guest suites' interrupt kit (tests/guest/vectors.hpp).
 * Stub v sits at vectors_stubs + 16*v and pushes v; the common path saves every general
 * register, calls vectors_dispatch(frame) on a 16-byte aligned stack and returns with iretq.
 * Only vectors without an error code may use these stubs (external interrupts and vector 15). */
    .section .text
    .balign 16
    .globl vectors_stubs
vectors_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    pushq $vec
    jmp vectors_common
    .set vec, vec + 1
    .endr

vectors_common:
    push %r15; push %r14; push %r13; push %r12; push %r11; push %r10; push %r9; push %r8
    push %rdi; push %rsi; push %rbp; push %rdx; push %rcx; push %rbx; push %rax
    mov %rsp, %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    call vectors_dispatch
    mov %rbx, %rsp
    pop %rax; pop %rbx; pop %rcx; pop %rdx; pop %rbp; pop %rsi; pop %rdi
    pop %r8; pop %r9; pop %r10; pop %r11; pop %r12; pop %r13; pop %r14; pop %r15
    add $8, %rsp
    iretq

    .section .note.GNU-stack, "", @progbits
