/**
 * The exec-server under Bun with a heap report on SIGUSR2, for `rss_probe.ts`: the JavaScript
 * heap (`bun:jsc`'s `heapStats`) before and after a forced collection, the process's memory, and
 * with `HEAP_REPORT_MIMALLOC` set mimalloc's statistics (live bytes per size class against the
 * pages it holds), which tell live memory from freed memory the allocator keeps.
 *
 * @example
 * ```sh
 * bun bench/bun_heap_server.ts --listen ws://127.0.0.1:0 --quiet   # then kill -USR2 PID
 * ```
 * @module
 */
import { heapStats } from "bun:jsc";
import process from "node:process";
import { main } from "../mod.ts";

const MIB = 1024 * 1024;

function report(tag: string): void {
  const mib = (bytes: number) => (bytes / MIB).toFixed(1);
  const heap = heapStats();
  const memory = process.memoryUsage();
  const types = Object.entries(heap.objectTypeCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([name, count]) => `${name}:${count}`)
    .join(" ");
  process.stderr.write(
    `HEAP ${tag} heapSize ${mib(heap.heapSize)} heapCapacity ${mib(heap.heapCapacity)} ` +
      `extra ${mib(heap.extraMemorySize)} objects ${heap.objectCount} rss ${mib(memory.rss)} | ${types}\n`,
  );
}

process.on("SIGUSR2", () => {
  report("before-collection");
  Bun.gc(true);
  report("after-collection");
  if (process.env["HEAP_REPORT_MIMALLOC"] !== undefined) Bun.unsafe.mimallocDump();
});

await main(process.argv.slice(2));
