/**
 * Who is at the other end of an accepted TCP connection, when that end is on this host: the
 * socket's owner uid and inode from /proc/net/tcp{,6}, and whether a sandboxed process holds it.
 * Loopback is no trust boundary (docs/security.md): a sandbox with the network on, or another
 * local user, reaches 127.0.0.1 as easily as the orchestrator.
 */
import { readdirSync, readlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isSandboxMountSource } from "../launcher/mod.ts";
import { SandboxWitnesses } from "./sandbox_witnesses.ts";

/** The address of the peer as the runtime reports it. */
export interface PeerAddress {
  readonly address: string;
  readonly port: number;
}

/** The peer's socket as the kernel lists it. */
export interface LocalSocket {
  readonly uid: number;
  readonly inode: number;
}

/**
 * How many processes' mount namespaces are read between two turns of the event loop. Procfs answers
 * these at once (no file system below it can hang them), so they are read synchronously: 78
 * processes took 0.24 ms (Bun) and 0.33 ms (Deno) that way, against 0.4 and 1.1 ms through the
 * thread pool; a host with thousands of processes still lets other work run between batches.
 */
const NAMESPACE_BATCH = 256;

/** An IPv4 or IPv6 address as 16 bytes (IPv4 mapped into IPv6), or null when malformed. */
export function ipBytes(text: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((part) => part > 255)) return null;
    return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...parts]);
  }
  let address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const mapped = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(address);
  const tail: number[] = [];
  if (mapped !== null) {
    const v4bytes = ipBytes(mapped[2] ?? "");
    if (v4bytes === null) return null;
    tail.push(...v4bytes.subarray(12));
    address = (mapped[1] ?? "") + "0:0";
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const groups = (
    part: string | undefined,
  ): string[] => (part === undefined || part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const missing = 8 - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const all = [...head, ...Array.from({ length: missing }, () => "0"), ...rest];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const group = all[i] ?? "";
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    const value = Number.parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  }
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

/** Decodes an address of /proc/net/tcp (8 hex digits) or tcp6 (32), each 32-bit word in host order. */
function procAddressBytes(hex: string): Uint8Array | null {
  if (hex.length !== 8 && hex.length !== 32) return null;
  const words: number[] = [];
  for (let i = 0; i < hex.length; i += 8) {
    const word = hex.slice(i, i + 8);
    // The kernel prints each word as a number on a little-endian host: its bytes come reversed.
    for (let j = 6; j >= 0; j -= 2) words.push(Number.parseInt(word.slice(j, j + 2), 16));
  }
  if (words.length === 16) return Uint8Array.from(words);
  return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...words]);
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * The local socket whose own address is `peer` and whose remote port is `serverPort`: the
 * client's end of a connection to this server, if the client is on this host. Null when no such
 * socket is listed (the peer is on another host, or already gone).
 */
export async function findLocalSocket(peer: PeerAddress, serverPort: number): Promise<LocalSocket | null> {
  const wanted = ipBytes(peer.address);
  if (wanted === null) return null;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await readFile(table, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, remote, uid, inode] = [fields[1], fields[2], fields[7], fields[9]];
      if (local === undefined || remote === undefined || uid === undefined || inode === undefined) continue;
      const [localHex = "", localPort = ""] = local.split(":");
      const remotePort = remote.split(":")[1] ?? "";
      if (Number.parseInt(localPort, 16) !== peer.port || Number.parseInt(remotePort, 16) !== serverPort) {
        continue;
      }
      const bytes = procAddressBytes(localHex);
      if (bytes === null || !sameBytes(bytes, wanted) || inode === "0") continue;
      return { uid: Number(uid), inode: Number(inode) };
    }
  }
  return null;
}

/** Who holds a socket: a sandboxed process, only processes outside any sandbox, or nobody found. */
export type SocketHolders = "sandboxed" | "unsandboxed" | "none found";

