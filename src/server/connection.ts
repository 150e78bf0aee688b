import {
  ErrorCode,
  fromWireError,
  invalidRequest,
  processOutputHeaderJson,
  processOutputJson,
  RpcError,
} from "../protocol/mod.ts";
import type { LogChunk } from "../process/mod.ts";
import type { InitializeParams, InitializeResult, MethodFamily, MethodSpec } from "../protocol/mod.ts";
import { RpcPeer } from "../rpc/mod.ts";
import type { InboundCall, Route, RpcTransport } from "../rpc/mod.ts";
import type { ConnectionScope, MethodContext } from "./handlers.ts";
import type { OutboundMember } from "./outbound_budget.ts";
import { ReplyRoom } from "./reply_room.ts";
import { StalledRelease } from "./stalled_release.ts";
import { BACKLOG_HIGH_BYTES, BACKLOG_LOW_BYTES } from "./session.ts";
import type { Session, SessionPeer } from "./session.ts";
import type { FsPort, ServerContext } from "./server_context.ts";

/** The byte pipe under a connection: a WebSocket or the stdio streams. */
export interface Transport {
  send(text: string): void;
  /** Sends one binary message; only a WebSocket has it (§11.12). */
  sendBinary?(frame: Uint8Array): void;
  /** Unsent outbound bytes. */
  backlog(): number;
  close(code: number, reason: string): void;
  /** Drops the transport at once, unsent data included (no closing handshake to wait for). */
  terminate(code: number, reason: string): void;
  /** Used in parse-error messages: `websocket <ip:port>` or `stdio`. */
  readonly description: string;
}

/** The peer's side of `transport`, counting what it sends (replies, notifications, frames). */
function countedTransport(transport: Transport, traffic: ServerContext["traffic"]): RpcTransport {
  const counted: RpcTransport = {
    send: (text) => {
      traffic.add(text.length);
      transport.send(text);
    },
  };
  const sendBinary = transport.sendBinary?.bind(transport);
  if (sendBinary !== undefined) {
    counted.sendBinary = (frame) => {
      traffic.add(frame.byteLength);
      sendBinary(frame);
    };
  }
  return counted;
}

/** What a client can do instead of a reply that is over the reply limit, by method. */
const SMALLER_REPLIES: Readonly<Record<string, string>> = {
  "fs/readFile": "read the file in blocks with fs/open",
  "process/read": "read it in pages with maxBytes",
};

/**
 * -32001 in place of a reply over `--max-reply-bytes`: a client's WebSocket holds messages to a
 * limit of its own, and one over it ends the connection (a Bun client closes at 128 MiB, so a file
 * of 96 MiB, 128 MiB of base64, cost the session its connection, and every retry did the same).
 */
function oversizeReply(method: string, bytes: number, limit: number): RpcError {
  const instead = SMALLER_REPLIES[method];
  return new RpcError(
    ErrorCode.LimitReached,
    "LimitReached",
    `${method} reply of ${bytes} bytes is over the reply limit of ${limit} bytes${
      instead === undefined ? "" : `; ${instead}`
    }`,
  );
}

type ConnectionState = "new" | "initializing" | "ready";

/** What a held message costs beside its text (its link in the chain), counted against the bytes bound. */
const HELD_MESSAGE_BYTES = 256;

/** The longest a reply that has not left holds the server's large-reply slot after it was sent. */
const SLOT_HELD_UNSENT_MS = 1_000;
/** The longest the release after a large reply waits for the reply to leave (`releaseWhenSent`). */
const RELEASE_HELD_UNSENT_MS = 1_000;

/** Close status for protocol violations (§2.4). */
const POLICY_VIOLATION = 1008;
const EVICTED_MESSAGE = "session has been resumed by another connection";

/**
 * One client connection: the handshake state machine and the session attachment (PROTOCOL.md
 * §2.4–2.5, §3.1) around the JSON-RPC engine, which serves the requests. Until `ready`, messages
 * run strictly one after another.
 */
