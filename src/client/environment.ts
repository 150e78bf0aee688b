import type { FileSystem } from "../protocol/mod.ts";
import type { Sandbox } from "../protocol/mod.ts";
import type { ExecService } from "./exec_service.ts";

/** What an environment can do. */
export interface EnvironmentCapabilities {
  /** Processes can be started. */
  readonly exec: boolean;
  /** Files can be read and written. */
  readonly fs: boolean;
}

/**
 * Where an agent's commands run and its files live (DESIGN.md decision 9): this machine
 * (`LocalEnvironment`), an exec-server (`RemoteEnvironment`), or nowhere (disabled). The three
 * behave alike: the same results, and the same `RpcError`s for the same mistakes.
 */
export interface Environment extends AsyncDisposable {
  readonly kind: "local" | "remote" | "disabled";
  readonly capabilities: EnvironmentCapabilities;
  readonly exec: ExecService;
  /** Files without a sandbox. */
  readonly fs: FileSystem;
  /** Files as seen through `sandbox` (PROTOCOL.md §8): every request carries it. */
  sandboxedFs(sandbox: Sandbox): FileSystem;
  /** Releases the environment: a Local one kills its processes, a Remote one disconnects. */
  close(): Promise<void>;
}
