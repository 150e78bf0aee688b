/**
 * The figures of issue 20 ("ahead of the Rust reference on every figure, on both runtimes"), each
 * with its target, the ratio the target is judged by and a verdict, from one run. A figure that
 * misses stays in the table, marked MISSED; a figure whose basis was not measured is "n/a".
 * @module
 */
import type { BenchResult, FloorOutcome, ServerResult } from "./main.ts";
import type { RuntimeName } from "./server_process.ts";

const MIB = 1024 * 1024;
const RUNTIMES: readonly RuntimeName[] = ["bun", "deno"];

/** What a target compares the figure with. */
type Basis = "ref" | "floor" | "absolute";

/** One target: `value ≤ factor × basis` (or ≥ for a rate), for some runtimes or all. */
interface Goal {
  readonly basis: Basis;
  readonly factor: number;
  readonly runtimes?: readonly RuntimeName[];
}

type FloorOk = Extract<FloorOutcome, { ok: true }>;

interface IssueRow {
  readonly label: string;
  readonly better: "lower" | "higher";
  readonly digits: number;
  readonly value: (server: ServerResult) => number | null;
  /**
   * The reference's figure that `value` is judged against, when it is another measurement (the
   * reference has no binary frames, so those rows compare with its JSON figure); default `value`.
   */
  readonly refValue?: (server: ServerResult) => number | null;
  readonly floor: ((floor: FloorOk) => number | null) | null;
  /** The runtime-specific goals of the issue; a runtime without one must beat the reference. */
  readonly goals: readonly Goal[];
}

const AHEAD: Goal = { basis: "ref", factor: 1 };