/**
 * Who holds the socket `inode`. Sandboxed processes live in mount namespaces whose root is a tmpfs
 * named `SANDBOX_MOUNT_SOURCE` (with its launch after it), which code inside cannot unmount; only processes outside the
 * server's own mount namespace are examined for it. A process is read through a live thread: a
 * leader that has ended alone is a zombie whose `fd` and `ns` show nothing while its other threads
 * hold the process's descriptors (the sandbox's seccomp filter refuses a thread with a descriptor
 * table of its own, so one thread's table is the whole process's). "none found" is what a socket
 * parked in a unix socket's message queue (`SCM_RIGHTS`) looks like while it is checked: the
 * caller refuses it where it could have seen every holder.
 */
export async function socketHolders(inode: number): Promise<SocketHolders> {
  const own = namespaceOf("self");
  const pids = listProc().filter((name) => /^\d+$/.test(name));
  const marked = new Map<string, Promise<boolean>>();
  const target = `socket:[${inode}]`;
  const pace = new Pace();
  /** Processes no sandbox runs in, by a live thread of each. */
  const unsandboxed: LiveProcess[] = [];
  for (let start = 0; start < pids.length; start += NAMESPACE_BATCH) {
    if (start > 0) await new Promise((resolve) => setTimeout(resolve, 0));
    // Only processes outside the server's own mount namespace can be sandboxed: few, if any. Their
    // mount tables (one per namespace, all of a batch at once, none of a sandbox known by a live
    // witness) are read off the main thread: a long mount table takes time.
    const others = pids.slice(start, start + NAMESPACE_BATCH).flatMap((pid) => {
      const found = liveProcess(pid);
      if (found === null) return [];
      if (found.namespace === own) {
        unsandboxed.push(found);
        return [];
      }
      return [found];
    });
    for (const { namespace } of others) {
      if (marked.has(namespace)) continue;
      const members = others.filter((other) => other.namespace === namespace);
      if (sandboxWitnesses.known(namespace, members.map((member) => member.task))) {
        marked.set(namespace, Promise.resolve(true));
        continue;
      }
      marked.set(
        namespace,
        sandboxVerdict(members.map((member) => member.task)).then((verdict) => {
          sandboxWitnesses.record(namespace, verdict.sandbox, verdict.readFrom);
          return verdict.sandbox;
        }),
      );
    }
    for (const found of others) {
      if (await marked.get(found.namespace) !== true) unsandboxed.push(found);
      else if (await holdsDescriptor(found.task, target, pace)) return "sandboxed";
    }
  }
  // What was not seen in any namespace of this look has ended.
  sandboxWitnesses.keepOnly((namespace) => marked.has(namespace));
  // No sandbox holds it: one holder elsewhere is enough. The processes that held the last clients'
  // sockets come first: a client mostly connects again from where it did.
  const recent = unsandboxed.filter(({ pid }) => recentHolders.includes(pid));
  const order = [...recent, ...unsandboxed.filter(({ pid }) => !recentHolders.includes(pid))];
  for (const holder of order) {
    if (!await holdsDescriptor(holder.task, target, pace)) continue;
    recentHolders = [holder.pid, ...recentHolders.filter((pid) => pid !== holder.pid)].slice(
      0,
      RECENT_HOLDERS,
    );
    return "unsandboxed";
  }
  return "none found";
}

/**
 * Counts the procfs reads of one look for a socket's holders, and gives the event loop a turn every
 * `READS_PER_TURN` of them: a sandbox can hold tens of thousands of descriptors in each of its
 * processes (a second red team's 60 processes of 19,900 took every other session's requests 4–5 s
 * at each connection), and the look reads every one of a sandboxed process's.
 */
class Pace {
  #reads = 0;

  /** Resolves at once, or after a turn of the event loop when this read completes a turn's share. */
  read(): Promise<void> | null {
    return ++this.#reads % READS_PER_TURN === 0 ? new Promise((resolve) => setTimeout(resolve, 0)) : null;
  }
}

