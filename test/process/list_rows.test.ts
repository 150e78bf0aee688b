import { expect, test } from "bun:test";
import { listRows } from "../../src/process/list_rows.ts";
import type { ProcessListEntry } from "../../src/protocol/mod.ts";

function rowOf(index: number): ProcessListEntry {
  return {
    processId: `p${index}`.padEnd(1_000, "."),
    argv0: "true",
    state: "closed",
    tty: false,
    pid: null,
    exitCode: 0,
    startedAtMs: 0,
    outputBytes: 0,
    peakMemoryBytes: null,
    cpuSeconds: null,
  };
}

test("listRows waits once its rows' JSON passes the bound, and goes on with the rows it made", async () => {
  const processes = Array.from({ length: 10 }, (_, index) => ({ listEntry: () => rowOf(index) }));
  const rowBytes = JSON.stringify(rowOf(0)).length + 1;
  const waitedAfter: number[] = [];
  let made = 0;
  const rows = await listRows(
    processes.map((process) => ({
      listEntry: () => {
        made++;
        return process.listEntry();
      },
    })),
    () => true,
    {
      heldBytes: 3 * rowBytes,
      wait: () => {
        waitedAfter.push(made);
        return Promise.resolve();
      },
    },
  );
  expect({ rows: rows.map((row) => row.processId.slice(0, 3)), waitedAfter }).toEqual({
    rows: Array.from({ length: 10 }, (_, index) => rowOf(index).processId.slice(0, 3)),
    waitedAfter: [4],
  });
});
