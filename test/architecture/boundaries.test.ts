import { describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(join(ROOT, file), "utf8");
  return [...text.matchAll(/(?:import|export)[^"';]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']/g)]
    .map((match) => match[1] ?? match[2] ?? "");
}

/**
 * Specifiers a file loads when it runs: type-only imports and exports are erased, so they do not
 * count; `import()` counts unless `dynamic` is false.
 */
async function runtimeImportsOf(file: string, dynamic = true): Promise<string[]> {
  const text = await readFile(join(ROOT, file), "utf8");
  const statements = text.matchAll(
    /(?:^|\n)\s*(import|export)(\s+type\b)?[^"';]*?from\s+["']([^"']+)["']|(?:^|\n)\s*import\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']/g,
  );
  return [...statements].filter((match) => match[2] === undefined && (dynamic || match[5] === undefined)).map(
    (
      match,
    ) => match[3] ?? match[4] ?? match[5] ?? "",
  );
}

/** Every file `entry` loads at run time, and every bare specifier (package or `node:` module) it reaches. */
async function runtimeClosure(
  entry: string,
  dynamic = true,
): Promise<{ files: string[]; packages: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of await runtimeImportsOf(file, dynamic)) {
      const target = folderOf(file, specifier);
      if (target === null) packages.add(specifier);
      else queue.push(target);
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

function folderOf(file: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const target = relative(ROOT, join(ROOT, file, "..", specifier));
  return target;
}

describe("architecture boundaries", () => {
  test("only src/runtime/bun*.ts says Bun. and only src/runtime/deno*.ts says Deno.", async () => {
    const offenders: string[] = [];
    for (const file of [...(await sourceFiles("src")), ...(await sourceFiles("worker")), "mod.ts"]) {
      const text = await readFile(join(ROOT, file), "utf8");
      const code = text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
      const name = file.slice(file.lastIndexOf("/") + 1);
      if (/\bBun\.[a-zA-Z]/.test(code) && !(file.startsWith("src/runtime/") && name.startsWith("bun"))) {
        offenders.push(`${file}: Bun.`);
      }
      if (/\bDeno\.[a-zA-Z]/.test(code) && !(file.startsWith("src/runtime/") && name.startsWith("deno"))) {
        offenders.push(`${file}: Deno.`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("protocol imports only zod and itself; lower layers never import server or client", async () => {
    const offenders: string[] = [];
    const lower = [
      "src/process",
      "src/containment",
      "src/fs",
      "src/env_policy",
      "src/sandbox",
      "src/launcher",
      "src/protocol",
      "src/rpc",
    ];
    for (const file of await sourceFiles("src")) {
      for (const specifier of await importsOf(file)) {
        const target = folderOf(file, specifier);
        if (file.startsWith("src/protocol/")) {
          const allowed = specifier === "zod" || specifier.startsWith("node:") ||
            (target !== null && target.startsWith("src/protocol/"));
          if (!allowed) offenders.push(`${file} imports ${specifier}`);
        }
        if (
          lower.some((dir) => file.startsWith(dir + "/")) && target !== null &&
          (target.startsWith("src/server") || target.startsWith("src/client") ||
            target.startsWith("src/local"))
        ) {
          offenders.push(`${file} imports ${specifier}`);
        }
        if (file.startsWith("src/client/") && target !== null && target.startsWith("src/local")) {
          offenders.push(`${file} imports ${specifier}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  test("code outside a folder imports that folder only through its mod.ts", async () => {
    const offenders: string[] = [];
    for (const file of [...(await sourceFiles("src")), ...(await sourceFiles("worker")), "mod.ts"]) {
      const own = file.split("/").slice(0, 2).join("/");
      for (const specifier of await importsOf(file)) {
        const target = folderOf(file, specifier);
        if (target === null || !target.startsWith("src/")) continue;
        const folder = target.split("/").slice(0, 2).join("/");
        if (folder === own || target.split("/").length < 3) continue;
        if (!target.endsWith("/mod.ts")) offenders.push(`${file} imports ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the launcher's bundle imports no module statically, so Deno never loads its Node layer", async () => {
    // Node's compatibility layer costs every launch under Deno about 40 ms of start-up, and every
    // sandboxed process and fs worker starts through the launcher. A static import would load it
    // on both runtimes. (Bun's side of `launcherProcess` requires `node:fs`, when it runs.)
    const built = await Bun.build({ entrypoints: [join(ROOT, "src/launcher/entry.ts")], target: "bun" });
    const text = await built.outputs[0]?.text() ?? "";
    const statics = [...text.matchAll(/^import\b.*$/gm)].map((match) => match[0]);
    const dynamics = [...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((match) => match[1]).sort();
    expect({ statics, dynamics }).toEqual({ statics: [], dynamics: ["bun:ffi"] });
  });

  test("the fs worker's bundle holds the worker, the fs part of the protocol, rpc and its process's streams only", async () => {
    // Every module in the bundle runs when the worker starts, before its first answer: the whole
    // protocol's schemas and the server's sandbox code cost Bun 2 ms and Deno 4 ms of each start,
    // the runtime adapters (spawn, server, terminal, with node:child_process, node:vm, node:url)
    // Bun 1 ms more. `sideEffects: false` in package.json lets the bundler leave out what the
    // barrels re-export but the worker never uses.
    const built = await Bun.build({ entrypoints: [join(ROOT, "worker/entry.ts")], target: "bun" });
    const text = await built.outputs[0]?.text() ?? "";
    const modules = [...text.matchAll(/^\/\/ ((?:src|worker)\/\S+\.ts)$/gm)].map((match) => match[1] ?? "");
    expect(modules).toContain("src/fs/fs_worker_server.ts");
    const protocol = ["base64", "empty_result", "errors", "fs", "lone_surrogate", "paths", "sandbox_param"];
    const runtime = [
      "process_stdio",
      "bun_stdio",
      "deno_stdio",
      "directory_entries",
      "deno_directory_entries",
    ];
    const foreign = modules.filter((file) =>
      !/^(worker|src\/(fs|rpc))\//.test(file) &&
      !protocol.some((name) => file === `src/protocol/${name}.ts`) &&
      !runtime.some((name) => file === `src/runtime/${name}.ts`)
    );
    expect([...new Set(foreign)]).toEqual([]);
  });

  test("the command line loads the server only to serve: --help, --version and refusals load no package", async () => {
    // The server's modules cost a Deno start about 0.1 CPU-s and a Bun start about as much.
    const { files, packages } = await runtimeClosure("src/cli.ts", false);
    expect({ files, packages }).toEqual({
      files: [
        "package.json",
        "src/cli.ts",
        "src/server/host_check.ts",
        "src/server/logger.ts",
        "src/server/mod.ts",
        "src/server/options.ts",
        "src/server/signal_shutdown.ts",
        "src/version.ts",
      ],
      packages: [],
    });
  });

  test("client/mod.ts loads only the client, protocol, rpc and zod, so it runs with nothing but WebSocket", async () => {
    const { files, packages } = await runtimeClosure("src/client/mod.ts");
    const foreign = files.filter((file) => !/^src\/(client|protocol|rpc)\//.test(file));
    expect({ foreign, packages }).toEqual({ foreign: [], packages: ["zod"] });
  });
});