function rows(result: BenchResult): IssueRow[] {
  const { stdoutBytes, stdoutRuns, roundTrips, echo, fileBytes, ptyBytes, sleeps } = result.meta.config;
  const mib = (bytes: number | null | undefined): number | null => (bytes == null ? null : bytes / MIB);
  return [
    {
      label: "sequential round trip, fs/getMetadata (µs)",
      better: "lower",
      digits: 0,
      value: (s) => s.metadataMicros,
      floor: (f) => f.wsEchoMicros,
      goals: [{ basis: "ref", factor: 0.8 }],
    },
    {
      label: "  the same, bench and server on one CPU (one_cpu.ts)",
      better: "lower",
      digits: 0,
      value: (s) => s.oneCpuMetadataMicros,
      floor: (f) => f.oneCpuWsEchoMicros,
      goals: [{ basis: "ref", factor: 0.8 }],
    },
    {
      // Both on one CPU: apart, the two wake-ups between CPUs outweigh the work, and the floor and
      // the server may each land either way.
      label: "  the same on one CPU against the WebSocket echo floor",
      better: "lower",
      digits: 0,
      value: (s) => s.oneCpuMetadataMicros,
      floor: (f) => f.oneCpuWsEchoMicros,
      goals: [{ basis: "floor", factor: 1.5 }],
    },
    {
      label: "sequential round trip, error answer (µs)",
      better: "lower",
      digits: 0,
      value: (s) => s.errorMicros,
      floor: (f) => f.wsEchoMicros,
      goals: [{ basis: "ref", factor: 0.8 }],
    },
    {
      label: "  the same, bench and server on one CPU",
      better: "lower",
      digits: 0,
      value: (s) => s.oneCpuErrorMicros,
      floor: (f) => f.oneCpuWsEchoMicros,
      goals: [{ basis: "ref", factor: 0.8 }],
    },
    {
      label: `stdout ${stdoutBytes / MIB} MiB to the client (MB/s)`,
      better: "higher",
      digits: 0,
      value: (s) => s.stdoutMBps,
      floor: (f) => f.pipeMBps,
      goals: [{ basis: "ref", factor: 1.5 }],
    },
    {
      label: "  the same in binary frames (§11.12; ref: its JSON figure)",
      better: "higher",
      digits: 0,
      value: (s) => s.binary?.stdoutMBps ?? null,
      refValue: (s) => s.stdoutMBps,
      floor: (f) => f.pipeMBps,
      goals: [{ basis: "ref", factor: 1.5 }],
    },
    {
      label: `echo: ${echo.connections} conns × ${echo.processes} procs × ${
        echo.bytes / 1024
      } KiB in and back (ms)`,
      better: "lower",
      digits: 0,
      value: (s) => s.echoMs,
      floor: (f) => f.echoMs,
      goals: [{ basis: "ref", factor: 0.5 }],
    },
    {
      label: "first sandboxed call, worker start included (ms; median of 5 sessions)",
      better: "lower",
      digits: 0,
      value: (s) => s.fs?.firstSandboxedCallMs ?? null,
      floor: null,
      goals: [{ basis: "ref", factor: 0.5 }],
    },
    {
      label: `fs/readFile ${fileBytes / MIB} MiB (MB/s)`,
      better: "higher",
      digits: 0,
      value: (s) => s.fs?.readFileMBps ?? null,
      floor: (f) => f.readFileMBps,
      goals: [{ basis: "floor", factor: 0.5 }],
    },
    {
      label: "  the same in binary frames (§11.12)",
      better: "higher",
      digits: 0,
      value: (s) => s.binary?.readFileMBps ?? null,
      floor: (f) => f.readFileMBps,
      goals: [{ basis: "floor", factor: 0.5 }],
    },
    {
      label: `server RSS after ${stdoutRuns} × ${stdoutBytes / MIB} MiB of stdout (MiB)`,
      better: "lower",
      digits: 0,
      value: (s) => mib(s.serverRssAfterStdoutBytes),
      floor: null,
      goals: [{ basis: "ref", factor: 1.2 }],
    },
    {
      label: "RSS right after the echo runs, their output kept for a resume (MiB)",
      better: "lower",
      digits: 0,
      value: (s) => mib(s.rssAfterEchoBytes),
      floor: null,
      goals: [{ basis: "ref", factor: 1.2 }],
    },
    {
      label: "RSS after the mixed workload, the echo's sessions expired (MiB)",
      better: "lower",
      digits: 0,
      value: (s) => mib(s.rssAfterMixedBytes),
      floor: null,
      goals: [{ basis: "ref", factor: 1.2 }],
    },
    {
      label: "idle RSS (MiB)",
      better: "lower",
      digits: 0,
      value: (s) => mib(s.idleRssBytes),
      floor: null,
      goals: [{ basis: "ref", factor: 1.0 }],
    },
    {
      label: `RSS growth over ${roundTrips} sequential /bin/true round trips (MiB)`,
      better: "lower",
      digits: 1,
      value: (
        s,
      ) => (s.roundTripsRss === null ? null : (s.roundTripsRss.after - s.roundTripsRss.before) / MIB),
      floor: null,
      goals: [{ basis: "absolute", factor: 16 }],
    },
    {
      label: "spawn /bin/true start→closed, median (ms)",
      better: "lower",
      digits: 2,
      value: (s) => s.roundTripMs?.median ?? null,
      floor: (f) => f.spawnTrueMs.median,
      goals: [{ basis: "floor", factor: 1.5, runtimes: ["deno"] }],
    },
    {
      label: `${sleeps} concurrent sleep 0.2 (ms)`,
      better: "lower",
      digits: 0,
      value: (s) => s.sleeps16Ms,
      floor: (f) => f.sleeps16Ms,
      goals: [{ basis: "floor", factor: 1.05, runtimes: ["deno"] }],
    },
    {
      label: `PTY yes | head -c ${ptyBytes / MIB}M (MB/s)`,
      better: "higher",
      digits: 0,
      value: (s) => s.extra?.ptyMBps ?? null,
      floor: null,
      goals: [{ basis: "ref", factor: 1.5 }],
    },
  ];
}

