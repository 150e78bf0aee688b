/**
 * The fs worker entry (`exec-server fs-worker`): NDJSON fs requests on stdin, answered with
 * `DirectFileSystem` on stdout (DESIGN.md decision 7). The sandbox launcher `execve`s the worker
 * after confining itself, so everything it does runs inside the sandbox. The caller exits the
 * process once `runFsWorker` resolves (stdin ended, every request answered, handles closed).
 */
export { parseReadable, runFsWorker } from "../src/fs/mod.ts";
