/* Guest code for the VT-x smoke suite (vmx/smoke.cpp). Position independent: smoke.cpp copies
 * the blob into a guest page and enters at offsets taken from these labels. Each comment names
 * the exit the host expects. */
    .section .rodata.vmx_smoke, "a"
    .globl vmx_smoke_blob, vmx_smoke_blob_end
    .globl vmx_smoke_exits, vmx_smoke_gprs, vmx_smoke_irq, vmx_smoke_irq_handler, vmx_smoke_gp_handler
    .globl vmx_smoke_xsetbv, vmx_smoke_xmm, vmx_smoke_spin, vmx_smoke_loop
    .globl vmx_smoke_real, vmx_smoke_real_end
    .code64
vmx_smoke_blob:
vmx_smoke_exits:
    xor %eax, %eax
    cpuid                       /* cpuid */
    vmcall                      /* hypercall */
    mov $0x1234, %dx
    mov $0xab, %al
    out %al, %dx                /* io: out, 1 byte, port 0x1234 */
    in $0x71, %ax               /* io: in, 2 bytes, port 0x71 */
    mov $0xc0000100, %ecx
    rdmsr                       /* FS base: the bitmap lets it through */
    mov $0x174, %ecx
    rdmsr                       /* msr_read 0x174 */
    mov $0xc0000081, %ecx
    mov $0x11, %eax
    mov $0x22, %edx
    wrmsr                       /* msr_write 0xc0000081 */
    hlt                         /* hlt */
    mov (%rbx), %rax            /* gpa_access at RBX (unmapped); the host maps it and resumes */
    ud2                         /* exception #UD (exception bitmap) */
    vmxon (%rbx)                /* virt_instruction */
    vmcall                      /* hypercall: RAX holds what the mapped page held */

vmx_smoke_gprs:
    not %rax
    not %rcx
    not %rdx
    not %rbx
    not %rbp
    not %rsi
    not %rdi
    not %r8
    not %r9
    not %r10
    not %r11
    not %r12
    not %r13
    not %r14
    not %r15
    vmcall

vmx_smoke_irq:
    cli
    vmcall                      /* hypercall with IF=0: the host arms the interrupt window */
    sti
    nop                         /* interrupt_window after the STI shadow ends */
    vmcall                      /* reached only if the injection went nowhere */
vmx_smoke_irq_handler:
    mov (%rsp), %rbx            /* the interrupted RIP from the interrupt frame */
    mov $0xfeed, %eax
    vmcall

vmx_smoke_xsetbv:
    xor %ecx, %ecx
    xor %edx, %edx
    mov $3, %eax
    xsetbv                      /* handled inside run(): XCR0 = x87|SSE */
    vmcall
    xor %eax, %eax
    xsetbv                      /* x87 clear: the host injects #GP(0) */
    vmcall                      /* not reached */
vmx_smoke_gp_handler:
    mov (%rsp), %rbx            /* the error code */
    mov $0x0d0d, %eax
    vmcall

vmx_smoke_xmm:
    movq %rax, %xmm0
    vmcall
    movq %xmm0, %rbx
    vmcall

vmx_smoke_spin:
    jmp vmx_smoke_spin          /* preemption_timer */

vmx_smoke_loop:
    vmcall
    jmp vmx_smoke_loop
vmx_smoke_blob_end:

    .code16
vmx_smoke_real:                 /* entered at CS = vector << 8, IP = 0 */
    mov %cs, %ax
    mov $0x4321, %bx
    add %ax, %bx
    vmcall
vmx_smoke_real_end:
    .code64

    .section .note.GNU-stack, "", @progbits
