import { FS_HANDLERS } from "../fs/mod.ts";
import type { FsMethodContext, FsParams } from "../fs/mod.ts";
import type { InitializeParams, InitializeResult, METHODS } from "../protocol/mod.ts";
import { PROCESS_HANDLERS } from "../process/mod.ts";
import type { ProcessMethodContext } from "../process/mod.ts";
import { encodeBase64 } from "../protocol/mod.ts";
import type { FsReadFileResult } from "../protocol/mod.ts";
import { withContext, withRawBytes } from "../rpc/mod.ts";
import type { Handlers, InboundCall } from "../rpc/mod.ts";
import type { Session } from "./session.ts";
import type { FsPort, ServerContext } from "./server_context.ts";
import { readFileInTurn } from "./file_read_turn.ts";
import type { ReplyWaits } from "./file_read_turn.ts";
import { listInTurn } from "./listing_turn.ts";

/** What a server handler sees of its connection; one per connection. */
export interface ConnectionScope {
  readonly server: ServerContext;
  /** The attached session; the handshake check guarantees one for every method but `initialize`. */
  session(): Session;
  /** The connection's fs side (file handles and sandbox routing). */
  fs(): FsPort;
  /** Creates or resumes the session (§3.2, §3.7); binary frames, if asked for, start after `call`'s reply. */
  initialize(params: InitializeParams, call: InboundCall): InitializeResult;
  /** Waits for room for one large reply on the connection, held until `call`'s reply is sent: `turn` then `slot`. */
  room(call: InboundCall): Promise<void>;
  /** Waits for the connection's turn for one large reply, held until `call`'s reply is sent. */
  turn(call: InboundCall): Promise<void>;
  /** Waits for a slot among the server's large replies, held until `call`'s reply has left. */
  slot(call: InboundCall): Promise<void>;
  /** Asks for a memory release once `call`'s reply has left the connection. */
  releaseWhenSent(call: InboundCall): void;
  /** Whether the client asked for binary frames and the transport has them (§11.12). */
  binaryFrames(): boolean;
}

/** What a server handler sees: its request (cancellation, what runs after the reply) and its connection. */
export interface MethodContext {
  readonly call: InboundCall;
  readonly connection: ConnectionScope;
}

function processContext(context: MethodContext): ProcessMethodContext {
  return {
    processes: context.connection.session().processes,
    get signal() {
      return context.call.signal;
    },
    room: () => context.connection.room(context.call),
    turn: () => context.connection.turn(context.call),
    slot: () => context.connection.slot(context.call),
  };
}

function fsContext(context: MethodContext): FsMethodContext {
  return {
    fs: context.connection.fs(),
    signal: context.call.signal,
    room: () => context.connection.room(context.call),
    turn: () => context.connection.turn(context.call),
  };
}

const PROCESS = withContext(PROCESS_HANDLERS, processContext);
const FS = withContext(FS_HANDLERS, fsContext);

/** A `fs/readFile` reply at least this long (base64 characters) asks the runtime to release memory. */
const RELEASE_AFTER_CHARS = 16 * 1024 * 1024;
/** The same for a reply whose bytes go raw. */
const RELEASE_AFTER_BYTES = RELEASE_AFTER_CHARS / 4 * 3;

/** The waits of a request for a large reply: its connection's turn, then a server's slot. */
function replyWaits(context: MethodContext): ReplyWaits {
  return {
    turn: () => context.connection.turn(context.call),
    slot: () => context.connection.slot(context.call),
  };
}

/**
 * `fs/readFile` for a connection that takes binary frames: the bytes go raw after a header (§11.12),
 * so no base64 is made. The result's text form, encoded only if something reads it, keeps the
 * method's result type.
 */
async function readFileRaw(
  params: FsParams["fs/readFile"],
  context: MethodContext,
): Promise<FsReadFileResult> {
  const payload = await readFileInTurn(
    params,
    replyWaits(context),
    (read, large) => context.connection.fs().readFilePayload(read, context.call.signal, large),
  );
  if (payload.bytes.byteLength >= RELEASE_AFTER_BYTES) {
    context.connection.releaseWhenSent(context.call);
  }
  const textForm: FsReadFileResult = {
    get dataBase64() {
      return encodeBase64(payload.bytes);
    },
  };
  return withRawBytes(textForm, payload);
}

/**
 * The server's handler of every method of the table. Each runs synchronously up to its service's
 * first await, so `process/start` registers its id at dispatch (§2.5).
 */
export const SERVER_HANDLERS: Handlers<typeof METHODS, MethodContext> = {
  "initialize": (params, context) => context.connection.initialize(params, context.call),
  "environment/info": (_params, context) => context.connection.server.environmentInfo,
  ...PROCESS,
  "process/start": (params, context) => {
    // The start result must precede the new process's notifications (§5.5), even when the child's
    // output is read before the reply is on its way.
    context.call.afterReply(context.connection.session().holdNotifications(params.processId));
    return PROCESS["process/start"](params, context);
  },
  ...FS,
  "fs/readFile": async (params, context) => {
    if (context.connection.binaryFrames()) return await readFileRaw(params, context);
    const result = await readFileInTurn(
      params,
      replyWaits(context),
      (read, large) => context.connection.fs().readFile(read, context.call.signal, large),
    );
    // A whole file is held several times over (its bytes, their base64, the reply's text); the
    // runtimes keep the freed pages until told otherwise (Deno stayed at 800 MB after 64 MiB).
    if (result.dataBase64.length >= RELEASE_AFTER_CHARS) {
      context.connection.releaseWhenSent(context.call);
    }
    return result;
  },
  "fs/readDirectory": (params, context) =>
    listInTurn(
      replyWaits(context),
      () => context.connection.fs().readDirectorySmall(params, context.call.signal),
      () => context.connection.fs().run("fs/readDirectory", params, context.call.signal),
    ),
  "fs/walk": (params, context) =>
    listInTurn(
      replyWaits(context),
      () => context.connection.fs().walkSmall(params, context.call.signal),
      () => context.connection.fs().run("fs/walk", params, context.call.signal),
    ),
};
