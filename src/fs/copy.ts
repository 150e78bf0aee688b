import { constants } from "node:fs";
import * as fs from "node:fs/promises";
import { ErrorCode, RpcError } from "../protocol/mod.ts";
import { errnoOf } from "./error_map.ts";
import { isWithin, joinPath, listDirectory, parentPath } from "./list_directory.ts";
import { O_NOBLOCK_NOCTTY, openRegular } from "./open_regular.ts";

const COPY_BUFFER_BYTES = 1 << 20;
/** Permission bits copied with a file; set-id and sticky bits are not handed to the copy. */
const PERMISSION_BITS = 0o777;

function copyRule(message: string): RpcError {
  return new RpcError(ErrorCode.InvalidRequest, "InvalidInput", message);
}

/**
 * `fs/copy` (PROTOCOL.md §7.11): a file's bytes and permission bits, a symlink as a symlink, a
 * directory recursively (merging, specials skipped); everything else is refused before any change.
 */
export async function copyPath(
  source: string,
  destination: string,
  options: { recursive: boolean; signal?: AbortSignal | undefined },
): Promise<void> {
  const stat = await fs.lstat(source);
  if (stat.isSymbolicLink()) return await copySymlink(source, destination, false);
  if (stat.isFile()) return await copyFile(source, destination);
  if (!stat.isDirectory()) throw copyRule("fs/copy only supports regular files, directories, and symlinks");
  if (!options.recursive) throw copyRule("fs/copy requires recursive: true when sourcePath is a directory");
  const canonicalSource = await fs.realpath(source);
  if (isWithin(await canonicalDestination(destination), canonicalSource)) {
    throw copyRule("fs/copy cannot copy a directory to itself or one of its descendants");
  }
  await copyTree(source, destination, options.signal);
}

/** The canonical form of a destination that may not exist yet; its parent must exist. */
async function canonicalDestination(destination: string): Promise<string> {
  try {
    return await fs.realpath(destination);
  } catch (error) {
    if (errnoOf(error) !== "ENOENT" || destination === "/") throw error;
  }
  const name = destination.slice(destination.lastIndexOf("/") + 1);
  return joinPath(await fs.realpath(parentPath(destination)), name);
}

async function copyTree(source: string, destination: string, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  try {
    await fs.mkdir(destination);
  } catch (error) {
    if (errnoOf(error) !== "EEXIST") throw error;
    const existing = await fs.stat(destination).catch(() => null);
    if (existing === null || !existing.isDirectory()) throw error;
  }
  for (const entry of await listDirectory(source, (entry) => entry)) {
    const from = joinPath(source, entry.name);
    const to = joinPath(destination, entry.name);
    switch (entry.type) {
      case "directory":
        await copyTree(from, to, signal);
        break;
      case "file":
        await copyFile(from, to);
        break;
      case "symlink":
        await copySymlink(from, to, true);
        break;
      case "other":
        // FIFOs, sockets and devices inside a tree are skipped (PROTOCOL.md §7.11).
        break;
    }
  }
}

async function copyFile(source: string, destination: string): Promise<void> {
  const input = await openRegular(source, constants.O_RDONLY);
  try {
    const stat = await input.stat();
    const mode = Number(stat.mode) & PERMISSION_BITS;
    // No O_TRUNC at open: the destination may be the source itself (or a hard link to it), and
    // truncating first would destroy the bytes to copy.
    const output = await fs.open(
      destination,
      constants.O_WRONLY | constants.O_CREAT | O_NOBLOCK_NOCTTY,
      mode,
    );
    try {
      const target = await output.stat();
      if (target.dev === stat.dev && target.ino === stat.ino) return;
      await output.truncate(0);
      const buffer = new Uint8Array(Math.min(COPY_BUFFER_BYTES, Math.max(Number(stat.size), 1)));
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        let written = 0;
        while (written < bytesRead) {
          const result = await output.write(buffer, written, bytesRead - written, null);
          written += result.bytesWritten;
        }
      }
      await output.chmod(mode);
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

async function copySymlink(source: string, destination: string, replace: boolean): Promise<void> {
  const target = await fs.readlink(source);
  try {
    await fs.symlink(target, destination);
  } catch (error) {
    if (!replace || errnoOf(error) !== "EEXIST") throw error;
    const existing = await fs.lstat(destination);
    if (existing.isDirectory()) throw error;
    await fs.unlink(destination);
    await fs.symlink(target, destination);
  }
}
