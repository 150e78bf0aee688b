/**
 * The join helper: the first program of every child where the host runs x86-64. A child must be
 * inside its cgroups before its program runs, and neither runtime can run code between fork and
 * exec, so something else runs first: as dash (`join_command.ts`) that costs an exec of a shell
 * (on Deno after one of setsid(1)), about 3 ms per start here against 2.7 ms for the whole spawn
 * of /bin/true. This helper is a 542-byte static program, written from the bytes below into the
 * server's private state directory: it calls setsid(), writes its pid into each cgroup.procs file
 * and execs the program with exactly its argv[0] and environment, for about 0.9 ms.
 *
 * The bytes are `join_helper_x86_64.s` assembled; a test assembles that file again and compares.
 * Every child runs it before anything else, so nothing a sandbox can write may hold it: it lives in
 * a sealed memfd of the server (`sealedJoinHelper`), which nothing can write or grow and which
 * children exec by `/proc/PID/fd/N`; where that cannot be made (a Deno server without FFI), in a
 * file in the state directory, read-only in every sandbox (`protectServerFiles`).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { hexBytes, openLibc } from "../runtime/mod.ts";
import type { RuntimeName } from "../runtime/mod.ts";

/** The machine code of `join_helper_x86_64.s` (its .text section), in hex. */
const CODE_X86_64 = [
  "4989e4498b1c244d8d6cdc10b8700000000f05b827000000",
  "0f054883ec20488d7c2420b90a00000031d248f7f180c230",
  "48ffcf88174885c075ee4989fe4c8d7c24204929ff498d6c",
  "2410488b7d004885ff0f849400000066813f2d2d7506807f",
  "02007439b802000000be010008000f054885c0785e4989c1",
  "b8010000004c89cf4c89f64c89fa0f054c39f87546b80300",
  "00004c89cf0f054883c508ebad488b7d08488d75104c89ea",
  "b83b0000000f05488b5d08488d3594000000ba1c00000041",
  "bc7f0000004883f8fe743441bc7e000000eb2c488b5d0048",
  "8d358c000000ba2100000041bc7e000000eb1431db488d35",
  "97000000ba1a00000041bc7d000000b801000000bf020000",
  "000f054885db741c31d2803c1300740548ffc2ebf5b80100",
  "0000bf020000004889de0f05b801000000bf02000000488d",
  "3568000000ba010000000f05b83c0000004489e70f056578",
  "65632d7365727665723a2063616e6e6f7420657865637574",
  "6520657865632d7365727665723a2063616e6e6f7420656e",
  "746572206367726f757020657865632d7365727665723a20",
  "6a6f696e3a206e6f20222d2d220a",
].join("");

/** Where the single segment is loaded: the conventional base of a static x86-64 executable. */
const BASE = 0x400000;
const ELF_HEADER_BYTES = 64;
const PROGRAM_HEADER_BYTES = 56;

/** A static ELF64 executable of one read-and-execute segment holding `code`, entered at its start. */
export function elfExecutable(code: Uint8Array, machine: number): Uint8Array {
  const codeOffset = ELF_HEADER_BYTES + PROGRAM_HEADER_BYTES;
  const size = codeOffset + code.byteLength;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // \x7fELF, 64-bit, little-endian, version 1, SysV
  view.setUint16(16, 2, true); // e_type: EXEC
  view.setUint16(18, machine, true); // e_machine
  view.setUint32(20, 1, true); // e_version
  view.setBigUint64(24, BigInt(BASE + codeOffset), true); // e_entry
  view.setBigUint64(32, BigInt(ELF_HEADER_BYTES), true); // e_phoff
  view.setUint16(52, ELF_HEADER_BYTES, true); // e_ehsize
  view.setUint16(54, PROGRAM_HEADER_BYTES, true); // e_phentsize
  view.setUint16(56, 1, true); // e_phnum
  const ph = ELF_HEADER_BYTES;
  view.setUint32(ph, 1, true); // p_type: LOAD
  view.setUint32(ph + 4, 5, true); // p_flags: read, execute
  view.setBigUint64(ph + 16, BigInt(BASE), true); // p_vaddr
  view.setBigUint64(ph + 24, BigInt(BASE), true); // p_paddr
  view.setBigUint64(ph + 32, BigInt(size), true); // p_filesz
  view.setBigUint64(ph + 40, BigInt(size), true); // p_memsz
  view.setBigUint64(ph + 48, 0x1000n, true); // p_align
  bytes.set(code, codeOffset);
  return bytes;
}

/** The helper's code for the architecture this runs on, or null where there is none. */
export function joinHelperCode(arch: string = process.arch): Uint8Array | null {
  if (arch !== "x64") return null;
  return hexBytes(CODE_X86_64);
}

/** ELF e_machine of x86-64. */
const EM_X86_64 = 62;

/**
 * Writes the helper into `dir` (a directory only this server writes) and returns its path, or
 * null where this architecture has none. The file is created, never overwritten, owner-only.
 */
export async function installJoinHelper(dir: string): Promise<string | null> {
  const code = joinHelperCode();
  if (code === null || process.platform !== "linux") return null;
  const path = join(dir, "join-helper");
  await writeFile(path, elfExecutable(code, EM_X86_64), { mode: 0o500, flag: "wx" });
  return path;
}

/** The calls `sealedJoinHelper` makes, x86-64 numbering (the helper exists for x86-64 only). */
const X86_64 = { write: 1, close: 3, fcntl: 72, memfdCreate: 319 } as const;
const MFD_CLOEXEC = 0x1n;
const MFD_ALLOW_SEALING = 0x2n;
/** Executable whatever `vm.memfd_noexec` defaults to (Linux 6.3; older kernels answer EINVAL). */
const MFD_EXEC = 0x10n;
const EINVAL = 22n;
const F_ADD_SEALS = 1033n;
/** F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE: no one changes it, nor the seals. */
const ALL_SEALS = 0x1n | 0x2n | 0x4n | 0x8n;

/**
 * Puts the helper into a memfd of this process, sealed against every change, and returns the path
 * children exec it by (`/proc/PID/fd/N`, which only this user's processes outside a sandbox may
 * open: a sandbox's `/proc` shows only itself). Null where that cannot be done: another
 * architecture, no FFI (a Deno server without `--allow-ffi`), memfd_create or its seals refused.
 * The descriptor stays open for the life of the process.
 */
export async function sealedJoinHelper(runtime: RuntimeName): Promise<string | null> {
  const code = joinHelperCode();
  if (code === null || process.platform !== "linux") return null;
  const libc = await openLibc(runtime, process.arch).catch(() => null);
  if (libc === null) return null;
  const bytes = elfExecutable(code, EM_X86_64);
  const name = new TextEncoder().encode("exec-server-join-helper\0");
  const create = (flags: bigint) => libc.syscall(X86_64.memfdCreate, libc.addressOf(name), flags);
  let fd = create(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd === -EINVAL) fd = create(MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0n) return null;
  const written = libc.syscall(X86_64.write, fd, libc.addressOf(bytes), BigInt(bytes.byteLength));
  if (written !== BigInt(bytes.byteLength) || libc.syscall(X86_64.fcntl, fd, F_ADD_SEALS, ALL_SEALS) !== 0n) {
    libc.syscall(X86_64.close, fd);
    return null;
  }
  return `/proc/${process.pid}/fd/${fd}`;
}
