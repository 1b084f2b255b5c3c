/* Real-mode start of a partition's application processors (Intel SDM vol 3 8.4.4, 9.9): the
 * bootstrap processor copies this code to a page below 1 MiB and names that page in the SIPI
 * vector. The AP enters in real mode at CS = page >> 4, IP = 0, switches to long mode with the
 * bootstrap processor's page tables (which must be below 4 GiB and map this page one-to-one) and
 * jumps to rt_ap_entry64 with the stack and index the BSP left in the parameter block. */
#define OFF(x) ((x) - rt_tramp)

    .section .rt.trampoline, "a"
    .code16
    .globl rt_tramp
rt_tramp:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    xor %ebx, %ebx
    mov %cs, %bx
    shl $4, %ebx                          /* linear address of this page */
    lea OFF(rt_tramp_gdt)(%ebx), %eax
    mov %eax, OFF(rt_tramp_gdtr) + 2
    lgdtl OFF(rt_tramp_gdtr)
    mov %cr4, %eax
    or $(1 << 5), %eax                    /* PAE */
    mov %eax, %cr4
    mov OFF(rt_tramp_cr3), %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx                 /* EFER: LME, NXE */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax /* PG, WP, PE */
    mov %eax, %cr0
    lea OFF(rt_tramp_long)(%ebx), %eax
    mov %eax, OFF(rt_tramp_far)
    ljmpl *OFF(rt_tramp_far)

    .code64
rt_tramp_long:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    mov OFF(rt_tramp_stack)(%rbx), %rsp
    mov OFF(rt_tramp_index)(%rbx), %edi
    mov OFF(rt_tramp_entry)(%rbx), %rax
    jmp *%rax

    .balign 8
rt_tramp_gdt:
    .quad 0
    .quad 0x00af9b000000ffff              /* 0x08: 64-bit code (accessed bits preset) */
    .quad 0x00cf93000000ffff              /* 0x10: data */
rt_tramp_gdtr:
    .word 23
    .long 0
    .balign 8
rt_tramp_far:
    .long 0
    .word 0x08
    .balign 8
    .globl rt_tramp_params
rt_tramp_params:
rt_tramp_cr3:   .long 0
rt_tramp_index: .long 0
rt_tramp_stack: .quad 0
rt_tramp_entry: .quad 0
    .globl rt_tramp_end
rt_tramp_end:

    .section .note.GNU-stack, "", @progbits
