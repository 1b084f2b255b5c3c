/* The hypercall suite's excursions out of 64-bit ring 0 (tests/guest/hypercalls.cpp):
 *  - raw VMCALL/VMMCALL probes that report #UD through the runtime's fixup table;
 *  - a ring-3 trip: IRETQ to a user stub that issues the call, back through a #UD gate;
 *  - a real-mode trip on the bootstrap VP: a page below 1 MiB (copied and patched by the
 *    suite) leaves long mode for real mode, issues the call with its own IVT, and comes back
 *    (Intel SDM vol 3 9.9.2 "Switching Back to Real-Address Mode", AMD APM vol 2 14.7). */
#define OFF(x) ((x) - hc_rm_start)

    .macro fixup insn, fix
    .pushsection .rt.fixup, "a"
    .quad \insn, \fix
    .popsection
    .endm

    .section .text
hc_probe_fault:
    mov %eax, (%r9)
    mov $-1, %rax
    ret

    /* uint64_t hc_raw_vmcall(control, input, output, int* vector): RAX or -1 after #UD */
    .globl hc_raw_vmcall
hc_raw_vmcall:
    mov %rcx, %r9
    movl $-1, (%r9)
    mov %rdi, %rcx
    mov %rdx, %r8
    mov %rsi, %rdx
1:  vmcall
    ret
    fixup 1b, hc_probe_fault

    .globl hc_raw_vmmcall
hc_raw_vmmcall:
    mov %rcx, %r9
    movl $-1, (%r9)
    mov %rdi, %rcx
    mov %rdx, %r8
    mov %rsi, %rdx
1:  vmmcall
    ret
    fixup 1b, hc_probe_fault

/* void hc_user_trip(uint64_t user_rip, uint64_t user_rsp, uint64_t control): enters ring 3 at
 * user_rip with IF=0; the stub's #UD (hc_user_ud, installed as vector 6) comes back here. */
    .globl hc_user_trip
hc_user_trip:
    push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15
    mov %rsp, hc_kernel_rsp(%rip)
    mov %rdx, %rcx
    xor %edx, %edx
    xor %r8d, %r8d
    pushq $0x1b
    pushq %rsi
    pushq $0x2
    pushq $0x23
    pushq %rdi
    iretq

    .globl hc_user_ud
hc_user_ud:
    mov (%rsp), %rax
    mov %rax, hc_user_fault_rip(%rip)
    mov hc_kernel_rsp(%rip), %rsp
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx
    ret

/* The synthetic IPI's handler (vector 0x40 in the suite's IDT): count, EOI, return. */
    .globl hc_ipi_isr
hc_ipi_isr:
    push %rax
    push %rcx
    push %rdx
    lock incl hc_ipi_count(%rip)
    mov $0x80b, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    .section .bss
    .balign 8
hc_kernel_rsp: .quad 0
    .globl hc_user_fault_rip
hc_user_fault_rip: .quad 0
    .globl hc_ipi_count
hc_ipi_count: .long 0

/* The real-mode page. Patched by the suite: rm_gdt's 16-bit descriptors (base = page),
 * thunk_gdtr and rm_idtr bases, rm_far's segment, far64's offset, the IVT and the 3 bytes at
 * rm_insn (the vendor's call instruction). Results: rm_vector (6 after #UD, 0xffff if none). */
    .section .rodata
    .balign 16
    .globl hc_rm_start
hc_rm_start:
    .code64
    push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15
    pushfq
    cli
    mov %rsp, rm_saved_rsp(%rip)
    sgdt rm_saved_gdtr(%rip)
    sidt rm_saved_idtr(%rip)
    lgdt rm_gdtr(%rip)
    pushq $0x18
    pushq $OFF(rm_pm16)
    lretq

    .code16
rm_pm16:
    mov $0x20, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $OFF(rm_stack_top), %sp
    mov %cr0, %eax
    and $0x7fffffff, %eax            /* paging off: leaves IA-32e mode, LME stays set */
    mov %eax, %cr0
    lidtl OFF(rm_idtr)
    and $0xfffffffe, %eax            /* protection off: real mode */
    mov %eax, %cr0
    ljmpw *OFF(rm_far)
rm_real:
    mov %cs, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $OFF(rm_stack_top), %sp
    movw $0xffff, OFF(rm_vector)
    mov $0x46, %ecx                  /* GetPartitionId, were it allowed */
    xor %edx, %edx
    mov $0xdead, %eax
rm_insn:
    .byte 0x0f, 0x01, 0xc1
    mov %ax, OFF(rm_rax)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmp $0x18, $OFF(rm_pm16_back)
rm_pm16_back:
    mov $0x20, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr0, %eax
    or $0x80000000, %eax             /* paging on with LME set: IA-32e mode again */
    mov %eax, %cr0
    ljmpl *OFF(rm_far64)

rm_ud:                               /* IVT vector 6: record it, step over the 3 bytes */
    movw $6, %cs:OFF(rm_vector)
    push %bp
    mov %sp, %bp
    addw $3, 2(%bp)
    pop %bp
    iret
rm_iret:
    iret

    .code64
rm_long:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    lgdt rm_saved_gdtr(%rip)
    lidt rm_saved_idtr(%rip)
    mov rm_saved_rsp(%rip), %rsp
    popfq
    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx
    ret

    .balign 8
    .globl hc_rm_gdt
hc_rm_gdt:
rm_gdt:
    .quad 0
    .quad 0x00af9b000000ffff         /* 0x08 64-bit code */
    .quad 0x00cf93000000ffff         /* 0x10 flat data */
    .quad 0x00009b000000ffff         /* 0x18 16-bit code, base patched */
    .quad 0x000093000000ffff         /* 0x20 16-bit data, base patched */
    .balign 8
    .word 0
    .globl hc_rm_gdtr
hc_rm_gdtr:
rm_gdtr:
    .word 39
    .quad 0
    .balign 8
    .word 0
    .globl hc_rm_idtr
hc_rm_idtr:
rm_idtr:
    .word 32 * 4 - 1
    .long 0
    .balign 4
    .globl hc_rm_far
hc_rm_far:
rm_far:
    .word OFF(rm_real)
    .word 0
    .balign 4
    .globl hc_rm_far64
hc_rm_far64:
rm_far64:
    .long 0
    .word 0x08
    .balign 8
rm_saved_rsp: .quad 0
rm_saved_gdtr: .skip 16
rm_saved_idtr: .skip 16
    .globl hc_rm_vector
hc_rm_vector:
rm_vector: .word 0
rm_rax: .word 0
    .balign 4
    .globl hc_rm_ivt
hc_rm_ivt:
    .skip 32 * 4
    .balign 16
    .skip 256
rm_stack_top:
    .globl hc_rm_end
hc_rm_end:

    .globl hc_rm_off_long, hc_rm_off_insn, hc_rm_off_ud, hc_rm_off_iret
    .section .rodata
    .balign 4
hc_rm_off_long: .long OFF(rm_long)
hc_rm_off_insn: .long OFF(rm_insn)
hc_rm_off_ud: .long OFF(rm_ud)
hc_rm_off_iret: .long OFF(rm_iret)

    .section .note.GNU-stack, "", @progbits
