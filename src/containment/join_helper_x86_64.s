# The join helper for x86-64 Linux: the first program of every child (see join_helper.ts).
#
#   join-helper FILE... -- PROGRAM ARGV0 ARG...
#
# Calls setsid() (it fails harmlessly in a process that already leads its group), writes its pid
# in decimal into each FILE (a cgroup.procs file: the kernel moves the writer), then execs PROGRAM
# with argv ARGV0 ARG... and its own environment, untouched. A FILE that cannot be written exits
# 126 with `exec-server: cannot enter cgroup FILE`; a failed exec exits 127 (ENOENT) or 126 with
# `exec-server: cannot execute PROGRAM`; a command line without `--` exits 125.
#
# join_helper.ts carries the assembled bytes; test/containment/join_helper.test.ts assembles this
# file again (where GNU as is installed) and compares. Rebuild the bytes with:
#   as --64 -o join.o join_helper_x86_64.s && objcopy -O binary --only-section=.text join.o join.bin
.intel_syntax noprefix
.global _start
_start:
    mov   r12, rsp                  # r12: &argc; argv[i] at r12 + 8 + 8*i
    mov   rbx, [r12]                # argc
    lea   r13, [r12 + rbx*8 + 16]   # r13: envp
    mov   eax, 112                  # setsid()
    syscall
    mov   eax, 39                   # getpid()
    syscall
    sub   rsp, 32                   # the pid in decimal, right-aligned at rsp + 32
    lea   rdi, [rsp + 32]
    mov   ecx, 10
digit:
    xor   edx, edx
    div   rcx
    add   dl, 48
    dec   rdi
    mov   [rdi], dl
    test  rax, rax
    jnz   digit
    mov   r14, rdi                  # r14: first digit
    lea   r15, [rsp + 32]
    sub   r15, rdi                  # r15: digit count
    lea   rbp, [r12 + 16]           # rbp: &argv[1]
join:
    mov   rdi, [rbp]
    test  rdi, rdi
    jz    usage                     # no "--"
    cmp   word ptr [rdi], 0x2d2d    # "--"
    jne   open
    cmp   byte ptr [rdi + 2], 0
    je    exec
open:
    mov   eax, 2                    # open(FILE, O_WRONLY | O_CLOEXEC)
    mov   esi, 0x80001
    syscall
    test  rax, rax
    js    refused
    mov   r9, rax                   # r9: fd
    mov   eax, 1                    # write(fd, digits, count)
    mov   rdi, r9
    mov   rsi, r14
    mov   rdx, r15
    syscall
    cmp   rax, r15
    jne   refused
    mov   eax, 3                    # close(fd)
    mov   rdi, r9
    syscall
    add   rbp, 8
    jmp   join
exec:
    mov   rdi, [rbp + 8]            # execve(PROGRAM, &ARGV0, envp)
    lea   rsi, [rbp + 16]
    mov   rdx, r13
    mov   eax, 59
    syscall
    mov   rbx, [rbp + 8]            # it failed: name the program
    lea   rsi, [rip + cannot_exec]
    mov   edx, 28
    mov   r12d, 127                 # ENOENT: 127, anything else: 126
    cmp   rax, -2
    je    report
    mov   r12d, 126
    jmp   report
refused:
    mov   rbx, [rbp]                # name the file
    lea   rsi, [rip + cannot_join]
    mov   edx, 33
    mov   r12d, 126
    jmp   report
usage:
    xor   ebx, ebx
    lea   rsi, [rip + bad_usage]
    mov   edx, 26
    mov   r12d, 125
report:
    mov   eax, 1                    # write(2, message, length)
    mov   edi, 2
    syscall
    test  rbx, rbx
    jz    newline
    xor   edx, edx                  # write(2, name, strlen(name))
length:
    cmp   byte ptr [rbx + rdx], 0
    je    name
    inc   rdx
    jmp   length
name:
    mov   eax, 1
    mov   edi, 2
    mov   rsi, rbx
    syscall
newline:
    mov   eax, 1
    mov   edi, 2
    lea   rsi, [rip + line_end]
    mov   edx, 1
    syscall
    mov   eax, 60                   # exit(status)
    mov   edi, r12d
    syscall
cannot_exec: .ascii "exec-server: cannot execute "
cannot_join: .ascii "exec-server: cannot enter cgroup "
bad_usage:   .ascii "exec-server: join: no \"--\""
line_end:    .ascii "\n"
