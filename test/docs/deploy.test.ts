import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { z } from "zod";
import { startCommandLine, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp_dir.ts";
import {
  clientSnippetModule,
  DEPLOY_TOKEN,
  dockerfile,
  expectDeployedServer,
  kubernetesManifest,
  localCommandLine,
  systemdUnit,
} from "./deploy_snippets.ts";
import { ROOT } from "./markdown.ts";

/** The installed program, as it runs from this checkout. */
const PROGRAM = [join(ROOT, "node_modules", ".bin", "bun"), join(ROOT, "mod.ts")];

const ProbeSchema = z.object({
  httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }),
});
const ContainerSchema = z.object({
  args: z.array(z.string()),
  ports: z.array(z.object({ name: z.string(), containerPort: z.number() })),
  readinessProbe: ProbeSchema,
  livenessProbe: ProbeSchema,
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })),
});
const LabelsSchema = z.record(z.string(), z.string());
const ManifestSchema = z.tuple([
  z.object({ kind: z.literal("Secret"), metadata: z.object({ name: z.string() }), stringData: LabelsSchema }),
  z.object({
    kind: z.literal("Service"),
    metadata: z.object({ name: z.string() }),
    spec: z.object({
      clusterIP: z.literal("None"),
      selector: LabelsSchema,
      ports: z.array(z.object({ port: z.number(), targetPort: z.union([z.string(), z.number()]) })),
    }),
  }),
  z.object({
    kind: z.literal("StatefulSet"),
    spec: z.object({
      serviceName: z.string(),
      selector: z.object({ matchLabels: LabelsSchema }),
      template: z.object({
        metadata: z.object({ labels: LabelsSchema }),
        spec: z.object({
          containers: z.tuple([ContainerSchema]),
          volumes: z.array(
            z.object({ name: z.string(), secret: z.object({ secretName: z.string() }).optional() }),
          ),
        }),
      }),
    }),
  }),
]);

