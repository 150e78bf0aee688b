/**
 * What the differential scripts share (`reference_diff.ts`, `lifecycle_diff.ts`): starting the
 * Codex reference or this server under Bun or Deno, and a raw client that sends Codex-shaped frames
 * and keeps everything it received.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { serverCommand } from "../helpers/server.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Message = Record<string, Json>;
export type TargetName = "codex" | "bun" | "deno";

export const TARGETS: readonly TargetName[] = ["codex", "bun", "deno"];
export const WAIT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Servers

export interface Running extends AsyncDisposable {
  readonly url: string;
}

/**
 * Starts one target in its own process group with exactly `env`, its cwd `home`; the URL is its
 * first stdout line; `ourArgs` go to this server only. Disposing ends the group (SIGTERM, SIGKILL after 3 s).
 */
export async function startTarget(
  target: TargetName,
  home: string,
  env: Record<string, string>,
  referenceBin: string,
  ourArgs: readonly string[] = [],
): Promise<Running> {
  const command = target === "codex"
    ? [referenceBin, "exec-server", "--listen", "ws://127.0.0.1:0"]
    : [...serverCommand(target), "--listen", "ws://127.0.0.1:0", "--quiet", ...ourArgs];
  const [program, ...args] = command;
  const child: ChildProcess = spawn(program ?? "", args, {
    cwd: home,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr?.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (data: Buffer) => {
      stdout += data.toString();
      const newline = stdout.indexOf("\n");
      if (newline !== -1) resolve(stdout.slice(0, newline).trim());
    });
    void exited.then(() => reject(new Error(`${target} exited before its URL: ${stderr}`)));
  });
  return {
    url,
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        // The server was started as its own process group: end it and whatever it left.
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch { /* already gone */ }
        const timer = setTimeout(() => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
          } catch { /* already gone */ }
        }, 3_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A raw client: Codex-shaped frames (no jsonrpc member, integer ids from 1)

export class Wire {
  readonly ws: WebSocket;
  readonly received: { text: string; message: Message | null }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #nextId = 1;
  #watchers: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.#wake();
      });
    });
    ws.addEventListener("message", (event) => {
      const text = String(event.data);
      let message: Message | null = null;
      try {
        message = JSON.parse(text) as Message;
      } catch { /* recorded as text */ }
      this.received.push({ text, message });
      this.#wake();
    });
  }

  static async open(url: string): Promise<Wire> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot open ${url}`)), { once: true });
    });
    return new Wire(ws);
  }

  #wake(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const wake of watchers) wake();
  }

  nextId(): number {
    return this.#nextId++;
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends a request with the next integer id; returns the id. */
  request(method: string, params: unknown): number {
    const id = this.nextId();
    this.send({ id, method, params });
    return id;
  }

  async until<T>(find: () => T | undefined, what: string, waitMs = WAIT_MS): Promise<T> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#watchers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  replyTo(id: Json, waitMs = WAIT_MS): Promise<Message> {
    const key = JSON.stringify(id);
    return this.until(
      () =>
        this.received.find((entry) =>
          entry.message !== null && !("method" in entry.message) &&
          JSON.stringify(entry.message["id"]) === key
        )?.message ?? undefined,
      `reply to ${key}`,
      waitMs,
    );
  }

  /** Resolves after a request round-trip; what arrived before it is then in `received`. */
  async barrier(): Promise<void> {
    const id = this.request("fs/getMetadata", { path: "file:///", sandbox: null });
    await this.replyTo(id);
  }

  notifications(processId: string): Message[] {
    return this.received
      .map((entry) => entry.message)
      .filter((message): message is Message => {
        const params = message?.["params"];
        return typeof message?.["method"] === "string" && typeof params === "object" && params !== null &&
          !Array.isArray(params) && params["processId"] === processId;
      });
  }

  untilClosed(processId: string): Promise<Message[]> {
    return this.until(() => {
      const list = this.notifications(processId);
      return list.some((message) => message["method"] === "process/closed") ? list : undefined;
    }, `process/closed of ${processId}`);
  }

  close(): void {
    this.ws.close();
  }
}
