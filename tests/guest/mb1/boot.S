/* Entry of the Multiboot 1 test kernel (Multiboot spec 0.6.96 3.1, 3.2): the loader enters
 * mb1_start in 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = the information
 * structure; nothing else (GDT, IDT, stack) may be relied on. Also here: the real-mode AP
 * trampoline (Intel SDM vol 3 8.4.4, 9.9) and the interrupt stubs. */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003           /* page-aligned modules, memory information */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

    .section .text
    .code32
    .globl mb1_start
mb1_start:
    cli
    lgdt mb1_gdtr
    ljmp $0x08, $1f
1:  mov $0x10, %ecx
    mov %ecx, %ds
    mov %ecx, %es
    mov %ecx, %ss
    mov %ecx, %fs
    mov %ecx, %gs
    mov $mb1_stack_top, %esp
    push %ebx
    push %eax
    call mb1_main
2:  cli
    hlt
    jmp 2b

/* Application processors: the BSP copies mb1_tramp..mb1_tramp_end to MB1_TRAMP (0x8000) and
 * names that page in the SIPI vector; the AP starts in real mode at 0800:0000. */
    .set MB1_TRAMP, 0x8000
    .code16
    .globl mb1_tramp, mb1_tramp_end
mb1_tramp:
    cli
    xor %ax, %ax
    mov %ax, %ds
    lgdtl MB1_TRAMP + (mb1_tramp_gdtr - mb1_tramp)
    mov %cr0, %eax
    or $1, %eax                         /* PE */
    mov %eax, %cr0
    ljmpl $0x08, $mb1_ap32
    .balign 8
mb1_tramp_gdtr:
    .word mb1_gdt_end - mb1_gdt - 1
    .long mb1_gdt
mb1_tramp_end:

    .code32
mb1_ap32:
    mov $0x10, %ecx
    mov %ecx, %ds
    mov %ecx, %es
    mov %ecx, %ss
    mov %ecx, %fs
    mov %ecx, %gs
    mov $1, %eax
    lock xadd %eax, mb1_ap_next         /* this AP's number, 1.. */
    mov %eax, %esp
    shl $12, %esp
    add $mb1_ap_stacks + 4096, %esp
    push %eax
    call mb1_ap_main
3:  cli
    hlt
    jmp 3b

/* Exceptions 0-31 report and end the run; vector 0x40 is the local APIC timer. */
    .macro stub v
    .globl mb1_isr\v
mb1_isr\v:
    push $\v
    jmp mb1_fault_common
    .endm
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    stub \v
    .endr
mb1_fault_common:
    call mb1_fault                      /* (vector, then what the CPU pushed) */
4:  cli
    hlt
    jmp 4b

    .globl mb1_timer_isr
mb1_timer_isr:
    pusha
    cld
    call mb1_timer
    popa
    iret

    .section .rodata
    .balign 4
    .globl mb1_isr_table
mb1_isr_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long mb1_isr\v
    .endr

    .section .data
    .balign 8
mb1_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff            /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: flat data */
mb1_gdt_end:
mb1_gdtr:
    .word mb1_gdt_end - mb1_gdt - 1
    .long mb1_gdt
mb1_ap_next:
    .long 1

    .section .bss
    .balign 4096
mb1_ap_stacks:
    .skip 4096 * 16
    .skip 16384
mb1_stack_top:

    .section .note.GNU-stack, "", @progbits
