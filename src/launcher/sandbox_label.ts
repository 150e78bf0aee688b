/**
 * The name of a sandbox root's tmpfs. It marks a mount namespace as a sandbox's in every
 * `/proc/<pid>/mountinfo` of it, and code inside can neither unmount it (seccomp denies umount) nor
 * leave the namespace (nor `unshare` or `setns`). After the marker comes the launch: the pid the
 * launcher ran as (the process the server started, which `execve`s the program) and its start time,
 * so the server finds every process of one launch, wherever it went in the process tree.
 */
export const SANDBOX_MOUNT_SOURCE = "exec-server-sandbox";

/** The root's source for the launch by process `pid`, started at `startTime` (clock ticks after boot). */
export function sandboxMountSource(pid: number, startTime: string | null): string {
  return startTime === null ? SANDBOX_MOUNT_SOURCE : `${SANDBOX_MOUNT_SOURCE}:${pid}:${startTime}`;
}

/** Whether a mount `source` is a sandbox root's, of any launch. */
export function isSandboxMountSource(source: string | undefined): boolean {
  return source === SANDBOX_MOUNT_SOURCE || source?.startsWith(`${SANDBOX_MOUNT_SOURCE}:`) === true;
}

/**
 * The start time in `/proc/<pid>/stat` text (field 22; the command name may contain spaces and
 * parentheses, so fields resume after the last ")"), or null when the text has none.
 */
export function statStartTime(text: string): string | null {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const start = fields[19];
  return start === undefined || !/^\d+$/.test(start) ? null : start;
}
