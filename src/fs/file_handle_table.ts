import { ErrorCode, RpcError } from "../protocol/mod.ts";

/** Open file handles per connection (PROTOCOL.md §7.13). */
export const MAX_FILE_HANDLES = 128;
/**
 * Open file handles across the server's connections. Each is a descriptor (in the server, or in a
 * sandbox's fs worker), and 128 per connection times the connections a client may open ran the
 * server out of descriptors: at a limit of 20,000, 157 connections' handles left none for another
 * client's processes, files or connections.
 */
export const MAX_SERVER_FILE_HANDLES = 2048;
/** Longest handle id in UTF-8 bytes. */
export const MAX_HANDLE_ID_BYTES = 32;
/** Largest `fs/readBlock` length and `fs/writeBlock` chunk. */
export const MAX_BLOCK_BYTES = 1_048_576;

const UTF8 = new TextEncoder();

/** -32004 for a block call on a handle id that is not open. */
export function unknownHandle(id: string): RpcError {
  return new RpcError(ErrorCode.NotFound, "UnknownHandle", `unknown file handle \`${id}\``);
}

/** The count of handles shared by every table of a server. */
export class HandleCount {
  readonly limit: number;
  count = 0;

  constructor(limit = MAX_SERVER_FILE_HANDLES) {
    this.limit = limit;
  }
}

type Slot<T> = { readonly state: "opening"; readonly ready: Promise<T | null> } | OpenSlot<T>;

/** An open handle with the calls using it now: a close waits for them before it returns the value. */
interface OpenSlot<T> {
  readonly state: "open";
  readonly value: T;
  users: number;
  /** Resolved when the last user is done, once a close waits for it. */
  drained: PromiseWithResolvers<void> | null;
}

/**
 * Handle ids of one connection mapped to what serves them, with the id, uniqueness and count
 * rules of §7.13. An id is reserved synchronously when its open starts, so a concurrent open of the
 * same id is refused and a pipelined block call waits for the open to finish.
 */
export class FileHandleTable<T> {
  readonly #slots = new Map<string, Slot<T>>();
  /** The server's count, which this table's handles are part of; null: this table alone. */
  readonly #shared: HandleCount | null;

  constructor(shared: HandleCount | null = null) {
    this.#shared = shared;
  }

  /** How many handles are open or opening. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * Reserves `id`, runs `opener` and keeps its value; throws the §7.13 rule errors before
   * `opener` runs, and frees the slot when `opener` fails.
   */
  async open(id: string, opener: () => Promise<T>): Promise<T> {
    if (UTF8.encode(id).length > MAX_HANDLE_ID_BYTES) {
      throw new RpcError(
        ErrorCode.InvalidRequest,
        "InvalidInput",
        `file handle ID must not exceed ${MAX_HANDLE_ID_BYTES} bytes`,
      );
    }
    if (this.#slots.has(id)) {
      throw new RpcError(ErrorCode.InvalidRequest, "InvalidInput", `file handle \`${id}\` already exists`);
    }
    if (this.#slots.size >= MAX_FILE_HANDLES) {
      throw new RpcError(
        ErrorCode.InvalidRequest,
        "InvalidInput",
        `at most ${MAX_FILE_HANDLES} file handles may be open per connection`,
      );
    }
    const shared = this.#shared;
    if (shared !== null && shared.count >= shared.limit) {
      throw new RpcError(
        ErrorCode.LimitReached,
        "LimitReached",
        `too many open file handles: limit is ${shared.limit} in the server`,
      );
    }
    const ready = Promise.withResolvers<T | null>();
    const slot: Slot<T> = { state: "opening", ready: ready.promise };
    this.#slots.set(id, slot);
    if (shared !== null) shared.count++;
    try {
      const value = await opener();
      if (this.#slots.get(id) === slot) {
        this.#slots.set(id, { state: "open", value, users: 0, drained: null });
      }
      ready.resolve(value);
      return value;
    } catch (error) {
      if (this.#slots.get(id) === slot) this.#delete(id);
      ready.resolve(null);
      throw error;
    }
  }

  /** Forgets the slot of `id`, which is there, and gives its place in the server's count back. */
  #delete(id: string): void {
    this.#slots.delete(id);
    if (this.#shared !== null) this.#shared.count--;
  }

  /** The value of an open handle (waiting for an open in progress), or -32004 `unknown file handle`. */
  async get(id: string): Promise<T> {
    return (await this.#open(id)).value;
  }

  /**
   * Runs `work` with the value of an open handle (as `get`), and keeps a close of it from returning
   * the value (whose closing would pull the descriptor out from under `work`) until `work` is done.
   */
  use<R>(id: string, work: (value: T) => Promise<R>): Promise<R> {
    // Counted at once when the handle is open: a close called right after must see this call.
    const slot = this.#slots.get(id);
    if (slot?.state === "open") return this.#run(slot, work);
    return this.#open(id).then((opened) => this.#run(opened, work));
  }

  /** Runs `work` as a user of `slot`: counted from this call on, until `work` settles. */
  #run<R>(slot: OpenSlot<T>, work: (value: T) => Promise<R>): Promise<R> {
    slot.users++;
    const done = () => {
      slot.users--;
      if (slot.users === 0) slot.drained?.resolve();
    };
    return Promise.resolve().then(() => work(slot.value)).finally(done);
  }

  async #open(id: string): Promise<OpenSlot<T>> {
    const slot = this.#slots.get(id);
    if (slot === undefined) throw unknownHandle(id);
    if (slot.state === "open") return slot;
    await slot.ready;
    const opened = this.#slots.get(id);
    if (opened === undefined || opened.state !== "open") throw unknownHandle(id);
    return opened;
  }

  /** Whether `id` is open or opening. */
  has(id: string): boolean {
    return this.#slots.has(id);
  }

  /**
   * Forgets `id` (after an open in progress finishes) and returns its value once the calls using it
   * (`use`) are done; undefined for an unknown id, a failed open, or a handle another call already
   * removed. Calls after the removal find no handle.
   */
  async remove(id: string): Promise<T | undefined> {
    const slot = this.#slots.get(id);
    if (slot === undefined) return undefined;
    if (slot.state === "opening") await slot.ready;
    const current = this.#slots.get(id);
    if (current === undefined || current.state !== "open") return undefined;
    this.#delete(id);
    if (current.users > 0) {
      current.drained ??= Promise.withResolvers<void>();
      await current.drained.promise;
    }
    return current.value;
  }

  /** Forgets every handle and returns the values that were open. */
  async removeAll(): Promise<T[]> {
    const values: T[] = [];
    for (const id of [...this.#slots.keys()]) {
      const value = await this.remove(id);
      if (value !== undefined) values.push(value);
    }
    return values;
  }
}
