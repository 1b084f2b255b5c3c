/* Application-processor start code, copied by hv/smp.cpp to a page P below 1 MiB and entered
 * through a STARTUP IPI with vector P >> 12: the processor begins in real mode at CS:IP =
 * (P >> 4):0 (Intel SDM vol 3 8.4.4, MP spec B.4). It then goes
 *   real mode -> protected mode (own GDT inside this page) -> long mode (IA-32e with the
 *   hypervisor's CR3, SDM vol 3 9.8.5) -> a 64-bit C++ entry on its own stack.
 * The code addresses its data relative to P (kept in ESI), so the same bytes work at any page;
 * hv/smp.cpp fills the patch area (GDTR base, far pointers, CR3, stack, entry) before each SIPI.
 * P must be identity-mapped in the hypervisor's tables while this runs: paging turns on with
 * the next instruction still fetched at its physical address. */
#define OFF(sym) ((sym) - hv_trampoline_start)

    .section .rodata
    .balign 16
    .globl hv_trampoline_start, hv_trampoline_end
    .globl hv_tr_gdt, hv_tr_protected, hv_tr_long
    .globl hv_tr_gdtr, hv_tr_far32, hv_tr_far64, hv_tr_cr3, hv_tr_stack, hv_tr_percpu, hv_tr_entry
    .code16
hv_trampoline_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    xor %esi, %esi
    mov %ax, %si
    shl $4, %esi                         /* ESI = P */
    lgdtl OFF(hv_tr_gdtr)
    mov %cr0, %eax
    or $1, %eax                          /* PE */
    mov %eax, %cr0
    ljmpl *OFF(hv_tr_far32)

    .code32
hv_tr_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov OFF(hv_tr_cr3)(%esi), %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax                   /* PAE */
    mov %eax, %cr4
    mov $0xC0000080, %ecx                /* IA32_EFER: LME | NXE */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax   /* PG, WP, PE */
    mov %eax, %cr0
    ljmpl *OFF(hv_tr_far64)(%esi)

    .code64
hv_tr_long:
    mov %esi, %esi                       /* upper halves are undefined after the mode switch */
    mov OFF(hv_tr_stack)(%rsi), %rsp
    mov OFF(hv_tr_percpu)(%rsi), %rdi
    mov OFF(hv_tr_entry)(%rsi), %rax
    xor %ebp, %ebp
    call *%rax                           /* never returns */
1:  cli
    hlt
    jmp 1b

    /* Accessed bits preset: loading CS 0x18 happens with paging on and this page mapped
     * read-only, where the processor's own write of the A bit would fault (SDM vol 3 3.4.5.1). */
    .balign 8
hv_tr_gdt:
    .quad 0
    .quad 0x00cf9b000000ffff             /* 0x08: 32-bit code */
    .quad 0x00cf93000000ffff             /* 0x10: data */
    .quad 0x00af9b000000ffff             /* 0x18: 64-bit code */
tr_gdt_end:
hv_tr_gdtr:
    .word tr_gdt_end - hv_tr_gdt - 1
    .long 0                              /* patched: P + OFF(hv_tr_gdt) */
hv_tr_far32:
    .long 0                              /* patched: P + OFF(hv_tr_protected) */
    .word 0x08
hv_tr_far64:
    .long 0                              /* patched: P + OFF(hv_tr_long) */
    .word 0x18
    .balign 8
hv_tr_cr3:    .quad 0
hv_tr_stack:  .quad 0
hv_tr_percpu: .quad 0
hv_tr_entry:  .quad 0
hv_trampoline_end:

    .section .note.GNU-stack, "", @progbits