export class Connection implements SessionPeer, OutboundMember {
  readonly #transport: Transport;
  readonly #context: ServerContext;
  readonly #peer: RpcPeer<MethodContext, MethodSpec>;
  #state: ConnectionState = "new";
  #session: Session | null = null;
  #sequential: Promise<void> = Promise.resolve();
  #queued = 0;
  /** UTF-16 units of the queued messages. */
  #queuedBytes = 0;
  #closed = false;
  #evicted = false;
  #fs: FsPort | null = null;
  /** Resolved when the outbound backlog falls below the low mark, or the transport goes away. */
  #drain: PromiseWithResolvers<void> | null = null;
  readonly #room: ReplyRoom;
  /** Whether a large reply went out: its memory is worth giving back when the connection ends. */
  #sentLarge = false;
  /** Whether the client asked for binary frames and the transport has them (§11.12). */
  #binaryFrames = false;
  /** Gives back the server's large-reply slot that a reply still unsent holds (`#keepSlotWhileUnsent`). */
  #slotHeld: (() => void) | null = null;
  /** Runs the release that waits for this connection's unsent data to leave (`releaseWhenSent`). */
  #releaseHeld: (() => void) | null = null;
  /** The release for a client that stopped reading, once the output has stayed paused (`congested`). */
  readonly #stalled: StalledRelease;

