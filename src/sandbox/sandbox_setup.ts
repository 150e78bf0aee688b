import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import type { SandboxPlanner } from "../process/mod.ts";
import type { ProgramImage, Runtime } from "../runtime/mod.ts";
import { detectHostFeatures } from "./host_features.ts";
import type { HostFeatures } from "./host_features_types.ts";
import { workerLaunch } from "./launch_plan.ts";
import type { Launch, LaunchContext } from "./launch_plan.ts";
import type { Policy, ServerFiles } from "./policy_types.ts";
import { processPlanner } from "./process_planner.ts";
import { hostPath } from "./server_files.ts";
import { prepareProgramImages } from "./program_images.ts";
import { declareOwnFiles } from "./declared_files.ts";
import { mountAliases } from "./mount_aliases.ts";
import { stateDirBases, stateDirFiles } from "./state_dir.ts";
import { WrittenAreas } from "./written_areas.ts";

/** Everything sandboxing needs, set up once for a server or a Local environment. */
export interface SandboxSetup {
  readonly features: HostFeatures;
  /** The server's own and secret files, protected in every policy (`SandboxContext`). */
  readonly protection: ServerFiles;
  readonly planner: SandboxPlanner;
  /** How the fs worker of `policy` starts. */
  workerLaunch(policy: Policy): Promise<Launch>;
  /** Removes the state directory. */
  close(): Promise<void>;
}

/**
 * Sets up sandboxing: the private state directory (`stateDir`, made by `createStateDir`; `close`
 * removes it), the host's layers (`EXEC_SERVER_TEST_LANDLOCK_ABI` can only lower the detected
 * Landlock ABI), the launcher and worker images of `self` (default: this program), and the
 * protections of the server's own files and of `secretFiles`.
 */
export async function setUpSandbox(
  runtime: Runtime,
  options: {
    self?: ProgramImage;
    secretFiles?: readonly string[];
    stateDir: string;
    /** How long the host probe may take (`DetectOptions.limitMs`). */
    probeLimitMs?: number;
    /** Told when a start-up step timed out, for the server's log. */
    onTimeout?: (message: string) => void;
    /** Fires when the server exits during start-up (`DetectOptions.abort`). */
    abort?: AbortSignal;
  },
): Promise<SandboxSetup> {
  const serverEnv = runtime.env();
  const stateDir = options.stateDir;
  const given = options.self ?? runtime.selfImage();
  // The launches run the program by its real path: a link on the way that a sandbox could change
  // would lead them elsewhere (Deno names its main module as it was given).
  const self = given.script === null ? given : { ...given, script: await hostPath(given.script) };
  const ceiling = Number(serverEnv["EXEC_SERVER_TEST_LANDLOCK_ABI"]);
  const images = await prepareProgramImages(runtime, stateDir, self);
  const probeEnv = runtime.imageEnv(stateDir, images.cacheDir ?? undefined);
  const features = await detectHostFeatures(runtime, {
    env: probeEnv,
    command: runtime.imageCommand(images.probe, ["sandbox-exec", "--probe"]),
    ...(images.sharedDir === null ? {} : { reportCache: images.sharedDir }),
    ...(Number.isInteger(ceiling) ? { landlockAbiCeiling: ceiling } : {}),
    ...(options.probeLimitMs === undefined ? {} : { limitMs: options.probeLimitMs }),
    ...(options.onTimeout === undefined ? {} : { onTimeout: options.onTimeout }),
    ...(options.abort === undefined ? {} : { abort: options.abort }),
  });
  // The user-namespace helper (util-linux `unshare`, the first on PATH) runs unconfined at every
  // launch of an unprivileged server, before the launcher: it is the server's own as its runtime
  // is, run by its real path and kept read-only where a writable root holds it.
  const found = features.userNamespaceHelper;
  const helper = found === null ? null : await hostPath(found[0] ?? "");
  const userNamespaceHelper = found === null || helper === null ? null : [helper, ...found.slice(1)];
  // By real path: the policies compare them with where their roots lead, not with their text.
  const ownFiles = await Promise.all(
    [...images.ownFiles, ...stateDirFiles(stateDir), ...(helper === null ? [] : [helper])].map((path) =>
      hostPath(path)
    ),
  );
  // Before any sandbox starts: other servers keep them read-only, and the secret ones hidden, in
  // theirs (`declared_files.ts`).
  // A list that cannot be written (a full disk) leaves them writable in other servers' sandboxes only.
  const secrets = await Promise.all((options.secretFiles ?? []).map((path) => hostPath(resolve(path))));
  // And under every other path a bind mount shows them by now: no real path names those.
  ownFiles.push(...await mountAliases(ownFiles));
  const secretFiles = [...secrets, ...await mountAliases(secrets)];
  const declaration = await declareOwnFiles(stateDir, [...new Set(ownFiles)], secretFiles).catch(() => null);
  const protection: ServerFiles = {
    ownFiles: [...new Set(ownFiles)],
    secretFiles,
    writtenAreas: new WrittenAreas(),
    stateDirBases: await stateDirBases(serverEnv),
  };
  const launchContext = (): Promise<LaunchContext> =>
    images.ready.then(({ launcher, worker, cacheDir }) => ({
      launcher,
      worker,
      command: (image, args, fence) => runtime.imageCommand(image, args, fence),
      env: runtime.imageEnv(stateDir, cacheDir ?? undefined),
      cacheDir,
      userNamespaceHelper,
    }));
  return {
    features,
    protection,
    planner: processPlanner({ features, serverEnv, protection, launchContext }),
    workerLaunch: async (policy) => workerLaunch(await launchContext(), policy),
    close: async () => {
      await declaration?.close().catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
