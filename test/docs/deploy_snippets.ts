/**
 * The snippets of docs/deploy.md as data (the systemd unit, the Dockerfile and the Kubernetes
 * manifest), the rewrite that lets a documented command line run inside a test, and what a server
 * started from one must do.
 */
import { expect } from "bun:test";
import { join } from "node:path";
import { z } from "zod";
import type { TestServer } from "../helpers/server.ts";
import { codeBlocks, readDoc, ROOT } from "./markdown.ts";

/** The token the tests hand to documented command lines. */
export const DEPLOY_TOKEN = "deploy-test-token";

/** The package's version. */
export const PACKAGE_VERSION =
  z.object({ version: z.string() }).parse(JSON.parse(await readDoc("package.json")))
    .version;

/**
 * What the deploy snippets promise of a running server: the probes answer, `/metrics` wants the
 * token, and a WebSocket with the token gets a session that reports the package's version.
 */
export async function expectDeployedServer(server: TestServer, probes: readonly string[]): Promise<void> {
  const statuses = async (
    paths: readonly string[],
    headers: Record<string, string> = {},
  ): Promise<number[]> =>
    await Promise.all(paths.map(async (path) => (await fetch(server.httpUrl + path, { headers })).status));
  const authorization = { Authorization: `Bearer ${DEPLOY_TOKEN}` };
  expect(await statuses(probes)).toEqual(probes.map(() => 200));
  expect(await statuses(["/metrics"])).toEqual([401]);
  expect(await statuses(["/metrics"], authorization)).toEqual([200]);
  await using client = await server.connect({ headers: authorization });
  const result = await client.initialize();
  expect(z.object({ environmentInfo: z.object({ executorVersion: z.string() }) }).parse(result))
    .toEqual({ environmentInfo: { executorVersion: PACKAGE_VERSION } });
}

/** The program every snippet installs and runs. */
export const INSTALLED_PROGRAM = "/usr/local/bin/exec-server";

/** One snippet of docs/deploy.md, found by its code block's info string. */
async function snippet(info: string): Promise<string> {
  const blocks = codeBlocks(await readDoc("docs/deploy.md")).filter((block) => block.info === info);
  if (blocks.length !== 1) throw new Error(`docs/deploy.md has ${blocks.length} ${info} blocks, not one`);
  return blocks[0]?.text ?? "";
}

/** The `KEY=value` lines of the unit, in order. */
export async function systemdUnit(): Promise<Map<string, string>> {
  const settings = new Map<string, string>();
  for (const line of (await snippet("ini")).split("\n")) {
    const match = /^(\w+)=(.*)$/.exec(line);
    if (match !== null) settings.set(match[1] ?? "", match[2] ?? "");
  }
  return settings;
}

/** The Dockerfile's instructions: each name with its argument text, in order. */
export async function dockerfile(): Promise<Array<{ name: string; args: string }>> {
  return (await snippet("dockerfile")).split("\n").filter((line) => /^[A-Z]+ /.test(line)).map((line) => {
    const space = line.indexOf(" ");
    return { name: line.slice(0, space), args: line.slice(space + 1).trim() };
  });
}

/** The manifest's YAML documents. */
export async function kubernetesManifest(): Promise<unknown[]> {
  const parsed: unknown = Bun.YAML.parse(await snippet("yaml"));
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** What `localCommandLine` changed, for the checks that follow. */
export interface LocalCommandLine {
  readonly argv: string[];
  /** The port the documented `--listen` names. */
  readonly documentedPort: number;
  /** The token file the documented command line names. */
  readonly documentedTokenFile: string;
}

/**
 * The documented command line as it runs in a test: `program` replaces the installed one, the
 * token file is `tokenFile`, and the port is 0 so that concurrent runs never collide. Nothing else
 * changes, host and flags included.
 */
export function localCommandLine(
  documented: readonly string[],
  options: { program: readonly string[]; tokenFile: string },
): LocalCommandLine {
  const [installed, ...args] = documented;
  if (installed !== INSTALLED_PROGRAM) throw new Error(`runs ${installed}, not ${INSTALLED_PROGRAM}`);
  let documentedPort = -1;
  let documentedTokenFile = "";
  const local = args.map((arg, index) => {
    const flag = args[index - 1];
    if (flag === "--ws-token-file") {
      documentedTokenFile = arg;
      return options.tokenFile;
    }
    if (flag === "--listen") {
      const url = new URL(arg);
      documentedPort = Number(url.port);
      return `${url.protocol}//${url.hostname}:0`;
    }
    return arg;
  });
  return { argv: [...options.program, ...local], documentedPort, documentedTokenFile };
}

/** The compile script's output file, relative to the repository root. */
export async function compiledExecutablePath(): Promise<string> {
  const packageJson = JSON.parse(await readDoc("package.json")) as { scripts: Record<string, string> };
  const match = /--outfile\s+(\S+)/.exec(packageJson.scripts["compile"] ?? "");
  if (match === null) throw new Error("the compile script names no --outfile");
  return match[1] ?? "";
}

/** `path` from the repository root. */
export function fromRoot(path: string): string {
  return join(ROOT, path);
}

/**
 * The client snippet (the one `ts` block) as a module file in `dir`: its `exec-server/client`
 * import names this checkout's client, so it runs before any build.
 */
export async function clientSnippetModule(dir: string): Promise<string> {
  const source = (await snippet("ts")).replaceAll(
    `from "exec-server/client"`,
    `from ${JSON.stringify(join(ROOT, "src", "client", "mod.ts"))}`,
  );
  const path = join(dir, "sandbox_environments.ts");
  await Bun.write(path, source);
  return path;
}
