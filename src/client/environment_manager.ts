import { ClientError } from "./client_error.ts";
import { DisabledEnvironment } from "./disabled_environment.ts";
import type { Environment } from "./environment.ts";
import type { ExecServerClient, ExecServerClientOptions } from "./exec_server_client.ts";
import { RemoteEnvironment } from "./remote_environment.ts";

/** The variable that selects the environment, and its alias (the name Codex reads). */
export const EXEC_SERVER_URL_VARIABLES = ["EXEC_SERVER_URL", "CODEX_EXEC_SERVER_URL"] as const;

/** Which environment the variables select. */
export type EnvironmentChoice =
  | { readonly kind: "local" }
  | { readonly kind: "disabled"; readonly variable: string }
  | { readonly kind: "remote"; readonly variable: string; readonly url: string };

/** Options of an `EnvironmentManager`. */
export interface EnvironmentManagerOptions {
  /** Where the variables are read (default: `process.env` where there is one, else nothing). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Creates the environment of this machine, for an unset variable. The runtime-neutral client
   * has none (it may run in a browser); the package's main entry supplies `LocalEnvironment`.
   */
  readonly local?: () => Promise<Environment>;
  /** Options of the client of a remote environment. */
  readonly client?: ExecServerClientOptions;
}

/**
 * Reads `EXEC_SERVER_URL` (or its alias `CODEX_EXEC_SERVER_URL`) once, at creation, and hands out
 * one environment, created on first use: unset or empty → Local; `none` → disabled; a `ws://` or
 * `wss://` URL → Remote. Any other value throws at creation, naming the variable. A Remote
 * environment that has ended (its session lost for good, or closed) is replaced on the next call.
 *
 * @example
 * ```ts
 * await using manager = new EnvironmentManager({ env: { EXEC_SERVER_URL: "ws://127.0.0.1:8765" } });
 * const env = await manager.environment();
 * ```
 */
export class EnvironmentManager implements AsyncDisposable {
  readonly choice: EnvironmentChoice;
  readonly #options: EnvironmentManagerOptions;
  #environment: Promise<Environment> | null = null;
  /** What `#environment` resolved to, once it has. */
  #current: Environment | null = null;

  constructor(options: EnvironmentManagerOptions = {}) {
    this.#options = options;
    this.choice = chooseEnvironment(options.env ?? processEnv());
  }

  /**
   * The environment, created once. A failed creation is tried again on the next call, and so is
   * a remote environment that has ended: its session lost for good (it expired, or reconnecting
   * gave up), or closed by its user. Such an environment can never serve again; whoever still
   * holds it, or its process handles, gets its `ClientError`, and the next call connects anew.
   */
  environment(): Promise<Environment> {
    if (this.#current !== null && endOf(this.#current)?.failure != null) this.#forget(this.#environment);
    if (this.#environment === null) {
      const created = this.#create();
      this.#environment = created;
      created.then((environment) => {
        if (this.#environment !== created) return;
        this.#current = environment;
        // Not kept once ended: the manager would hand out, and hold, an environment that only fails.
        void endOf(environment)?.ended.then(() => this.#forget(created));
      }, () => this.#forget(created));
    }
    return this.#environment;
  }

  /** Closes the environment if one was created. */
  async close(): Promise<void> {
    const environment = this.#environment;
    this.#forget(environment);
    const created = await environment?.catch(() => null);
    await created?.close();
  }

  /** See `close`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Lets go of `environment` if it is still the one handed out. */
  #forget(environment: Promise<Environment> | null): void {
    if (environment === null || this.#environment !== environment) return;
    this.#environment = null;
    this.#current = null;
  }

  #create(): Promise<Environment> {
    const choice = this.choice;
    switch (choice.kind) {
      case "local": {
        const local = this.#options.local;
        if (local === undefined) {
          return Promise.reject(
            new ClientError(
              "disabled",
              "EXEC_SERVER_URL is unset and this build has no local environment: set it to a ws:// or wss:// URL",
            ),
          );
        }
        return local();
      }
      case "disabled":
        return Promise.resolve(new DisabledEnvironment(choice.variable));
      case "remote":
        return RemoteEnvironment.connect(choice.url, this.#options.client ?? {});
      default:
        return assertNever(choice);
    }
  }
}

/** The client of a remote environment, whose end makes the environment useless; null for others. */
function endOf(environment: Environment): ExecServerClient | null {
  return environment instanceof RemoteEnvironment ? environment.client : null;
}

/** The environment `env` selects; throws `TypeError` naming the variable for a bad value. */
export function chooseEnvironment(env: Readonly<Record<string, string | undefined>>): EnvironmentChoice {
  for (const variable of EXEC_SERVER_URL_VARIABLES) {
    const value = env[variable]?.trim() ?? "";
    if (value === "") continue;
    if (value === "none") return { kind: "disabled", variable };
    let url: URL | null = null;
    try {
      url = new URL(value);
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== "ws:" && url.protocol !== "wss:")) {
      throw new TypeError(
        `${variable} must be unset, "none", or a ws:// or wss:// URL, got ${JSON.stringify(value)}`,
      );
    }
    return { kind: "remote", variable, url: value };
  }
  return { kind: "local" };
}

/** `process.env` where the runtime has one (Bun, Deno, Node); a browser has none. */
function processEnv(): Readonly<Record<string, string | undefined>> {
  // A global lookup: the client must load where `process` does not exist.
  const host = globalThis as { process?: { env?: Record<string, string | undefined> } };
  return host.process?.env ?? {};
}

function assertNever(value: never): never {
  throw new TypeError(`unexpected value ${String(value)}`);
}
