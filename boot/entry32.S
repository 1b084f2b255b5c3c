/* Entry from a 32-bit loader (Multiboot2: GRUB; PVH: QEMU -kernel) into 64-bit long mode.
 * Both hand over in flat 32-bit protected mode with paging off (Multiboot2 spec 3.3, Xen PVH
 * ABI). We build a first set of page tables that map
 *   - the first 4 GiB one-to-one (this code keeps running after paging is on),
 *   - the same 4 GiB at the direct-map base 0xFFFF800000000000 (phys_to_virt works at once),
 *   - the first 1 GiB at 0xFFFFFFFF80000000 (the image's link address),
 * enable PAE, EFER.LME/NXE and paging (Intel SDM vol 3 9.8.5), and jump to the 64-bit core. */
#define MB2_HEADER_MAGIC 0xE85250D6
#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define PVH_START_MAGIC 0x336ec578
#define KERNEL_VMA 0xFFFFFFFF80000000
#define COM1 0x3f8

    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long 0                               /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long -(MB2_HEADER_MAGIC + 0 + (mb2_header_end - mb2_header))
    .balign 8                             /* module alignment tag (spec 3.1.10): page-aligned modules */
    .word 6, 0
    .long 8
    .balign 8                             /* end tag */
    .word 0, 0
    .long 8
mb2_header_end:

    /* XEN_ELFNOTE_PHYS32_ENTRY (type 18): QEMU's -kernel boots the ELF through this entry. */
    .section .note.Xen, "a"
    .balign 4
    .long 4, 4, 18
    .asciz "Xen"
    .balign 4
    .long pvh_entry32

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4   /* 4 x 512 x 2 MiB = the first 4 GiB */
boot_stack:     .skip 4096
boot_stack_top:

    .section .boot.data, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff             /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff             /* 0x10: data */
boot_gdt_end:
    .balign 16
boot_gdtr:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt
boot_magic: .long 0
boot_info:  .long 0

    .section .boot.text, "ax"
    .code32
    .globl mb2_entry32
mb2_entry32:
    cli
    cld
    mov %eax, boot_magic
    mov %ebx, boot_info
    jmp common32

    .globl pvh_entry32
pvh_entry32:
    cli
    cld
    movl $PVH_START_MAGIC, boot_magic
    mov %ebx, boot_info

common32:
    mov $boot_stack_top, %esp
    /* Long mode needs CPUID 0x80000001 EDX bit 29 (Intel SDM vol 2A CPUID). */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode

    /* Zero the page tables: loaders are not obliged to clear NOLOAD space. */
    mov $boot_pml4, %edi
    mov $((boot_stack - boot_pml4) / 4), %ecx
    xor %eax, %eax
    rep stosl

    /* PML4[0] and PML4[256] -> low PDPT (identity and direct map); PML4[511] -> high PDPT. */
    mov $boot_pdpt_low, %eax
    or $3, %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + 256 * 8
    mov $boot_pdpt_high, %eax
    or $3, %eax
    mov %eax, boot_pml4 + 511 * 8

    /* Low PDPT[0..3] -> the four page directories; high PDPT[510] -> the first one. */
    mov $boot_pd, %eax
    or $3, %eax
    mov %eax, boot_pdpt_low
    mov %eax, boot_pdpt_high + 510 * 8
    add $4096, %eax
    mov %eax, boot_pdpt_low + 8
    add $4096, %eax
    mov %eax, boot_pdpt_low + 16
    add $4096, %eax
    mov %eax, boot_pdpt_low + 24

    /* 2048 PDEs of 2 MiB, present|write|PS. */
    mov $boot_pd, %edi
    mov $0x83, %eax
    xor %edx, %edx
    mov $2048, %ecx
1:  mov %eax, (%edi)
    mov %edx, 4(%edi)
    add $0x200000, %eax
    adc $0, %edx
    add $8, %edi
    loop 1b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax                    /* PAE */
    mov %eax, %cr4
    mov $0xC0000080, %ecx                 /* IA32_EFER: LME */
    rdmsr
    or $(1 << 8), %eax
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax /* PG, WP, PE */
    mov %eax, %cr0
    lgdt boot_gdtr
    ljmp $0x08, $entry64_low

no_long_mode:
    mov $msg_no_lm, %esi
1:  lodsb
    test %al, %al
    jz 2f
    mov %al, %bl
3:  mov $(COM1 + 5), %dx                  /* wait for THR empty */
    inb %dx, %al
    test $0x20, %al
    jz 3b
    mov $COM1, %dx
    mov %bl, %al
    outb %al, %dx
    jmp 1b
2:  hlt
    jmp 2b

msg_no_lm: .asciz "hv: panic: this processor has no 64-bit long mode\r\n"

    .code64
entry64_low:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $entry64_high, %rax
    jmp *%rax

    .section .text.entry, "ax"
entry64_high:
    movabs $bsp_stack_top, %rsp
    xor %ebp, %ebp
    /* Clear .bss before any C++ runs (PVH loaders need not zero it). */
    movabs $__bss_start, %rdi
    movabs $__bss_end, %rcx
    sub %rdi, %rcx
    shr $3, %rcx
    xor %eax, %eax
    rep stosq
    mov boot_magic, %edi
    mov boot_info, %esi
    call hv_boot_main
4:  cli
    hlt
    jmp 4b

    .section .bss
    .balign 4096
    .globl bsp_stack_top
bsp_stack:
    .skip 32768
bsp_stack_top:
    .section .note.GNU-stack, "", @progbits