/** The goal that judges `runtime` on `row`. */
function goalFor(row: IssueRow, runtime: RuntimeName): Goal {
  return row.goals.find((goal) => goal.runtimes === undefined || goal.runtimes.includes(runtime)) ?? AHEAD;
}

function goalText(row: IssueRow, goal: Goal): string {
  const op = row.better === "lower" ? "≤" : "≥";
  if (goal.basis === "absolute") return `${op} ${goal.factor}`;
  return `${op} ${goal.factor}× ${goal.basis}`;
}

/** The target column: one text when both runtimes share a goal, else one per runtime. */
function targetText(row: IssueRow): string {
  const [bun, deno] = RUNTIMES.map((runtime) => goalFor(row, runtime));
  if (bun === undefined || deno === undefined) return "";
  if (bun === deno) return goalText(row, bun);
  return RUNTIMES.map((runtime) => `${runtime} ${goalText(row, goalFor(row, runtime))}`).join("; ");
}

interface Verdict {
  readonly ratio: string;
  readonly verdict: string;
}

function judge(row: IssueRow, goal: Goal, value: number | null, basis: number | null): Verdict {
  if (value === null) return { ratio: "", verdict: "n/a" };
  if (goal.basis === "absolute") {
    const met = row.better === "lower" ? value <= goal.factor : value >= goal.factor;
    return { ratio: "", verdict: met ? "met" : "MISSED" };
  }
  if (basis === null || basis <= 0) return { ratio: "", verdict: `n/a (no ${goal.basis})` };
  const ratio = value / basis;
  const met = row.better === "lower" ? ratio <= goal.factor : ratio >= goal.factor;
  return { ratio: `${ratio.toFixed(2)}× ${goal.basis}`, verdict: met ? "met" : "MISSED" };
}

function format(value: number | null, digits: number): string {
  return value === null ? "" : value.toFixed(digits);
}

function floorValue(row: IssueRow, floor: FloorOutcome): number | null {
  return floor.ok && row.floor !== null ? row.floor(floor) : null;
}

function serverValue(row: IssueRow, server: ServerResult | null): number | null {
  return server !== null && server.ok ? row.value(server) : null;
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => (line[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((text, i) => (i === 0 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0))).join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n") + "\n";
}

/** The issue's table: every figure, its floor, the reference, ours, the target and the verdicts. */
export function renderIssueTable(result: BenchResult): string {
  const reference = result.reference;
  let missed = 0;
  const body = rows(result).map((row) => {
    const ref = reference !== null && reference.ok ? (row.refValue ?? row.value)(reference) : null;
    const cells: string[] = [row.label];
    for (const runtime of RUNTIMES) cells.push(format(floorValue(row, result.floor[runtime]), row.digits));
    cells.push(reference === null ? "" : format(ref, row.digits));
    for (const runtime of RUNTIMES) cells.push(format(serverValue(row, result.server[runtime]), row.digits));
    cells.push(targetText(row));
    for (const runtime of RUNTIMES) {
      const goal = goalFor(row, runtime);
      const basis = goal.basis === "ref" ? ref : floorValue(row, result.floor[runtime]);
      const { ratio, verdict } = judge(row, goal, serverValue(row, result.server[runtime]), basis);
      if (verdict === "MISSED") missed++;
      cells.push(ratio === "" ? verdict : `${ratio} ${verdict}`);
    }
    return cells;
  });
  return table(
    ["issue 20 figure", "floor bun", "floor deno", "reference", "bun", "deno", "target", "bun", "deno"],
    body,
  ) +
    `${missed === 0 ? "every figure met its target" : `${missed} figure(s) MISSED their target`}; ` +
    "a runtime the issue sets no target for must beat the reference (≤ 1× ref, or ≥ for rates).\n" +
    "floor: the runtime's own API in the same run (spawn, pipe, file read, bare WebSocket echo, raw echo).\n";
}
