/* Interrupt and exception entry: 256 stubs, 16 bytes apart, each pushing a uniform
 * (error code, vector) pair so the common path can build an hv::RegisterDump (hv/panic.hpp)
 * on the stack and hand it to hv_interrupt_dispatch. The processor pushes an error code only
 * for the vectors listed in Intel SDM vol 3 table 6-1 (8, 10-14, 17, 21, 29, 30); the others
 * get a zero so every frame has one shape. */
    .section .text
    .balign 16
    .globl hv_isr_stubs
hv_isr_stubs:
    vec = 0
    .rept 256
    .org hv_isr_stubs + vec * 16      /* .org refuses to move backwards: catches an overlong stub */
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    vec = vec + 1
    .endr
    .org hv_isr_stubs + 256 * 16

isr_common:
    /* Pushed in reverse so rax lands at the lowest address, matching RegisterDump. */
    push %r15
    push %r14
    push %r13
    push %r12
    push %r11
    push %r10
    push %r9
    push %r8
    push %rbp
    push %rdi
    push %rsi
    push %rdx
    push %rcx
    push %rbx
    push %rax
    mov %rsp, %rdi
    cld
    /* 22 quadwords on a 16-byte aligned frame (SDM vol 3 6.14.2): the call sees an aligned stack. */
    call hv_interrupt_dispatch
    pop %rax
    pop %rbx
    pop %rcx
    pop %rdx
    pop %rsi
    pop %rdi
    pop %rbp
    pop %r8
    pop %r9
    pop %r10
    pop %r11
    pop %r12
    pop %r13
    pop %r14
    pop %r15
    add $16, %rsp
    iretq

    .section .note.GNU-stack, "", @progbits
