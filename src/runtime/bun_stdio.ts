/** The process's own standard streams under Bun (see `ProcessStdio`). */
import type { ProcessStdio } from "./process_stdio.ts";

/** Writes queued one after another so that concurrent callers never interleave partial writes. */
class SerialWriter {
  readonly #sink: Bun.FileSink;
  #tail: Promise<void> = Promise.resolve();

  constructor(sink: Bun.FileSink) {
    this.#sink = sink;
  }

  write(data: Uint8Array): Promise<void> {
    const next = this.#tail.then(async () => {
      const accepted: unknown = this.#sink.write(data);
      if (accepted instanceof Promise) await accepted;
      await this.#sink.flush();
    });
    // Keep the chain alive after a failure; the caller still sees the rejection.
    this.#tail = next.catch(() => {});
    return next;
  }
}

export class BunStdio implements ProcessStdio {
  #stdout: SerialWriter | null = null;
  #stderr: SerialWriter | null = null;

  stdin(): ReadableStream<Uint8Array> {
    return Bun.stdin.stream();
  }

  writeStdout(data: Uint8Array): Promise<void> {
    try {
      this.#stdout ??= new SerialWriter(Bun.stdout.writer());
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#stdout.write(data);
  }

  /**
   * The writer is made at the first line, and making it takes a descriptor (EMFILE when a client
   * has used them all up, which is when errors get logged): it threw out of the logger, and a Bun
   * server crashed at that first error line. The line is dropped then; the next one tries again.
   */
  writeStderr(text: string): Promise<void> {
    try {
      this.#stderr ??= new SerialWriter(Bun.stderr.writer());
    } catch {
      return Promise.resolve();
    }
    return this.#stderr.write(new TextEncoder().encode(text)).catch(() => {
      // stderr is gone: there is nowhere left to report that.
    });
  }

  exit(code: number): never {
    process.exit(code);
  }
}
