/* Entry of a partition kernel, as the hypervisor starts its bootstrap VP
 * (partitions/abi/root_handoff.hpp): 64-bit mode, RDI = handoff GPA, RSI = magic. */
    .section .text.entry, "ax"
    .globl rt_start
rt_start:
    cli
    movabs $rt_bsp_stack_top, %rsp
    xor %ebp, %ebp
    call rt_main
1:  hlt
    jmp 1b

/* Application processors arrive here from the trampoline, in 64-bit mode, with RSP set and
 * RDI = their processor index. */
    .globl rt_ap_entry64
rt_ap_entry64:
    xor %ebp, %ebp
    call rt_ap_main
2:  hlt
    jmp 2b

    .section .bss
    .balign 16
rt_bsp_stack:
    .skip 32768
    .globl rt_bsp_stack_top
rt_bsp_stack_top:

    .section .note.GNU-stack, "", @progbits
