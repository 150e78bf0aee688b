/**
 * Sequential round trips: one request at a time, each awaited before the next, as a Codex client
 * sends them (PROTOCOL.md §10.1). The median of many, in microseconds, against the same client
 * talking to a bare WebSocket echo server (the runtime's floor).
 * @module
 */
import { BenchClient, openSocket } from "./ws_client.ts";
import { summarize } from "./stats.ts";

/** How many round trips are timed, after how many untimed ones. */
export interface LatencyConfig {
  readonly warmup: number;
  readonly calls: number;
}

/**
 * The median µs of `method` with `params` answered one after another; `check` refuses a reply of
 * the wrong kind (an error where a result is due, or the other way round).
 */
export async function sequentialMicros(
  client: BenchClient,
  call: { method: string; params: unknown; check: (reply: Record<string, unknown>) => string | null },
  config: LatencyConfig,
): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < config.warmup + config.calls; i++) {
    const start = performance.now();
    const reply = await client.request(call.method, call.params);
    const elapsed = performance.now() - start;
    const problem = call.check(reply);
    if (problem !== null) throw new Error(`${call.method}: ${problem}`);
    if (i >= config.warmup) samples.push(elapsed * 1000);
  }
  return summarize(samples).median;
}

/**
 * The same loop against an echo server: the request text goes out and comes back, and the client
 * stringifies and parses as it does for the server's replies.
 */
export async function echoMicros(url: string, params: unknown, config: LatencyConfig): Promise<number> {
  const ws = openSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`websocket to ${url} failed to open`)), {
      once: true,
    });
  });
  let waiter: ((text: string) => void) | null = null;
  ws.addEventListener("message", (event) => waiter?.(String(event.data)));
  try {
    const samples: number[] = [];
    for (let i = 0; i < config.warmup + config.calls; i++) {
      const start = performance.now();
      const echoed = new Promise<string>((resolve) => {
        waiter = resolve;
      });
      ws.send(JSON.stringify({ id: i + 1, method: "fs/getMetadata", params }));
      const reply = JSON.parse(await echoed) as { id?: unknown };
      const elapsed = performance.now() - start;
      if (reply.id !== i + 1) throw new Error(`echo returned id ${String(reply.id)}, expected ${i + 1}`);
      if (i >= config.warmup) samples.push(elapsed * 1000);
    }
    return summarize(samples).median;
  } finally {
    ws.close();
  }
}

/** `check` for a call that must succeed. */
export function expectResult(reply: Record<string, unknown>): string | null {
  return "result" in reply ? null : `expected a result, got ${JSON.stringify(reply).slice(0, 200)}`;
}

/** `check` for a call that must fail. */
export function expectError(reply: Record<string, unknown>): string | null {
  return "error" in reply ? null : `expected an error, got ${JSON.stringify(reply).slice(0, 200)}`;
}
