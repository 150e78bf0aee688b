/** Renders bench results as plain-text tables: the floor, then server figures against it. */
import type { BenchResult, FloorOutcome, ServerResult } from "./main.ts";
import type { FloorResult } from "./floor.ts";

type FloorOk = Extract<FloorOutcome, { ok: true }>;
import { renderIssueTable } from "./issue_table.ts";
import type { RuntimeName } from "./server_process.ts";

type Kind = "time" | "rate";

interface Row {
  label: string;
  kind: Kind;
  digits: number;
  value: (server: ServerResult) => number | null;
  floor: ((floor: FloorResult) => number | null) | null;
  fs: boolean;
}

const MIB = 1024 * 1024;

function rows(result: BenchResult): Row[] {
  const { stdoutBytes, sleeps, fileBytes, metadataCalls } = result.meta.config;
  return [
    {
      label: "/bin/true start→closed, median (ms)",
      kind: "time",
      digits: 2,
      value: (s) => s.roundTripMs?.median ?? null,
      floor: (f) => f.spawnTrueMs.median,
      fs: false,
    },
    {
      label: "/bin/true start→closed, p90 (ms)",
      kind: "time",
      digits: 2,
      value: (s) => s.roundTripMs?.p90 ?? null,
      floor: (f) => f.spawnTrueMs.p90,
      fs: false,
    },
    {
      label: "/bin/true start→closed after stdout, median (ms)",
      kind: "time",
      digits: 2,
      value: (s) => s.roundTripAfterStdoutMs?.median ?? null,
      floor: (f) => f.spawnTrueMs.median,
      fs: false,
    },
    {
      label: `stdout ${stdoutBytes / MIB} MiB to the client (MB/s)`,
      kind: "rate",
      digits: 0,
      value: (s) => s.stdoutMBps,
      floor: (f) => f.pipeMBps,
      fs: false,
    },
    {
      label: `${sleeps}× sleep 0.2 concurrent (ms)`,
      kind: "time",
      digits: 0,
      value: (s) => s.sleeps16Ms,
      floor: (f) => f.sleeps16Ms,
      fs: false,
    },
    {
      label: `getMetadata ×${metadataCalls} pipelined (ms/call)`,
      kind: "time",
      digits: 3,
      value: (s) => s.fs?.getMetadataMsPerCall ?? null,
      floor: (f) => f.statMsPerCall,
      fs: true,
    },
    {
      label: `sandboxed getMetadata ×${metadataCalls} pipelined (ms/call)`,
      kind: "time",
      digits: 3,
      value: (s) => s.fs?.sandboxedGetMetadataMsPerCall ?? null,
      floor: (f) => f.statMsPerCall,
      fs: true,
    },
    {
      label: `readFile ${fileBytes / MIB} MiB (MB/s)`,
      kind: "rate",
      digits: 0,
      value: (s) => s.fs?.readFileMBps ?? null,
      floor: (f) => f.readFileMBps,
      fs: true,
    },
    {
      label: `sandboxed readFile ${fileBytes / MIB} MiB (MB/s)`,
      kind: "rate",
      digits: 0,
      value: (s) => s.fs?.sandboxedReadFileMBps ?? null,
      floor: (f) => f.readFileMBps,
      fs: true,
    },
    {
      label: "first sandboxed call, worker start (ms)",
      kind: "time",
      digits: 0,
      value: (s) => s.fs?.firstSandboxedCallMs ?? null,
      floor: null,
      fs: true,
    },
  ];
}

const RUNTIMES: readonly RuntimeName[] = ["bun", "deno"];

function format(value: number, digits: number): string {
  return value.toFixed(digits);
}

/** Slowdown against the floor: time ÷ floor time, or floor rate ÷ rate (1.0 = at the floor). */
function slowdown(kind: Kind, value: number, floor: number): number {
  return kind === "time" ? value / floor : floor / value;
}