/** Procfs reads between two turns of the event loop (`Pace`): about a millisecond of them. */
const READS_PER_TURN = 512;

/** A process by one of its live threads. */
interface LiveProcess {
  readonly pid: string;
  /** `<pid>`, or `<pid>/task/<tid>` when the leader has ended alone. */
  readonly task: string;
  readonly namespace: string;
}

/** The host's sandbox namespaces by a live witness each, kept across looks. */
const sandboxWitnesses = new SandboxWitnesses();

/** How many processes that held a client's socket are looked at first next time. */
const RECENT_HOLDERS = 8;
/** The processes that held the last clients' sockets, the latest first. */
let recentHolders: string[] = [];

/**
 * Process `pid` by its leader, or by another thread when the leader has ended; null when it is gone
 * or cannot be read (another user's, or one outside the server's reach, such as a container's init).
 */
function liveProcess(pid: string): LiveProcess | null {
  let namespace: string;
  try {
    namespace = readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch (error) {
    // A leader that has ended alone has no namespace left (ENOENT); its threads still do.
    return (error as { code?: unknown }).code === "ENOENT" ? liveThread(pid) : null;
  }
  return { pid, task: pid, namespace };
}

/** Process `pid` by a thread other than its ended leader, or null when none can be read. */
function liveThread(pid: string): LiveProcess | null {
  for (const tid of listTasks(pid)) {
    const task = `${pid}/task/${tid}`;
    const found = namespaceOf(task);
    if (found !== null) return { pid, task, namespace: found };
  }
  return null;
}

/** The mount namespace of process `pid` (or `self`), or null when it cannot be read (it is gone). */
function namespaceOf(pid: string): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return null;
  }
}

/** The thread ids of process `pid`, or none when it is gone. */
function listTasks(pid: string): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
}

/** The names in /proc, or none where /proc cannot be read. */
function listProc(): string[] {
  try {
    return readdirSync("/proc");
  } catch {
    return [];
  }
}

/**
 * Whether a mount namespace is a sandbox's, by the mount table of the first of its `tasks` that can
 * still be read. When none can (each ended between the look at its namespace and the read of its
 * table, which a sandbox can arrange), the namespace counts as a sandbox's: a verdict of "not a
 * sandbox" would let every process of it pass.
 */
export async function isSandboxNamespace(
  tasks: readonly string[],
  readTable: (task: string) => Promise<string | null> = readMountTable,
): Promise<boolean> {
  return (await sandboxVerdict(tasks, readTable)).sandbox;
}

/** `isSandboxNamespace`, with the task whose mount table decided (null: none could be read). */
export async function sandboxVerdict(
  tasks: readonly string[],
  readTable: (task: string) => Promise<string | null> = readMountTable,
): Promise<{ sandbox: boolean; readFrom: string | null }> {
  for (const task of tasks) {
    const text = await readTable(task);
    if (text !== null) {
      const sandbox = text.split("\n").some((line) =>
        isSandboxMountSource(line.split(" - ")[1]?.split(" ")[1])
      );
      return { sandbox, readFrom: task };
    }
  }
  return { sandbox: true, readFrom: null };
}

/** The mount table of `task` (`<pid>` or `<pid>/task/<tid>`), or null when it cannot be read. */
async function readMountTable(task: string): Promise<string | null> {
  return await readFile(`/proc/${task}/mountinfo`, "utf8").catch(() => null);
}

/** Whether `task` (`liveProcess`) has a descriptor open on `target` (`socket:[inode]`). */
async function holdsDescriptor(task: string, target: string, pace: Pace): Promise<boolean> {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${task}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    const turn = pace.read();
    if (turn !== null) await turn;
    try {
      if (readlinkSync(`/proc/${task}/fd/${fd}`) === target) return true;
    } catch {
      // Closed meanwhile.
    }
  }
  return false;
}