  constructor(transport: Transport, context: ServerContext) {
    this.#transport = transport;
    this.#context = context;
    this.#room = new ReplyRoom(() => transport.backlog());
    this.#stalled = new StalledRelease(() => {
      if (!this.#closed) context.releaseMemory();
    });
    context.outbound.add(this);
    const parsePrefix = transport.description === "stdio"
      ? "failed to parse JSON-RPC message from exec-server stdio"
      : `failed to parse websocket JSON-RPC message from exec-server ${transport.description}`;
    const scope = this.#scope();
    this.#peer = new RpcPeer<MethodContext, MethodSpec>({
      transport: countedTransport(transport, context.traffic),
      serve: {
        routes: context.routes,
        context: (call) => ({ call, connection: scope }),
        admit: (route) => this.#admit(route),
      },
      onNotification: (method) => this.#notification(method),
      onStrayResponse: () => transport.close(POLICY_VIOLATION, "clients must not send responses"),
      parseErrorMessage: (detail) => `${parsePrefix}: ${detail}`,
      jsonrpc: "mirror",
      log: context.log.error,
      onReply: context.countReply,
      // The server sends no requests, so no reply is ever taken for one of its own.
      remoteError: fromWireError,
      maxReplyBytes: context.options.maxReplyBytes,
      oversizeReply: (method, bytes) => oversizeReply(method, bytes, context.options.maxReplyBytes),
    });
  }

  /** Whether the handshake is done (`initialized` after a successful `initialize`). */
  get ready(): boolean {
    return this.#state === "ready";
  }

  /** Whether the connection is over for the server (its transport closed, or closed by it). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Handles one incoming message (a frame's text or a line). */
  receive(text: string): void {
    if (this.#closed) return;
    this.#context.traffic.add(text.length);
    if (this.#state === "ready" && this.#queued === 0 && !this.#congested()) {
      void this.#peer.receive(text);
      return;
    }
    this.#queued++;
    this.#queuedBytes += text.length + HELD_MESSAGE_BYTES;
    // What a client that does not read may pile up here: as many requests as it may have in
    // flight, as many bytes as one message may have. Messages held only for their order (before
    // `ready`) are answered as fast as they come, but Deno hands a burst over in one task, so
    // only their bytes count: a pipelined burst of 3,000 before `initialize` was cut off there.
    const { maxInflightRequests, maxMessageBytes } = this.#context.options;
    if ((this.#queued > maxInflightRequests && this.#congested()) || this.#queuedBytes > maxMessageBytes) {
      this.cutOff(`more than ${maxInflightRequests} requests or ${maxMessageBytes} bytes held unread`);
      return;
    }
    this.#sequential = this.#sequential.then(async () => {
      // A client that stops reading while it keeps sending would otherwise have every reply
      // (a 1 MiB process/read, a file) buffered without bound: hold its requests, in order,
      // until it drains what it was sent (§5.12 applies the same marks to output).
      if (this.#congested()) await this.#drained();
      this.#queued--;
      this.#queuedBytes -= text.length + HELD_MESSAGE_BYTES;
      if (this.#closed) return;
      const pending = this.#peer.receive(text);
      if (this.#state !== "ready") await pending;
    });
  }

  /**
   * Answers a message that could not be decoded at all (bad UTF-8, oversize stdio line), in its turn
   * among the messages held before it (§2.5).
   */
  receiveUndecodable(detail: string): void {
    if (this.#closed) return;
    if (this.#state === "ready" && this.#queued === 0) {
      this.#peer.replyParseError(detail);
      return;
    }
    this.#sequential = this.#sequential.then(() => {
      if (!this.#closed) this.#peer.replyParseError(detail);
    });
  }

  /** The transport is gone: release long polls, close handles, detach the session (§3.6). */
  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#openDrain();
    this.#giveSlotBack();
    this.#runHeldRelease();
    this.#stalled.cancel();
    this.#room.close(new Error("connection closed"));
    this.#context.outbound.remove(this);
    // What a client that stopped reading was sent (and the replies made for it) is garbage now;
    // without a collection Bun keeps it resident.
    if (this.#sentLarge || this.#transport.backlog() > BACKLOG_HIGH_BYTES) {
      this.#context.releaseMemory();
    }
    this.#peer.close(new Error("connection closed"));
    void this.#fs?.close().catch((error: unknown) =>
      this.#context.log.error("closing file handles failed", error)
    );
    if (this.#session !== null) {
      this.#context.registry.detach(this.#session, this);
      this.#context.log.info("connection closed", { sessionId: this.#session.id });
    }
  }

  /** The transport's outbound buffer drained. */
  drained(): void {
    if (this.#transport.backlog() < BACKLOG_LOW_BYTES) {
      this.#openDrain();
      this.#giveSlotBack();
      this.#runHeldRelease();
      this.#stalled.resumed();
    }
    this.#room.drained();
    this.#session?.drained(this);
  }

  /**
   * OutboundMember: requests held back for this connection's backlog, waiting for room for a
   * large reply or not yet read while the connection is congested.
   */
  get requestsHeld(): number {
    return this.#room.waiting + this.#queued;
  }

  /**
   * OutboundMember: dropped for not reading (§5.12), over the server's outbound cap or with too
   * much held unread. The session stays, detached, for a resume.
   */
  cutOff(reason: string): void {
    if (this.#closed) return;
    this.#context.log.info("connection cut off", { reason, sessionId: this.#session?.id ?? null });
    this.#context.countCutOff();
    this.#transport.terminate(POLICY_VIOLATION, "the client is not reading its replies");
    this.closed();
  }

  /** SessionPeer: the output gate closed on this connection's backlog. */
  congested(): void {
    this.#context.outbound.check();
    this.#stalled.paused();
  }

  /** Waits for the connection's turn (`turn`), then for a slot of the server's (`slot`). */
  async room(call: InboundCall): Promise<void> {
    await this.turn(call);
    // Then a slot among the whole server's large replies: each connection's one at a time is no
    // bound on what many connections make at once.
    await this.slot(call);
  }

  /**
   * Waits for room for one large reply on this connection (`ReplyRoom`), held until the reply of
   * `call` is sent; then checks the server's outbound cap, which that reply may have crossed.
   */
  async turn(call: InboundCall): Promise<void> {
    const release = await this.#room.enter(call.signal);
    call.afterReply(() => {
      this.#sentLarge = true;
      release();
      this.#context.outbound.check();
      // What a reply leaves unsent is known only after the runtime's write at the end of this
      // turn (Bun corks sends) and the kernel's share of it: check again then.
      setTimeout(() => this.#context.outbound.check(), 0);
    });
  }

  /** Waits for a slot among the server's large replies (`ReplyGate`), held until the reply of `call` has left. */
  async slot(call: InboundCall): Promise<void> {
    const releaseSlot = await this.#context.replyGate.enter(call.signal);
    call.afterReply(() => this.#keepSlotWhileUnsent(releaseSlot));
  }

  /**
   * Gives the server's large-reply slot back once the reply has left (the backlog is below the low
   * mark), or after `SLOT_HELD_UNSENT_MS` at most: a reply sent is not yet memory given back (Deno
   * holds its copy until the client has read it), but a client that does not read must not keep
   * the others waiting for long.
   */
  #keepSlotWhileUnsent(releaseSlot: () => void): void {
    // What the reply leaves unsent is known only after the runtime's write at the end of this turn.
    setTimeout(() => {
      if (this.#closed || this.#transport.backlog() < BACKLOG_LOW_BYTES) {
        releaseSlot();
        return;
      }
      const timer = setTimeout(() => this.#giveSlotBack(), SLOT_HELD_UNSENT_MS);
      this.#slotHeld = () => {
        clearTimeout(timer);
        releaseSlot();
      };
    }, 0);
  }

  /**
   * Asks for a memory release after `call`'s reply; where the runtime's release is dear
   * (`releaseAfterSending`), once that reply has left (the backlog is below the low mark), or after
   * `RELEASE_HELD_UNSENT_MS` at most. The collection runs on the thread that also writes the
   * socket: run right after the send of a 64 MiB file, it stopped the write of the rest for 50–80
   * ms on Deno (two collections), and the reply reached its client that much later.
   */
  releaseWhenSent(call: InboundCall): void {
    if (!this.#context.releaseAfterSending) {
      call.afterReply(() => this.#context.releaseMemory());
      return;
    }
    call.afterReply(() => {
      // What the reply leaves unsent is known only after the runtime's write at the end of this turn.
      setTimeout(() => {
        if (this.#closed || this.#transport.backlog() < BACKLOG_LOW_BYTES) {
          this.#context.releaseMemory();
          return;
        }
        if (this.#releaseHeld !== null) return;
        const timer = setTimeout(() => this.#runHeldRelease(), RELEASE_HELD_UNSENT_MS);
        this.#releaseHeld = () => {
          clearTimeout(timer);
          this.#context.releaseMemory();
        };
      }, 0);
    });
  }

  #runHeldRelease(): void {
    const release = this.#releaseHeld;
    this.#releaseHeld = null;
    release?.();
  }

  #giveSlotBack(): void {
    const release = this.#slotHeld;
    this.#slotHeld = null;
    release?.();
  }

  /** SessionPeer: sends a notification with pre-serialized params. */
  notify(method: string, paramsJson: string): void {
    this.#peer.notifyJson(method, paramsJson);
  }

  /** SessionPeer: sends one output chunk, as a binary frame where the client asked for them. */
  output(processId: string, chunk: LogChunk, bytes: Uint8Array): void {
    if (!this.#binaryFrames) {
      this.notify("process/output", processOutputJson(processId, chunk));
      return;
    }
    this.#peer.notifyBinary("process/output", processOutputHeaderJson(processId, chunk), bytes);
  }

  /** SessionPeer: unsent outbound bytes. */
  backlog(): number {
    return this.#transport.backlog();
  }

  /** SessionPeer: another connection resumed this session (§3.7). */
  evict(): void {
    this.#evicted = true;
    this.#peer.abortInbound(invalidRequest("SessionResumed", EVICTED_MESSAGE));
    if (!this.#closed) this.#transport.close(POLICY_VIOLATION, EVICTED_MESSAGE);
  }

  #congested(): boolean {
    return this.#transport.backlog() > BACKLOG_HIGH_BYTES;
  }

  #drained(): Promise<void> {
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  #openDrain(): void {
    const drain = this.#drain;
    this.#drain = null;
    drain?.resolve();
  }

  #notification(method: string): void {
    if (method !== "initialized") {
      this.#transport.close(POLICY_VIOLATION, `unexpected notification ${method}`);
    } else if (this.#state === "initializing") {
      this.#state = "ready";
    } else if (this.#state === "new") {
      this.#transport.close(POLICY_VIOLATION, "initialized before initialize");
    }
  }

  /** The checks of §2.4 between the method's existence and its params: eviction, handshake, limit. */
  #admit(route: Route<MethodContext, MethodSpec>): void {
    if (this.#evicted) throw invalidRequest("SessionResumed", EVICTED_MESSAGE);
    if (route.method === "initialize") {
      if (this.#state !== "new") {
        throw invalidRequest("AlreadyInitialized", "initialize may only be sent once per connection");
      }
    } else if (this.#state !== "ready") {
      throw invalidRequest("NotInitialized", handshakeMessage(this.#state, route.spec.family));
    }
    const limit = this.#context.options.maxInflightRequests;
    if (this.#peer.inflight > limit) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `too many requests in flight: limit is ${limit}`,
      );
    }
    // A reply echoes its id, so a long poll keeps it (twice: as itself and as its table key) for
    // up to an hour; the ids in flight together may take what one message may.
    const idChars = this.#context.options.maxMessageBytes;
    if (this.#peer.inflightIdChars > idChars) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `request ids in flight take more than ${idChars} characters`,
      );
    }
  }

  #scope(): ConnectionScope {
    return {
      server: this.#context,
      session: () => this.#requireSession(),
      fs: () => {
        // The fs side opens with the session, in `#initialize`.
        if (this.#fs === null) throw invalidRequest("NotInitialized", handshakeMessage("new", "filesystem"));
        return this.#fs;
      },
      initialize: (params, call) => this.#initialize(params, call),
      room: (call) => this.room(call),
      turn: (call) => this.turn(call),
      slot: (call) => this.slot(call),
      releaseWhenSent: (call) => this.releaseWhenSent(call),
      binaryFrames: () => this.#binaryFrames,
    };
  }

  #requireSession(): Session {
    if (this.#session === null) throw invalidRequest("NotInitialized", handshakeMessage("new", "session"));
    return this.#session;
  }

  #initialize(params: InitializeParams, call: InboundCall): InitializeResult {
    const registry = this.#context.registry;
    const resumed = params.resumeSessionId != null;
    const session = params.resumeSessionId != null
      ? registry.resume(params.resumeSessionId, this)
      : registry.create(this);
    this.#session = session;
    this.#state = "initializing";
    this.#context.log.info(resumed ? "session resumed" : "session created", {
      sessionId: session.id,
      client: params.clientName.slice(0, 128),
      transport: this.#transport.description,
    });
    this.#fs = this.#context.openFsConnection(session.id);
    const environmentInfo = this.#context.environmentInfo;
    if (params.binaryFrames !== true) return { sessionId: session.id, environmentInfo };
    const binaryFrames = this.#transport.sendBinary !== undefined;
    // Output of a resumed session that goes out before the result stays text: a client knows
    // that it gets binary frames only from the result on.
    call.afterReply(() => {
      this.#binaryFrames = binaryFrames;
    });
    return { sessionId: session.id, environmentInfo, binaryFrames };
  }
}

function handshakeMessage(state: ConnectionState, family: MethodFamily): string {
  return state === "new"
    ? `client must call initialize before using ${family} methods`
    : `client must send initialized before using ${family} methods`;
}
