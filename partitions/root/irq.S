/* The root's own interrupts: its local APIC timer (vector 0x30), SINT 0 (0x31), which bounds every DispatchVp
 * (a physical interrupt for the root makes the hypervisor return from the child,
 * docs/child-partitions.md), and the spurious vector. The handlers only acknowledge: the
 * scheduler loop does the work, so no handler ever touches the hypercall pages. */
    .section .text
    .globl root_timer_isr
root_timer_isr:
    push %rax
    push %rcx
    push %rdx
    mov $0x80b, %ecx                    /* x2APIC EOI (Intel SDM vol 3 10.12.1.2) */
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    lock incq root_timer_ticks(%rip)
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    /* SINT 0 of VP 0: the hypervisor's scheduler signals (partitions/root/signals.hpp). The
     * interrupt itself ends a DispatchVp or a halt; the scheduler loop reads the message. */
    .globl root_sint_isr
root_sint_isr:
    push %rax
    push %rcx
    push %rdx
    mov $0x80b, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    .globl root_spurious_isr
root_spurious_isr:
    iretq                               /* no EOI for the spurious vector (SDM 10.9) */

    .section .bss
    .balign 8
    .globl root_timer_ticks
root_timer_ticks:
    .quad 0

    .section .note.GNU-stack, "", @progbits