describe("docs/deploy.md", () => {
  test("the systemd unit's ExecStart serves its URL with the token of its credential", async () => {
    await using dir = await tempDir();
    const unit = await systemdUnit();
    const [credential = "", source] = (unit.get("LoadCredential") ?? "").split(":");
    expect(source).toStartWith("/");
    // systemd replaces %d with the directory that holds the service's credentials.
    const credentials = join(dir.path, "credentials");
    await mkdir(credentials);
    await writeFile(join(credentials, credential), DEPLOY_TOKEN + "\n");
    const documented = (unit.get("ExecStart") ?? "").split(" ").map((arg) =>
      arg.replaceAll("%d", credentials)
    );
    const tokenFile = join(credentials, credential);
    const local = localCommandLine(documented, { program: PROGRAM, tokenFile });
    expect(local.documentedTokenFile).toBe(tokenFile);
    await using server = await startCommandLine(local.argv, { cwd: dir.path });
    expect(server.url).toMatch(/^ws:\/\/0\.0\.0\.0:[1-9]\d*$/);
    await expectDeployedServer(server, ["/readyz", "/livez"]);
  });

  test("the manifest runs the image's command line with its Secret's token and probes /readyz and /livez", async () => {
    await using dir = await tempDir();
    const [secret, service, statefulSet] = ManifestSchema.parse(await kubernetesManifest());
    const pod = statefulSet.spec.template;
    const [container] = pod.spec.containers;
    const instructions = await dockerfile();
    const jsonArgs = (name: string): unknown =>
      JSON.parse(instructions.find((instruction) => instruction.name === name)?.args ?? "null");
    const entrypoint = z.array(z.string()).parse(jsonArgs("ENTRYPOINT"));
    expect(container.args).toEqual(z.array(z.string()).parse(jsonArgs("CMD")));

    const tokenFile = join(dir.path, "token");
    await writeFile(tokenFile, DEPLOY_TOKEN + "\n");
    const local = localCommandLine([...entrypoint, ...container.args], { program: PROGRAM, tokenFile });
    const mount = container.volumeMounts.find((each) =>
      local.documentedTokenFile.startsWith(each.mountPath + "/")
    );
    const volume = pod.spec.volumes.find((each) => each.name === mount?.name);
    expect(volume?.secret?.secretName).toBe(secret.metadata.name);
    expect(Object.keys(secret.stringData)).toContain(basename(local.documentedTokenFile));

    const probes = [container.readinessProbe.httpGet, container.livenessProbe.httpGet];
    expect(probes.map((probe) => probe.path)).toEqual(["/readyz", "/livez"]);
    const portNumber = (port: string | number): number | undefined =>
      typeof port === "number" ? port : container.ports.find((each) => each.name === port)?.containerPort;
    expect(probes.map((probe) => portNumber(probe.port))).toEqual([
      local.documentedPort,
      local.documentedPort,
    ]);
    expect(statefulSet.spec.serviceName).toBe(service.metadata.name);
    expect(service.spec.selector).toEqual(pod.metadata.labels);
    expect(statefulSet.spec.selector.matchLabels).toEqual(pod.metadata.labels);
    expect(service.spec.ports.map((port) => portNumber(port.targetPort))).toEqual([local.documentedPort]);

    await using server = await startCommandLine(local.argv, { cwd: dir.path });
    expect(server.url).toMatch(/^ws:\/\/0\.0\.0\.0:[1-9]\d*$/);
    await expectDeployedServer(server, probes.map((probe) => probe.path));
  });

  test(
    "the client snippet keeps one Environment per pod: shared by its tasks, separate between pods",
    async () => {
      await using dir = await tempDir();
      const tokenFile = join(dir.path, "token");
      await writeFile(tokenFile, DEPLOY_TOKEN + "\n");
      const args = ["--ws-auth", "capability-token", "--ws-token-file", tokenFile];
      await using first = await startServer({ runtime: "bun", args });
      await using second = await startServer({ runtime: "bun", args });
      const snippet = await clientSnippetModule(dir.path);
      const driver = join(dir.path, "driver.ts");
      await writeFile(driver, SNIPPET_DRIVER.replace("SNIPPET", JSON.stringify(snippet)));
      const urls = { "sandbox-0": first.url, "sandbox-1": second.url, "sandbox-9": "ws://127.0.0.1:1" };
      const run = spawnSync(join(ROOT, "node_modules", ".bin", "bun"), [driver], {
        encoding: "utf8",
        env: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          URLS: JSON.stringify(urls),
          TOKEN: DEPLOY_TOKEN,
        },
        timeout: 60_000,
      });
      expect([run.status, run.stderr]).toEqual([0, ""]);
      expect(JSON.parse(run.stdout)).toEqual({
        sharedWithinPod: true,
        separateBetweenPods: true,
        seenByTheSamePod: ["task-1"],
        seenByTheOtherPod: [],
        freshAfterForget: true,
        unreachable: ["ClientError", "ClientError"],
        retriedAfterFailure: true,
      });
    },
    60_000,
  );
});

/** Drives the snippet's `SandboxEnvironments` and prints what it saw as one JSON line. */
const SNIPPET_DRIVER = `
import { SandboxEnvironments } from SNIPPET;
const urls = JSON.parse(process.env.URLS);
const pods = new SandboxEnvironments(process.env.TOKEN, (pod) => urls[pod]);
const [a, aAgain, b] = await Promise.all([
  pods.environment("sandbox-0"),
  pods.environment("sandbox-0"),
  pods.environment("sandbox-1"),
]);
await a.exec.start({ processId: "task-1", argv: ["sleep", "30"], cwd: "/" });
const ids = async (environment) => (await environment.exec.list()).map((entry) => entry.processId);
const seenByTheSamePod = await ids(aAgain);
const seenByTheOtherPod = await ids(b);
await pods.forget("sandbox-1");
const freshAfterForget = (await pods.environment("sandbox-1")) !== b;
const failing = pods.environment("sandbox-9");
const unreachable = [await failing.then(() => "connected", (error) => error.name)];
const again = pods.environment("sandbox-9");
unreachable.push(await again.then(() => "connected", (error) => error.name));
await pods.close();
console.log(JSON.stringify({
  sharedWithinPod: a === aAgain,
  separateBetweenPods: a !== b,
  seenByTheSamePod,
  seenByTheOtherPod,
  freshAfterForget,
  unreachable,
  retriedAfterFailure: again !== failing,
}));
`;
