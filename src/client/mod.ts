/**
 * The client side of exec-server, runtime-neutral: it needs only a global `WebSocket`, so it runs
 * in Bun, Deno, Node 22 and browsers. `ExecServerClient` speaks the protocol; an `Environment`
 * (`{ capabilities, exec, fs }`) runs processes and touches files through it, or nowhere when
 * disabled. `EnvironmentManager` picks one from `EXEC_SERVER_URL`. The Local environment (this
 * machine) is in the package's main entry, because it spawns.
 *
 * @example
 * ```ts
 * import { RemoteEnvironment } from "exec-server/client";
 *
 * await using env = await RemoteEnvironment.connect("ws://127.0.0.1:8765");
 * await using proc = await env.exec.start({ argv: ["sh", "-c", "echo hi"], cwd: "/" });
 * for await (const event of proc.events) {
 *   if (event.type === "output") console.log(new TextDecoder().decode(event.data));
 * }
 * const { dataBase64 } = await env.fs.readFile({ path: "/etc/hostname" });
 * ```
 * @module
 */
export { withCallOptions } from "./call_signal.ts";
export { ClientError } from "./client_error.ts";
export type { ClientErrorReason } from "./client_error.ts";
export { DisabledEnvironment } from "./disabled_environment.ts";
export type { Environment, EnvironmentCapabilities } from "./environment.ts";
export { chooseEnvironment, EnvironmentManager, EXEC_SERVER_URL_VARIABLES } from "./environment_manager.ts";
export type { EnvironmentChoice, EnvironmentManagerOptions } from "./environment_manager.ts";
export type {
  CallableMethod,
  CallOptions,
  CallParams,
  CallResult,
  ExecBackend,
  ExecMethod,
  ProcessSubscriber,
} from "./exec_backend.ts";
export type { ProcessNotification } from "./process_notification.ts";
export { ExecServerClient } from "./exec_server_client.ts";
export type { ExecServerClientOptions } from "./exec_server_client.ts";
export { BackendExecService } from "./exec_service.ts";
export type { ExecService, StartRequest } from "./exec_service.ts";
export type { ClosedEvent, DroppedEvent, ExitedEvent, OutputEvent, ProcessEvent } from "./process_event.ts";
export { ProcessHandle } from "./process_handle.ts";
export type { ReadOptions, SignalName, WriteOptions } from "./process_handle.ts";
export { RemoteEnvironment } from "./remote_environment.ts";
export { SubscriberTable } from "./subscriber_table.ts";
export { WireFileSystem } from "./wire_file_system.ts";
export type { FsCall } from "./wire_file_system.ts";
export { RpcError } from "../protocol/mod.ts";
export type { FileSystem } from "../protocol/mod.ts";
