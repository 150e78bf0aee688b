/** The process's own standard streams under Deno (see `ProcessStdio`). */
import type { ProcessStdio } from "./process_stdio.ts";

/** Writes queued one after another so that concurrent callers never interleave partial writes. */
class SerialWriter {
  readonly #target: { write(data: Uint8Array): Promise<number> };
  #tail: Promise<void> = Promise.resolve();

  constructor(target: { write(data: Uint8Array): Promise<number> }) {
    this.#target = target;
  }

  write(data: Uint8Array): Promise<void> {
    const next = this.#tail.then(async () => {
      let rest = data;
      while (rest.length > 0) rest = rest.subarray(await this.#target.write(rest));
    });
    // Keep the chain alive after a failure; the caller still sees the rejection.
    this.#tail = next.catch(() => {});
    return next;
  }
}

export class DenoStdio implements ProcessStdio {
  readonly #stdout = new SerialWriter(Deno.stdout);
  readonly #stderr = new SerialWriter(Deno.stderr);

  stdin(): ReadableStream<Uint8Array> {
    return Deno.stdin.readable;
  }

  writeStdout(data: Uint8Array): Promise<void> {
    return this.#stdout.write(data);
  }

  writeStderr(text: string): Promise<void> {
    return this.#stderr.write(new TextEncoder().encode(text)).catch(() => {
      // stderr is gone: there is nowhere left to report that.
    });
  }

  exit(code: number): never {
    Deno.exit(code);
  }
}
