import { ErrorCode, invalidRequest, RpcError } from "../protocol/mod.ts";
import type { ProcessTableOptions, SandboxPlanner } from "../process/mod.ts";
import type { Runtime } from "../runtime/mod.ts";
import type { Containment } from "../containment/mod.ts";
import { Session } from "./session.ts";
import type { SessionPeer } from "./session.ts";

/** Options of the registry (PROTOCOL.md §3.10, §2.8). */
export interface SessionRegistryOptions {
  readonly sessionTtlMs: number;
  readonly maxSessions: number;
  readonly processes: ProcessTableOptions;
}

/**
 * Every session of the server. Create, resume, detach and expiry all run on the one event loop,
 * so a resume racing the detach timer either wins completely or finds the session gone (§3.7).
 */
export class SessionRegistry {
  readonly #runtime: Runtime;
  readonly #options: SessionRegistryOptions;
  readonly #planner: SandboxPlanner;
  readonly #serverEnv: Readonly<Record<string, string>>;
  readonly #containment: Containment | null;
  readonly #sessions = new Map<string, Session>();
  readonly #onExpire: (session: Session) => void;

  constructor(
    runtime: Runtime,
    deps: {
      options: SessionRegistryOptions;
      planner: SandboxPlanner;
      serverEnv: Readonly<Record<string, string>>;
      /** Holds each session's processes; without it, process groups and the /proc walk do. */
      containment?: Containment;
      onExpire: (session: Session) => void;
    },
  ) {
    this.#containment = deps.containment ?? null;
    this.#runtime = runtime;
    this.#options = deps.options;
    this.#planner = deps.planner;
    this.#serverEnv = deps.serverEnv;
    this.#onExpire = deps.onExpire;
  }

  /** Creates a session attached to `peer`; -32001 past the session limit. */
  create(peer: SessionPeer): Session {
    if (this.#sessions.size >= this.#options.maxSessions) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `too many sessions: limit is ${this.#options.maxSessions}`,
      );
    }
    const session = new Session(crypto.randomUUID(), this.#runtime, {
      options: this.#options.processes,
      planner: this.#planner,
      serverEnv: this.#serverEnv,
      ...(this.#containment === null ? {} : { containment: this.#containment.openSession() }),
    });
    this.#sessions.set(session.id, session);
    session.attach(peer);
    return session;
  }

  /** Resumes a detached session on `peer` (§3.7). */
  resume(id: string, peer: SessionPeer): Session {
    const session = this.#sessions.get(id);
    if (session === undefined) throw invalidRequest("UnknownSession", `unknown session id ${id}`);
    if (session.attached) {
      throw new RpcError(
        ErrorCode.SessionAttached,
        "SessionAttached",
        `session ${id} is already attached to another connection`,
      );
    }
    session.attach(peer);
    return session;
  }

  /** Detaches the session of a lost connection and starts its expiry timer (§3.6). */
  detach(session: Session, peer: SessionPeer): void {
    session.detach(peer, this.#options.sessionTtlMs, () => this.#expire(session));
  }

  /** Every live session. */
  all(): Session[] {
    return [...this.#sessions.values()];
  }

  /** How many sessions exist. */
  get size(): number {
    return this.#sessions.size;
  }

  #expire(session: Session): void {
    if (this.#sessions.get(session.id) !== session || session.attached) return;
    this.#sessions.delete(session.id);
    session.processes.terminateAll();
    // The output its closed processes kept for a resume is garbage now: after 64 echo processes of
    // 256 KiB, a Bun server stayed 100 MiB above its idle size until something else collected.
    this.#runtime.releaseMemory();
    this.#onExpire(session);
  }
}
