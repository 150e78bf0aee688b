# long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) for x86-64 Linux
# (see raw_syscall.ts): what libc's syscall() does, without turning a failure into -1 and errno.
# The kernel's result comes back as it is: -errno on failure.
#
# raw_syscall.ts carries the assembled bytes; test/runtime/raw_syscall.test.ts assembles this file
# again (where GNU as is installed) and compares. Rebuild the bytes with:
#   as --64 -o raw.o raw_syscall_x86_64.s && objcopy -O binary --only-section=.text raw.o raw.bin
.intel_syntax noprefix
.global raw_syscall
raw_syscall:
    mov   rax, rdi                  # the system call number
    mov   rdi, rsi                  # its arguments, from the C calling convention to the kernel's
    mov   rsi, rdx
    mov   rdx, rcx
    mov   r10, r8
    mov   r8, r9
    mov   r9, [rsp + 8]             # the seventh argument is on the stack, above the return address
    syscall
    ret
