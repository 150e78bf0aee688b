import type { FileSystem } from "../protocol/mod.ts";
import type { Sandbox } from "../protocol/mod.ts";
import type { Environment, EnvironmentCapabilities } from "./environment.ts";
import { ExecServerClient } from "./exec_server_client.ts";
import type { ExecServerClientOptions } from "./exec_server_client.ts";
import { BackendExecService } from "./exec_service.ts";
import type { ExecService } from "./exec_service.ts";
import { WireFileSystem } from "./wire_file_system.ts";
import type { FsCall } from "./wire_file_system.ts";

/**
 * An environment on an exec-server, through an `ExecServerClient` (which reconnects and resumes).
 *
 * @example
 * ```ts
 * await using env = await RemoteEnvironment.connect("ws://127.0.0.1:8765");
 * await using proc = await env.exec.start({ argv: ["uname", "-a"], cwd: "/" });
 * for await (const event of proc.events) if (event.type === "output") console.log(event.data);
 * ```
 */
export class RemoteEnvironment implements Environment {
  readonly kind = "remote";
  readonly capabilities: EnvironmentCapabilities = { exec: true, fs: true };
  readonly client: ExecServerClient;
  readonly exec: ExecService;
  readonly fs: FileSystem;
  readonly #call: FsCall;

  constructor(client: ExecServerClient) {
    this.client = client;
    this.#call = (method, params, options) => client.call(method, params, options);
    this.exec = new BackendExecService(client);
    this.fs = new WireFileSystem(this.#call, null);
  }

  /** Connects to the server at `url` (a `ws://` or `wss://` URL) and starts a session. */
  static async connect(url: string | URL, options: ExecServerClientOptions = {}): Promise<RemoteEnvironment> {
    return new RemoteEnvironment(await ExecServerClient.connect(url, options));
  }

  /** fs requests that carry `sandbox`, enforced by the server (§8). */
  sandboxedFs(sandbox: Sandbox): FileSystem {
    return new WireFileSystem(this.#call, sandbox);
  }

  /** Disconnects; the server keeps the session until its TTL (§3.8). */
  close(): Promise<void> {
    return this.client.close();
  }

  /** See `close`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
