/** The server on its stdio transport (PROTOCOL.md §1.7): NDJSON lines in, NDJSON lines out. */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { RuntimeName } from "./server.ts";
import { serverCommand, TEST_RUNTIME_ENV } from "./server.ts";

const ROOT = join(import.meta.dir, "..", "..");

type Message = Record<string, unknown>;

/** A server subprocess speaking JSON lines; disposing kills it if it still runs. */
export class StdioServer implements AsyncDisposable {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  #partial = "";
  #stderr = "";
  #watchers: Array<() => void> = [];
  #done = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once("exit", (code) => {
        this.#done = true;
        this.#wake();
        resolve(code);
      })
    );
    child.stdout?.on("data", (data: Buffer) => {
      this.#partial += data.toString();
      const parts = this.#partial.split("\n");
      this.#partial = parts.pop() ?? "";
      this.lines.push(...parts);
      this.#wake();
    });
    child.stderr?.on("data", (data: Buffer) => {
      this.#stderr += data.toString();
    });
  }

  /** Starts `mod.ts --listen stdio` under `runtime`. */
  static start(runtime: RuntimeName, args: string[] = []): StdioServer {
    const [command, ...rest] = serverCommand(runtime);
    const child = spawn(command ?? "", [...rest, "--listen", "stdio", "--quiet", ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: process.env["HOME"] ?? "/root",
        ...TEST_RUNTIME_ENV,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    return new StdioServer(child);
  }

  /** What the server wrote to stderr so far. */
  stderr(): string {
    return this.#stderr;
  }

  /** Writes raw text to the server's stdin. */
  write(text: string): void {
    this.child.stdin?.write(text);
  }

  /** Writes one message as a line. */
  send(message: unknown): void {
    this.write(JSON.stringify(message) + "\n");
  }

  /** Ends the server's stdin. */
  endInput(): void {
    this.child.stdin?.end();
  }

  /** Every output line parsed as JSON. */
  messages(): Message[] {
    return this.lines.map((line) => JSON.parse(line) as Message);
  }

  /** Resolves with the first message satisfying `predicate`. */
  async waitForMessage(predicate: (message: Message) => boolean): Promise<Message> {
    for (;;) {
      const found = this.messages().find(predicate);
      if (found !== undefined) return found;
      if (this.#done) throw new Error(`server exited while waiting; stderr: ${this.#stderr}`);
      await new Promise<void>((resolve) => this.#watchers.push(resolve));
    }
  }

  /** Resolves with the reply carrying `id`. */
  replyTo(id: string | number): Promise<Message> {
    const key = JSON.stringify(id);
    return this.waitForMessage((message) => !("method" in message) && JSON.stringify(message["id"]) === key);
  }

  /** Sends initialize + initialized and resolves with the initialize result. */
  async initialize(): Promise<Message> {
    this.send({ id: "init", method: "initialize", params: { clientName: "stdio-test" } });
    this.send({ method: "initialized", params: {} });
    const reply = await this.replyTo("init");
    return reply["result"] as Message;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }

  #wake(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const wake of watchers) wake();
  }
}
