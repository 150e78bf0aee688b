export { ManagedProcess } from "./managed_process.ts";
export type { ProcessState } from "./managed_process.ts";
export { MAX_CHUNK_BYTES, OutputLog } from "./output_log.ts";
export type { LogChunk, LogSnapshot } from "./output_log.ts";
export { MAX_WAIT_MS, ProcessTable, RunningCounter, START_WAIT_MS } from "./process_table.ts";
export { MAX_START_BYTES, signalNumber, validateStart } from "./start_checks.ts";
export type { ProcessSink, ProcessTableOptions, SandboxedTarget, SandboxPlanner } from "./process_table.ts";
export { STDIN_BACKPRESSURE_BYTES, StdinQueue } from "./stdin_queue.ts";
