/* VM entry and exit (Intel SDM vol 3 26, 27.5). The VMCS holds neither the guest's general
 * registers nor the host's callee-saved ones, so this stub loads and saves every guest GPR
 * except RSP (the VMCS holds that) from hv::virt::GuestGprs, in Gpr order (rax rcx rdx rbx rsp
 * rbp rsi rdi r8..r15), and keeps the host's callee-saved registers on its own stack. HOST_RSP
 * points just below them; HOST_RIP is vmx_exit_stub.
 *
 * uint64_t vmx_enter(GuestGprs* gprs, uint64_t launched, uint64_t* host_rsp_cache)
 *   returns 0 after a VM exit, 1 for VMfailInvalid, 2 for VMfailValid (30.2).
 */
    .text
    .globl vmx_enter
    .type vmx_enter, @function
vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                     /* the exit stub finds GuestGprs here */
    /* HOST_RSP changes only when the caller's stack depth does: skip the VMWRITE otherwise. */
    cmp %rsp, (%rdx)
    je 1f
    mov %rsp, (%rdx)
    mov $0x6c14, %eax             /* VmcsField::host_rsp */
    vmwrite %rsp, %rax
    jbe .Lfailed
1:
    test %rsi, %rsi               /* ZF survives the loads below: MOV leaves flags alone */
    mov 0x00(%rdi), %rax
    mov 0x08(%rdi), %rcx
    mov 0x10(%rdi), %rdx
    mov 0x18(%rdi), %rbx
    mov 0x28(%rdi), %rbp
    mov 0x30(%rdi), %rsi
    mov 0x40(%rdi), %r8
    mov 0x48(%rdi), %r9
    mov 0x50(%rdi), %r10
    mov 0x58(%rdi), %r11
    mov 0x60(%rdi), %r12
    mov 0x68(%rdi), %r13
    mov 0x70(%rdi), %r14
    mov 0x78(%rdi), %r15
    mov 0x38(%rdi), %rdi
    jnz 2f
    vmlaunch
    jmp .Lfailed
2:
    vmresume
.Lfailed:
    /* Only a failed VMLAUNCH/VMRESUME/VMWRITE gets here: CF=1 VMfailInvalid, ZF=1 VMfailValid. */
    mov $1, %eax
    jc 3f
    mov $2, %eax
3:
    pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .size vmx_enter, . - vmx_enter

    .globl vmx_exit_stub
    .type vmx_exit_stub, @function
vmx_exit_stub:
    /* 27.5: RSP = HOST_RSP, RFLAGS = 2 (interrupts off), everything else still the guest's. */
    push %rdi
    mov 8(%rsp), %rdi
    mov %rax, 0x00(%rdi)
    mov %rcx, 0x08(%rdi)
    mov %rdx, 0x10(%rdi)
    mov %rbx, 0x18(%rdi)
    mov %rbp, 0x28(%rdi)
    mov %rsi, 0x30(%rdi)
    mov %r8, 0x40(%rdi)
    mov %r9, 0x48(%rdi)
    mov %r10, 0x50(%rdi)
    mov %r11, 0x58(%rdi)
    mov %r12, 0x60(%rdi)
    mov %r13, 0x68(%rdi)
    mov %r14, 0x70(%rdi)
    mov %r15, 0x78(%rdi)
    popq 0x38(%rdi)
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    xor %eax, %eax
    ret
    .size vmx_exit_stub, . - vmx_exit_stub

    .section .note.GNU-stack, "", @progbits
