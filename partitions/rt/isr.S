/* Exception entry for partition kernels: every vector 0-31 builds an rt::Frame and calls
 * rt_exception, which either resumes at a probe's fixup or reports and ends the run. */
    .section .text
    .macro stub vector, has_error
    .globl rt_isr\vector
rt_isr\vector:
    .if \has_error == 0
    pushq $0
    .endif
    pushq $\vector
    jmp rt_isr_common
    .endm

    stub 0,0; stub 1,0; stub 2,0; stub 3,0; stub 4,0; stub 5,0; stub 6,0; stub 7,0
    stub 8,1; stub 9,0; stub 10,1; stub 11,1; stub 12,1; stub 13,1; stub 14,1; stub 15,0
    stub 16,0; stub 17,1; stub 18,0; stub 19,0; stub 20,0; stub 21,1; stub 22,0; stub 23,0
    stub 24,0; stub 25,0; stub 26,0; stub 27,0; stub 28,0; stub 29,1; stub 30,1; stub 31,0

rt_isr_common:
    push %r15; push %r14; push %r13; push %r12; push %r11; push %r10; push %r9; push %r8
    push %rdi; push %rsi; push %rbp; push %rdx; push %rcx; push %rbx; push %rax
    mov %rsp, %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    call rt_exception
    mov %rbx, %rsp
    pop %rax; pop %rbx; pop %rcx; pop %rdx; pop %rbp; pop %rsi; pop %rdi
    pop %r8; pop %r9; pop %r10; pop %r11; pop %r12; pop %r13; pop %r14; pop %r15
    add $16, %rsp
    iretq

    .section .rodata
    .balign 8
    .globl rt_isr_table
rt_isr_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad rt_isr\v
    .endr

/* Probes: the instruction at the numbered label may fault; rt_exception then sets RAX to the
 * vector and resumes at the fixup, which stores it through RSI (the `vector` out-pointer). */
    .macro fixup insn, fix
    .pushsection .rt.fixup, "a"
    .quad \insn, \fix
    .popsection
    .endm

    .section .text
probe_fault:
    mov %eax, (%rsi)
    xor %eax, %eax
    ret

    /* uint64_t rt_probe_rdmsr(uint32_t msr, int* vector) */
    .globl rt_probe_rdmsr
rt_probe_rdmsr:
    movl $-1, (%rsi)
    mov %edi, %ecx
1:  rdmsr
    shl $32, %rdx
    or %rdx, %rax
    ret
    fixup 1b, probe_fault

    /* void rt_probe_wrmsr(uint32_t msr, int* vector, uint64_t value) */
    .globl rt_probe_wrmsr
rt_probe_wrmsr:
    movl $-1, (%rsi)
    mov %edi, %ecx
    mov %rdx, %rax
    shr $32, %rdx
1:  wrmsr
    ret
    fixup 1b, probe_fault

    /* uint64_t rt_probe_read64(uint64_t addr, int* vector) */
    .globl rt_probe_read64
rt_probe_read64:
    movl $-1, (%rsi)
1:  mov (%rdi), %rax
    ret
    fixup 1b, probe_fault

    /* void rt_probe_write64(uint64_t addr, int* vector, uint64_t value) */
    .globl rt_probe_write64
rt_probe_write64:
    movl $-1, (%rsi)
1:  mov %rdx, (%rdi)
    ret
    fixup 1b, probe_fault

    /* void rt_probe_ud2(uint64_t unused, int* vector) */
    .globl rt_probe_ud2
rt_probe_ud2:
    movl $-1, (%rsi)
1:  ud2
    ret
    fixup 1b, probe_fault

    /* int3 traps: the saved RIP is after the instruction, so the fixup keys on the next one. */
    .globl rt_probe_int3
rt_probe_int3:
    movl $-1, (%rsi)
    int3
1:  ret
    fixup 1b, probe_fault

    .globl rt_probe_div0
rt_probe_div0:
    movl $-1, (%rsi)
    xor %ecx, %ecx
    mov $1, %eax
    xor %edx, %edx
1:  div %ecx
    ret
    fixup 1b, probe_fault

    /* uint8_t rt_probe_inb(uint16_t port, int* vector) */
    .globl rt_probe_inb
rt_probe_inb:
    movl $-1, (%rsi)
    mov %edi, %edx
    xor %eax, %eax
1:  inb %dx, %al
    ret
    fixup 1b, probe_fault

    /* void rt_probe_xsetbv(uint32_t xcr, int* vector, uint64_t value) */
    .globl rt_probe_xsetbv
rt_probe_xsetbv:
    movl $-1, (%rsi)
    mov %edi, %ecx
    mov %rdx, %rax
    shr $32, %rdx
1:  xsetbv
    ret
    fixup 1b, probe_fault

    .section .note.GNU-stack, "", @progbits
