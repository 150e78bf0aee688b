import type { FileSystem } from "../protocol/mod.ts";
import { ClientError } from "./client_error.ts";
import type { Environment, EnvironmentCapabilities } from "./environment.ts";
import type { ExecBackend } from "./exec_backend.ts";
import { BackendExecService } from "./exec_service.ts";
import type { ExecService } from "./exec_service.ts";
import { WireFileSystem } from "./wire_file_system.ts";

/**
 * The environment of `EXEC_SERVER_URL=none`: its capabilities say exec and fs are off, and every
 * call rejects with `ClientError` `disabled`, naming the variable that turned them off.
 */
export class DisabledEnvironment implements Environment {
  readonly kind = "disabled";
  readonly capabilities: EnvironmentCapabilities = { exec: false, fs: false };
  readonly exec: ExecService;
  readonly fs: FileSystem;

  /** `variable` is the setting that disabled the environment (`EXEC_SERVER_URL`). */
  constructor(variable: string) {
    const refuse = (what: string): Promise<never> =>
      Promise.reject(new ClientError("disabled", `${what} is disabled: ${variable} is "none"`));
    const backend: ExecBackend = {
      call: () => refuse("exec"),
      subscribe: () => () => {},
    };
    this.exec = new BackendExecService(backend);
    this.fs = new WireFileSystem(() => refuse("fs"), null);
  }

  /** The same refusing file system: there is nothing to sandbox. */
  sandboxedFs(): FileSystem {
    return this.fs;
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** See `close`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