function cell(row: Row, server: ServerResult): string {
  if (!server.ok) return "failed";
  const value = row.value(server);
  if (value !== null) return format(value, row.digits);
  if (row.fs && (server.fs === null || !server.fs.available || server.fs.firstSandboxedCallMs === null)) {
    if (server.fs !== null && server.fs.available && !row.label.includes("sandboxed")) return "error";
    return "n/a";
  }
  return "error";
}

function floorValue(row: Row, floor: FloorOutcome): number | null {
  return floor.ok && row.floor !== null ? row.floor(floor) : null;
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => (line[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((text, i) => (i === 0 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0))).join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n") + "\n";
}

function floorTable(result: BenchResult): string {
  const { stdoutBytes, sleeps, fileBytes, metadataCalls, spawnRuns, echo } = result.meta.config;
  const pick = (f: FloorOutcome, get: (r: FloorOk) => number | null, digits: number): string => {
    if (!f.ok) return "failed";
    const value = get(f);
    return value === null ? "" : format(value, digits);
  };
  const specs: Array<[string, (r: FloorOk) => number | null, number]> = [
    [`spawn+reap /bin/true ×${spawnRuns}, median (ms)`, (r) => r.spawnTrueMs.median, 2],
    [`spawn+reap /bin/true ×${spawnRuns}, p90 (ms)`, (r) => r.spawnTrueMs.p90, 2],
    [`pipe read ${stdoutBytes / MIB} MiB from head (MB/s)`, (r) => r.pipeMBps, 0],
    [`${sleeps}× sleep 0.2 concurrent (ms)`, (r) => r.sleeps16Ms, 0],
    [`in-process stat ×${metadataCalls} pipelined (ms/call)`, (r) => r.statMsPerCall, 4],
    [`native readFile ${fileBytes / MIB} MiB (MB/s)`, (r) => r.readFileMBps, 0],
    [`sequential round trip, bare WebSocket echo (µs)`, (r) => r.wsEchoMicros, 0],
    [`the same, bench and echo server on one CPU (µs)`, (r) => r.oneCpuWsEchoMicros, 0],
    [
      `echo ${echo.connections * echo.processes}× ${echo.bytes / 1024} KiB through head, at once (ms)`,
      (r) => r.echoMs,
      0,
    ],
  ];
  const version = (f: FloorOutcome, name: string) => (f.ok ? `${name} ${f.version}` : name);
  return table(
    ["runtime floor (native API)", version(result.floor.bun, "bun"), version(result.floor.deno, "deno")],
    specs.map((
      [label, get, digits],
    ) => [label, pick(result.floor.bun, get, digits), pick(result.floor.deno, get, digits)]),
  );
}

function serverTable(result: BenchResult): string {
  const body = rows(result).map((row) => {
    const values = RUNTIMES.map((runtime) => {
      const server = result.server[runtime];
      return server.ok ? row.value(server) : null;
    });
    const floors = RUNTIMES.map((runtime) => floorValue(row, result.floor[runtime]));
    const ratios = RUNTIMES.map((_, i) => {
      const value = values[i] ?? null;
      const floor = floors[i] ?? null;
      return value !== null && floor !== null && floor > 0 && value > 0
        ? `${slowdown(row.kind, value, floor).toFixed(1)}×`
        : "";
    });
    return [
      row.label,
      ...RUNTIMES.map((runtime) => cell(row, result.server[runtime])),
      ...floors.map((
        floor,
      ) => (floor === null ? "" : format(floor, row.kind === "rate" ? 0 : row.digits + 1))),
      ...ratios,
    ];
  });
  return table(
    ["through the server", "bun", "deno", "floor bun", "floor deno", "×floor bun", "×floor deno"],
    body,
  );
}

/** The rows only the reference comparison shows (lower is better for "time", higher for "rate"). */
function extraRows(result: BenchResult): Row[] {
  const { connects, pipelinedStarts, ptyBytes, writes } = result.meta.config;
  const base = { floor: null, fs: false };
  return [
    {
      ...base,
      label: `connect + initialize, median of ${connects} (ms)`,
      kind: "time",
      digits: 2,
      value: (s) => s.extra?.connectMs ?? null,
    },
    {
      ...base,
      label: `${pipelinedStarts}× /bin/true pipelined on one connection (ms)`,
      kind: "time",
      digits: 0,
      value: (s) => s.extra?.pipelinedStartsMs ?? null,
    },
    {
      ...base,
      label: `pty: yes | head -c ${ptyBytes / MIB}M (MB/s)`,
      kind: "rate",
      digits: 0,
      value: (s) => s.extra?.ptyMBps ?? null,
    },
    {
      ...base,
      label: `${writes} process/write round trips to cat (writes/s)`,
      kind: "rate",
      digits: 0,
      value: (s) => s.extra?.writesPerSecond ?? null,
    },
    {
      ...base,
      label: "server RSS after the stdout runs (MiB)",
      kind: "time",
      digits: 0,
      value: (s) => (s.serverRssAfterStdoutBytes === null ? null : s.serverRssAfterStdoutBytes / MIB),
    },
    {
      ...base,
      label: "server RSS idle after start (MiB)",
      kind: "time",
      digits: 0,
      value: (s) => (s.idleRssBytes === null ? null : s.idleRssBytes / MIB),
    },
  ];
}

/** Ours against the reference: value ratio ours ÷ reference, and which is better. */
function referenceTable(result: BenchResult, reference: ServerResult): string {
  const body = [...rows(result), ...extraRows(result)].map((row) => {
    const values = RUNTIMES.map((runtime) => {
      const server = result.server[runtime];
      return server.ok ? row.value(server) : null;
    });
    const ref = reference.ok ? row.value(reference) : null;
    const ratios = values.map((value) =>
      value !== null && ref !== null && ref > 0 ? `${(value / ref).toFixed(2)}` : ""
    );
    const verdict = RUNTIMES.map((runtime, i) => {
      const value = values[i] ?? null;
      if (value === null || ref === null) return "";
      const better = row.kind === "time" ? value <= ref : value >= ref;
      return `${runtime} ${better ? "yes" : "NO"}`;
    }).filter((text) => text !== "").join(", ");
    const floors = RUNTIMES.map((runtime) => floorValue(row, result.floor[runtime]));
    return [
      row.label,
      ...RUNTIMES.map((runtime) => cell(row, result.server[runtime])),
      cell(row, reference),
      ...ratios,
      ...floors.map((
        floor,
      ) => (floor === null ? "" : format(floor, row.kind === "rate" ? 0 : row.digits + 1))),
      verdict,
    ];
  });
  return table(
    [
      "against the reference",
      "bun",
      "deno",
      "reference",
      "bun÷ref",
      "deno÷ref",
      "floor bun",
      "floor deno",
      "ours better",
    ],
    body,
  );
}

function notes(result: BenchResult): string {
  const lines: string[] = [];
  for (const runtime of RUNTIMES) {
    const floor = result.floor[runtime];
    if (!floor.ok) lines.push(`floor under ${runtime} failed: ${floor.error}`);
  }
  const servers: Array<[string, ServerResult]> = RUNTIMES.map((runtime) => [runtime, result.server[runtime]]);
  if (result.reference !== null && result.reference !== undefined) {
    servers.push(["reference", result.reference]);
  }
  for (const [runtime, server] of servers) {
    if (!server.ok) {
      lines.push(`${runtime} server failed: ${server.error ?? "unknown"}`);
      continue;
    }
    for (const [name, reason] of Object.entries(server.errors)) lines.push(`${runtime} ${name}: ${reason}`);
    const fs = server.fs;
    if (fs !== null) {
      if (fs.reason !== null) lines.push(`${runtime} fs figures not available: ${fs.reason}`);
      for (const [name, reason] of Object.entries(fs.errors)) lines.push(`${runtime} fs ${name}: ${reason}`);
    }
    if (server.stdoutRuns.length > 0) {
      const cpu = (ms: number | null) => (ms === null ? "?" : format(ms, 0));
      const runs = server.stdoutRuns.map((run) =>
        `${format(run.mbps, 0)} MB/s (${run.chunks} chunks of avg ${
          format(run.bytes / run.chunks / 1024, 1)
        } KiB; ` +
        `cpu ms: server ${cpu(run.serverCpuMs)}, client ${cpu(run.clientCpuMs)}; wall ${
          format(run.ms, 0)
        } ms)`
      );
      lines.push(
        `${runtime} stdout runs: ${runs.join("; ")}; seqs gap-free, byte count verified; median shown`,
      );
      if (server.serverRssAfterStdoutBytes !== null) {
        lines.push(
          `${runtime} server RSS after the stdout runs: ${
            format(server.serverRssAfterStdoutBytes / MIB, 0)
          } MiB`,
        );
      }
    }
    const binary = server.binary;
    if (binary !== null) {
      const runs = (values: number[]) => values.map((value) => format(value, 0)).join(", ");
      lines.push(
        `${runtime} in binary frames (MB/s): stdout runs ${runs(binary.stdoutRuns)}; ` +
          `fs/readFile runs ${runs(binary.readFileRuns)}; bytes counted; medians shown`,
      );
    }
    const extra = server.extra;
    if (extra?.writesDone != null && extra.writesDone < extra.writes) {
      lines.push(`${runtime} answered ${extra.writesDone} of ${extra.writes} writes within the 20 s budget`);
    }
    if (server.extra?.ptyBytes != null) {
      lines.push(`${runtime} pty delivered ${server.extra.ptyBytes} bytes (the terminal adds \\r)`);
    }
    const firstCalls = server.fs?.firstSandboxedCallRunsMs ?? [];
    if (firstCalls.length > 1) {
      lines.push(
        `${runtime} first sandboxed call of each fresh session (ms): ${
          firstCalls.map((ms) => format(ms, 0)).join(", ")
        } (the first is the server's first of all); median shown`,
      );
    }
    if (server.sleeps16RunsMs.length > 1) {
      lines.push(
        `${runtime} sleep runs (ms): ${
          server.sleeps16RunsMs.map((ms) => format(ms, 0)).join(", ")
        }; median shown`,
      );
    }
  }
  return lines.map((line) => `- ${line}\n`).join("");
}

/** The human-readable report of one bench run. */
export function renderReport(result: BenchResult): string {
  const { meta } = result;
  return [
    `exec-server bench${meta.config.quick ? " (--quick)" : ""}, ${meta.date}, ${meta.cpus} CPUs`,
    `client: ${meta.client}; ${meta.units}`,
    `1-minute load average: ${meta.loadAverage.before.toFixed(1)} before, ${
      meta.loadAverage.after.toFixed(1)
    } after` +
    (Math.max(meta.loadAverage.before, meta.loadAverage.after) > meta.cpus
      ? ` (above ${meta.cpus} CPUs: other work shares the machine, figures are pessimistic)`
      : ""),
    "",
    renderIssueTable(result),
    floorTable(result),
    serverTable(result),
    "×floor = how many times slower than the same runtime's native floor (time ÷ floor, or floor MB/s ÷ MB/s).",
    "stdout and sleeps: median run. The floor of getMetadata is an in-process stat.",
    "",
    ...(result.reference === null || result.reference === undefined ? [] : [
      `reference: ${result.meta.reference?.version ?? "?"} (${result.meta.reference?.binary ?? "?"})`,
      "",
      referenceTable(result, result.reference),
      "÷ref = ours ÷ reference as values: below 1 is better for ms and MiB, above 1 for MB/s and writes/s.",
      "",
    ]),
    notes(result),
  ].join("\n");
}
