/* Guest code for svm/smoke.cpp. Each snippet is copied to guest-physical 0x10000 (0x9000 for
 * the real-mode one) and run from its first byte; they are position independent. Lengths the
 * test steps over with advance_rip are noted beside the instructions. */

.macro SNIPPET name
    .globl svm_guest_\name
svm_guest_\name:
.endm

    .section .rodata, "a"
    .code64

SNIPPET cpuid
    mov $0x80000000, %eax
    cpuid                           /* 2 bytes, at +5 */
    hlt
SNIPPET vmmcall
    vmmcall                         /* 3 bytes */
SNIPPET out
    mov $0x1234, %eax
    mov $0x510, %edx
    out %ax, %dx                    /* 66 EF: 2 bytes, at +10 */
SNIPPET in
    in $0x71, %al                   /* E4 71: 2 bytes */
SNIPPET msr
    mov $0xc0000102, %ecx           /* KERNEL_GS_BASE: passed through by the MSRPM */
    rdmsr
    mov $0xc0000081, %ecx           /* STAR: intercepted */
    rdmsr                           /* at +12, 2 bytes */
    wrmsr                           /* at +14, 2 bytes */
SNIPPET hlt
    hlt
SNIPPET npf
    mov $0x200000, %ebx             /* a GPA the nested tables do not map */
    mov (%rbx), %eax                /* read, at +5, 2 bytes */
    movl $1, (%rbx)                 /* write, at +7, 6 bytes */
    jmp *%rbx                       /* fetch, at +13 */
SNIPPET ud
    ud2
SNIPPET gp
    mov $0x08, %eax
    mov %eax, %ds                   /* no GDT: #GP(0x08), at +5 */
SNIPPET vmrun
    mov $0x12000, %eax
    vmrun                           /* at +5, 3 bytes */
SNIPPET gprs
    vmmcall                         /* the host sets patterns here, then steps over */
    inc %rax
    inc %rcx
    inc %rdx
    inc %rbx
    inc %rsp
    inc %rbp
    inc %rsi
    inc %rdi
    inc %r8
    inc %r9
    inc %r10
    inc %r11
    inc %r12
    inc %r13
    inc %r14
    inc %r15
    vmmcall
SNIPPET sse
    mov %cr4, %rax
    or $0x600, %rax                 /* OSFXSR | OSXMMEXCPT */
    mov %rax, %cr4
    movq %rdi, %xmm0                /* RDI: the start argument, different per Vcpu */
    vmmcall                         /* 3 bytes */
    movq %xmm0, %rax
    vmmcall
SNIPPET irq
    cli
    vmmcall                         /* at +1, 3 bytes: IF=0, the host asks for the window */
    sti
    nop
    vmmcall                         /* at +6: the window opens before this */
1:  jmp 1b
SNIPPET irq_handler
    mov $0x40, %ebx
    vmmcall
SNIPPET xsetbv
    mov %cr4, %rax
    or $0x40000, %rax               /* OSXSAVE */
    mov %rax, %cr4
    xor %ecx, %ecx
    xor %edx, %edx
    mov $7, %eax
    xsetbv                          /* valid: x87 | SSE | AVX */
    xgetbv
    mov %rax, %rbx
    mov $2, %eax                    /* invalid: x87 clear */
    vmmcall                         /* 3 bytes: the host checks RBX */
    xsetbv                          /* #GP(0) injected: the handler below reports */
SNIPPET gp_handler
    mov $0xd, %ebx
    vmmcall
SNIPPET loop
    vmmcall                         /* 3 bytes */
    jmp svm_guest_loop
SNIPPET real
    .code16
    mov $0x1234, %ax
    mov %cs, %bx
    vmmcall                         /* at IP 5 */
    .code64
SNIPPET end

    .section .note.GNU-stack, "", @progbits
