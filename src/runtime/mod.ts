/**
 * The runtime seam: the interface and the one function that picks its implementation.
 */
export { bunBuildArgs } from "./bun_build_args.ts";
export { currentRuntimeName, detectRuntime } from "./detect.ts";
export type {
  ExitStatus,
  HttpServer,
  PeerAddress,
  PermissionFence,
  PipeChild,
  ProgramImage,
  PtyChild,
  Runtime,
  RuntimeName,
  ServeOptions,
  SpawnPlan,
  StdinSink,
  TerminalSize,
  UpgradeOptions,
  Upgrader,
  WsConnection,
  WsHandlers,
} from "./runtime.ts";
export { chunkReader, pooledBuffers, recycleBuffer } from "./chunk_reader.ts";
export type { ChunkReader } from "./chunk_reader.ts";
export { libcArch, openLibc } from "./libc.ts";
export { openRootMountStat } from "./root_mount_stat.ts";
export { openFileRanges } from "./file_ranges.ts";
export type { FileRanges } from "./file_ranges.ts";
export type { PathFacts, ProgramAnswer, ProgramFile, RootMountStat } from "./root_mount_stat.ts";
export { envRecord } from "./env_record.ts";
export { IMAGE_RUN_VARIABLE } from "./image_run_mark.ts";
export { hexBytes } from "./raw_syscall.ts";
export { launcherProcess } from "./launcher_process.ts";
export { processStdio } from "./process_stdio.ts";
export { readDirectoryEntries } from "./directory_entries.ts";
export type { DirectoryEntry, DirectoryEntryType } from "./directory_entries.ts";
export type { ProcessStdio } from "./process_stdio.ts";
export type { LauncherProcess } from "./launcher_process.ts";
export { perlExecArgs } from "./perl_exec.ts";
export type { Libc, LibcArch } from "./libc.ts";
