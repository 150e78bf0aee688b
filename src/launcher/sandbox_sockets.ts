/**
 * The sockets that sandboxes' processes hold. A socket bound in a writable root may be a host
 * daemon's (a tmux server, an ssh-agent, a docker.sock in a workspace) or one of another running
 * sandbox's (a dev server or a database another command started there): the second kind stays
 * reachable, the first is covered (`host_sockets.ts`). A process is a sandbox's when its mount
 * table shows a sandbox root (`sandbox_label.ts`), which nothing inside a sandbox can remove.
 */
import { isSandboxMountSource } from "./sandbox_label.ts";

/** What this needs of the host's `/proc`. */
export interface ProcFiles {
  readDir(path: string): string[];
  readlink(path: string): string;
  readText(path: string): string;
}

/**
 * The inodes (`/proc/net/unix` numbers) of the sockets that processes in sandboxes hold open, read
 * from `proc` (the host's /proc). A process that cannot be read (another user's, gone, or one
 * whose main thread has ended and whose namespace no longer shows) counts as no sandbox's, so its
 * sockets are covered: nothing is left reachable for want of a look.
 */
export function socketsHeldBySandboxes(files: ProcFiles, proc: string): Set<string> {
  const held = new Set<string>();
  const sandboxNamespaces = new Map<string, boolean>();
  const attempt = <T>(read: () => T): T | null => {
    try {
      return read();
    } catch {
      return null;
    }
  };
  for (const pid of attempt(() => files.readDir(proc)) ?? []) {
    if (!/^\d+$/.test(pid)) continue;
    const namespace = attempt(() => files.readlink(`${proc}/${pid}/ns/mnt`));
    if (namespace === null) continue;
    let sandbox = sandboxNamespaces.get(namespace);
    if (sandbox === undefined) {
      const table = attempt(() => files.readText(`${proc}/${pid}/mountinfo`));
      if (table === null) continue;
      sandbox = table.split("\n").some((line) => isSandboxMountSource(line.split(" - ")[1]?.split(" ")[1]));
      sandboxNamespaces.set(namespace, sandbox);
    }
    if (!sandbox) continue;
    for (const fd of attempt(() => files.readDir(`${proc}/${pid}/fd`)) ?? []) {
      const target = attempt(() => files.readlink(`${proc}/${pid}/fd/${fd}`));
      const inode = target === null ? null : /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inode !== null) held.add(inode);
    }
  }
  return held;
}
