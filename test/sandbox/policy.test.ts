import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RpcError } from "../../src/protocol/errors.ts";
import {
  type HostFeatures,
  MINIMAL_PATHS,
  networkOffPolicy,
  parseSandbox,
  type Policy,
  policyKey,
  resolveSandbox,
  type SandboxContext,
} from "../../src/sandbox/mod.ts";

const FULL: HostFeatures = Object.freeze({
  landlockAbi: 7,
  userNamespace: true,
  mountNamespace: true,
  ipcNamespace: true,
  seccomp: true,
  noNewPrivs: true,
  bubblewrap: null,
  userNamespaceHelper: null,
  probeError: null,
});

const PROCESS: SandboxContext = { cwd: "/work/app", env: { TMPDIR: "/var/tmp/x" }, network: "asPolicy" };

function managed(entries: unknown[], extra: Record<string, unknown> = {}, network = "restricted"): unknown {
  return {
    permissions: { type: "managed", file_system: { type: "restricted", entries }, network },
    windowsSandboxLevel: "disabled",
    ...extra,
  };
}

function pathEntry(path: string, access: string): unknown {
  return { path: { type: "path", path }, access };
}

function special(kind: string, access: string, subpath?: string): unknown {
  return { path: { type: "special", value: subpath === undefined ? { kind } : { kind, subpath } }, access };
}

async function policyOf(
  sandbox: unknown,
  context: SandboxContext = PROCESS,
  features = FULL,
): Promise<Policy> {
  const resolved = await resolveSandbox(sandbox, context, features);
  if (resolved.kind !== "enforced") throw new Error("expected an enforced policy");
  return resolved.policy;
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RpcError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected an RpcError");
}

describe("resolveSandbox unsandboxed cases", () => {
  const none = { kind: "none" } as const;
  test.each([
    ["null", null],
    ["absent", undefined],
    ["permissions disabled", { permissions: { type: "disabled" }, windowsSandboxLevel: "disabled" }],
    ["permissions external", {
      permissions: { type: "external", network: "restricted" },
      windowsSandboxLevel: "mxc",
    }],
    ["managed unrestricted with network", {
      permissions: { type: "managed", file_system: { type: "unrestricted" }, network: "enabled" },
      windowsSandboxLevel: "disabled",
    }],
    ["legacy danger-full-access", {
      sandboxPolicy: { type: "danger-full-access" },
      windowsSandboxLevel: "disabled",
    }],
    ["legacy external-sandbox", {
      sandboxPolicy: { type: "external-sandbox", network_access: "restricted" },
      windowsSandboxLevel: "elevated",
    }],
  ])("resolveSandbox runs %s unsandboxed", async (_name, sandbox) => {
    expect(await resolveSandbox(sandbox, PROCESS, FULL)).toEqual(none);
  });
});

describe("resolveSandbox with the permission profile", () => {
  test("resolveSandbox maps root read and cwd write", async () => {
    const policy = await policyOf(
      managed([special("root", "read"), special("current_working_directory", "write")], {
        cwd: "file:///work/app",
      }),
    );
    expect(policy).toEqual({
      readable: ["/"],
      writable: ["/work/app"],
      denied: [],
      readOnly: [],
      network: false,
    });
  });

  test("resolveSandbox expands minimal", async () => {
    const policy = await policyOf(managed([special("minimal", "read")]));
    expect([...policy.readable].sort()).toEqual([...MINIMAL_PATHS].sort());
  });

  test("resolveSandbox lets the most specific path win", async () => {
    const policy = await policyOf(managed(
      [
        special("root", "read"),
        pathEntry("/srv", "write"),
        pathEntry("/srv/.env", "deny"),
        pathEntry("/srv/docs", "read"),
        pathEntry("/srv/docs/drafts", "write"),
        pathEntry("/etc/secret", "none"),
        pathEntry("/elsewhere/x", "deny"),
      ],
      {},
      "enabled",
    ));
    expect(policy).toEqual({
      readable: ["/"],
      writable: ["/srv", "/srv/docs/drafts"],
      denied: ["/elsewhere/x", "/etc/secret", "/srv/.env"],
      readOnly: ["/srv/docs"],
      network: true,
    });
  });

  test("resolveSandbox drops a denial outside every root", async () => {
    const policy = await policyOf(managed([pathEntry("/a", "read"), pathEntry("/b/c", "deny")]));
    expect(policy.denied).toEqual([]);
  });

  test("resolveSandbox prefers deny over write over read on the same path", async () => {
    const policy = await policyOf(managed([
      pathEntry("/a", "read"),
      pathEntry("/a", "write"),
      pathEntry("/x", "read"),
      pathEntry("/x/y", "write"),
      pathEntry("/x/y", "deny"),
    ]));
    expect(policy).toEqual({
      readable: ["/x"],
      writable: ["/a"],
      denied: ["/x/y"],
      readOnly: [],
      network: false,
    });
  });

  test("resolveSandbox joins project roots with subpath", async () => {
    const policy = await policyOf(managed([special("project_roots", "write", "src")], {
      cwd: "/work/app",
      policyContext: { workspaceRoots: ["file:///w/one", "/w/two"] },
    }));
    expect(policy.writable).toEqual(["/w/one/src", "/w/two/src"]);
  });

  test("resolveSandbox uses the flat workspaceRoots and falls back to the context cwd", async () => {
    const flat = await policyOf(managed([special("project_roots", "read")], {
      policyContext: { cwd: "/c" },
      workspaceRoots: ["/w"],
    }));
    expect(flat.readable).toEqual(["/w"]);
    const fallback = await policyOf(managed([special("project_roots", "read")], { cwd: "/c" }));
    expect(fallback.readable).toEqual(["/c"]);
  });

  test("resolveSandbox refuses a subpath that leaves the project root", async () => {
    const error = await errorOf(resolveSandbox(
      managed([special("project_roots", "read", "../x")], { cwd: "/c" }),
      PROCESS,
      FULL,
    ));
    expect(error.code).toBe(-32602);
    expect(error.message).toContain("subpath must be a relative path inside the project root");
  });

  test("resolveSandbox maps tmpdir and slash_tmp", async () => {
    const policy = await policyOf(managed([special("tmpdir", "write"), special("slash_tmp", "write")]));
    expect(policy.writable).toEqual(["/tmp", "/var/tmp/x"]);
    const noTmpdir = await policyOf(managed([special("tmpdir", "write")]), { ...PROCESS, env: {} });
    expect(noTmpdir.writable).toEqual([]);
  });

  test("resolveSandbox requires a cwd for dynamic entries", async () => {
    for (const kind of ["current_working_directory", "project_roots"]) {
      const error = await errorOf(resolveSandbox(managed([special(kind, "read")]), PROCESS, FULL));
      expect(error).toEqual({
        code: -32602,
        message: "file system sandbox context with dynamic permissions requires cwd",
      });
    }
  });

  test("resolveSandbox refuses the unknown special kind", async () => {
    const error = await errorOf(resolveSandbox(managed([special("unknown", "read")]), PROCESS, FULL));
    expect(error).toEqual({
      code: -32602,
      message: "sandbox rule read special:unknown cannot be enforced: unknown special path kind",
    });
  });

  test("resolveSandbox refuses a glob that does not deny", async () => {
    const error = await errorOf(
      resolveSandbox(
        managed([{ path: { type: "glob_pattern", pattern: "**/*.pem" }, access: "write" }]),
        PROCESS,
        FULL,
      ),
    );
    expect(error).toEqual({
      code: -32602,
      message: "sandbox rule write glob:**/*.pem cannot be enforced: glob patterns can only deny",
    });
  });

  // The reduction of a policy compares its paths with one another: 16,000 nested entries took a
  // server 161 s, and held every other client for more than a minute of it.
  test("resolveSandbox refuses more than 1024 entries or roots", async () => {
    const paths = (count: number) =>
      Array.from({ length: count }, (_, i) => `/work/app/${"n/".repeat(i % 200)}x${i}`);
    const errors = await Promise.all([
      errorOf(resolveSandbox(managed(paths(1025).map((path) => pathEntry(path, "read"))), PROCESS, FULL)),
      errorOf(resolveSandbox(
        managed([special("project_roots", "read")], {
          workspaceRoots: paths(1025).map((path) => `file://${path}`),
        }),
        PROCESS,
        FULL,
      )),
    ]);
    expect(errors).toEqual([
      { code: -32602, message: "sandbox.permissions.file_system.entries: must have at most 1024 items" },
      { code: -32602, message: "sandbox.workspaceRoots: must have at most 1024 items" },
    ]);
    const policy = await policyOf(managed(paths(1024).map((path) => pathEntry(path, "read"))));
    expect(policy.readable.length).toBe(1024);
  });

  test("resolveSandbox gives readable and writable / for unrestricted with network off", async () => {
    const policy = await policyOf({
      permissions: { type: "managed", file_system: { type: "unrestricted" }, network: "restricted" },
      windowsSandboxLevel: "disabled",
    });
    expect(policy).toEqual({ readable: ["/"], writable: ["/"], denied: [], readOnly: [], network: false });
  });

  test("resolveSandbox forces the network off for fs when asked", async () => {
    const policy = await policyOf(managed([special("root", "read")], {}, "enabled"), {
      ...PROCESS,
      network: "forceOff",
    });
    expect(policy.network).toBe(false);
  });
});

describe("resolveSandbox glob expansion", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sandbox-glob-"));
    await mkdir(join(dir, "a/b/c"), { recursive: true });
    await writeFile(join(dir, "key.pem"), "");
    await writeFile(join(dir, "a/b/deep.pem"), "");
    await writeFile(join(dir, "a/b/c/deeper.pem"), "");
    await writeFile(join(dir, "a/b/other.txt"), "");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("resolveSandbox denies every existing match of a relative pattern", async () => {
    const policy = await policyOf(managed([
      pathEntry(dir, "write"),
      { path: { type: "glob_pattern", pattern: "**/*.pem" }, access: "deny" },
    ]));
    expect([...policy.denied].sort()).toEqual([
      join(dir, "a/b/c/deeper.pem"),
      join(dir, "a/b/deep.pem"),
      join(dir, "key.pem"),
    ]);
  });

  test("resolveSandbox stops a glob at glob_scan_max_depth", async () => {
    const sandbox = {
      permissions: {
        type: "managed",
        file_system: {
          type: "restricted",
          entries: [pathEntry(dir, "read"), {
            path: { type: "glob_pattern", pattern: `${dir}/**/*.pem` },
            access: "none",
          }],
          glob_scan_max_depth: 2,
        },
        network: "restricted",
      },
      windowsSandboxLevel: "disabled",
    };
    const policy = await policyOf(sandbox);
    expect(policy.denied).toEqual([join(dir, "key.pem")]);
  });

  test("resolveSandbox matches ? and * within one name", async () => {
    const policy = await policyOf(managed([
      pathEntry(dir, "read"),
      { path: { type: "glob_pattern", pattern: "a/?/*.pem" }, access: "deny" },
    ]));
    expect(policy.denied).toEqual([join(dir, "a/b/deep.pem")]);
  });
});

describe("resolveSandbox judges dropped denials by what they name", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sandbox-dropped-"));
    await mkdir(join(dir, "real/x/pub"), { recursive: true });
    await writeFile(join(dir, "real/secret"), "");
    await writeFile(join(dir, "real/x/pub/secret"), "");
    await symlink("real", join(dir, "link"));
    await symlink("..", join(dir, "real/x/up"));
    await symlink("/nonexistent-elsewhere", join(dir, "away"));
    await symlink("real/later", join(dir, "dangling"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const refusal = (path: string) => ({
    code: -32602,
    message: `sandbox rule deny file://${path} cannot be enforced: the path passes through a symbolic link`,
  });

  test("resolveSandbox still drops a denial inside another denial", async () => {
    const policy = await policyOf(managed([
      pathEntry(join(dir, "real"), "read"),
      pathEntry(join(dir, "real/x"), "deny"),
      pathEntry(join(dir, "real/x/secret"), "deny"),
    ]));
    expect(policy.denied).toEqual([join(dir, "real/x")]);
  });

  test("resolveSandbox still drops a denial through a link that leads outside every root", async () => {
    const policy = await policyOf(managed([
      pathEntry(join(dir, "real"), "read"),
      pathEntry(join(dir, "away/secret"), "deny"),
    ]));
    expect(policy.denied).toEqual([]);
  });

  test("resolveSandbox refuses a denial inside another that a link leads back into a root", async () => {
    const path = join(dir, "real/x/up/secret");
    const error = await errorOf(resolveSandbox(
      managed([
        pathEntry(join(dir, "real"), "read"),
        pathEntry(join(dir, "real/x"), "deny"),
        pathEntry(path, "deny"),
      ]),
      PROCESS,
      FULL,
    ));
    expect(error).toEqual(refusal(path));
  });

  test("resolveSandbox refuses a denial a root inside a kept denial would show", async () => {
    const path = join(dir, "link/x/pub/secret");
    const error = await errorOf(resolveSandbox(
      managed([
        pathEntry(join(dir, "real"), "read"),
        pathEntry(join(dir, "real/x"), "deny"),
        pathEntry(join(dir, "real/x/pub"), "read"),
        pathEntry(path, "deny"),
      ]),
      PROCESS,
      FULL,
    ));
    expect(error).toEqual(refusal(path));
  });

  test("resolveSandbox refuses a denial through a link to what a root would show once made", async () => {
    const path = join(dir, "dangling/secret");
    const error = await errorOf(resolveSandbox(
      managed([pathEntry(join(dir, "real"), "read"), pathEntry(path, "deny")]),
      PROCESS,
      FULL,
    ));
    expect(error).toEqual(refusal(path));
  });

  test("resolveSandbox refuses a denial of a whole root through a link", async () => {
    const path = join(dir, "link");
    const error = await errorOf(resolveSandbox(
      managed([pathEntry(join(dir, "real"), "read"), pathEntry(path, "deny")]),
      PROCESS,
      FULL,
    ));
    expect(error).toEqual(refusal(path));
  });
});

describe("resolveSandbox with the legacy policy", () => {
  let cwd = "";
  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), "sandbox-legacy-"));
    await mkdir(join(cwd, ".git"));
  });
  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  test("resolveSandbox maps workspace-write with .git read-only (the cwd lies inside /tmp)", async () => {
    const policy = await policyOf(
      {
        sandboxPolicy: { type: "workspace-write", writable_roots: ["file:///extra"], network_access: true },
        windowsSandboxLevel: "disabled",
      },
      { cwd, env: { TMPDIR: "/var/tmp/t" }, network: "asPolicy" },
    );
    expect(policy).toEqual({
      readable: ["/"],
      writable: ["/extra", "/tmp", "/var/tmp/t"],
      denied: [],
      readOnly: [join(cwd, ".git")],
      network: true,
    });
  });

  test("resolveSandbox honours the workspace-write exclusions", async () => {
    const policy = await policyOf(
      {
        sandboxPolicy: {
          type: "workspace-write",
          exclude_tmpdir_env_var: true,
          exclude_slash_tmp: true,
          read_only_access: {
            type: "restricted",
            readable_roots: ["/data"],
            include_platform_defaults: false,
          },
        },
        windowsSandboxLevel: "disabled",
      },
      { cwd: "/nowhere/app", env: { TMPDIR: "/var/tmp/t" }, network: "asPolicy" },
    );
    expect(policy).toEqual({
      readable: ["/data"],
      writable: ["/nowhere/app"],
      denied: [],
      readOnly: [],
      network: false,
    });
  });

  test("resolveSandbox maps read-only with platform defaults", async () => {
    const policy = await policyOf({
      sandboxPolicy: {
        type: "read-only",
        access: { type: "restricted", include_platform_defaults: true, readable_roots: ["/data"] },
      },
      windowsSandboxLevel: "restricted-token",
    });
    expect([...policy.readable].sort()).toEqual([...MINIMAL_PATHS, "/data"].sort());
    expect(policy.writable).toEqual([]);
    expect(policy.network).toBe(false);
  });

  test("resolveSandbox maps read-only full access", async () => {
    const policy = await policyOf({
      sandboxPolicy: { type: "read-only", network_access: true },
      windowsSandboxLevel: "disabled",
    });
    expect(policy).toEqual({ readable: ["/"], writable: [], denied: [], readOnly: [], network: true });
  });
});

describe("resolveSandbox refusals", () => {
  test("resolveSandbox refuses every policy when no backend exists", async () => {
    const error = await errorOf(
      resolveSandbox(managed([special("root", "read")]), PROCESS, { ...FULL, landlockAbi: 0 }),
    );
    expect(error).toEqual({
      code: -32602,
      message: "sandbox cannot be enforced on this host: landlock unavailable",
    });
  });

  test("resolveSandbox refuses a denial without a mount namespace", async () => {
    const error = await errorOf(resolveSandbox(
      managed([special("root", "write"), pathEntry("file:///srv/app/.env", "deny")]),
      PROCESS,
      { ...FULL, mountNamespace: false },
    ));
    expect(error).toEqual({
      code: -32602,
      message: "sandbox rule deny file:///srv/app/.env cannot be enforced: mount namespace unavailable",
    });
  });

  test("resolveSandbox refuses restricted network without seccomp", async () => {
    const error = await errorOf(resolveSandbox(
      managed([special("root", "write")]),
      PROCESS,
      { ...FULL, seccomp: false },
    ));
    expect(error).toEqual({
      code: -32602,
      message: "sandbox rule network restricted cannot be enforced: seccomp unavailable",
    });
  });

  test("resolveSandbox refuses a read-only root without a mount namespace", async () => {
    const error = await errorOf(resolveSandbox(managed([special("root", "read")]), PROCESS, {
      ...FULL,
      mountNamespace: false,
    }));
    expect(error.message).toBe(
      "sandbox rule read special:root cannot be enforced: mount namespace unavailable",
    );
  });
});

describe("parseSandbox", () => {
  function messageOf(value: unknown): string {
    try {
      parseSandbox(value);
    } catch (error) {
      if (error instanceof RpcError) return error.message;
      throw error;
    }
    throw new Error("expected an RpcError");
  }

  test("parseSandbox names the member and accepted values of a bad enum", () => {
    expect(messageOf(managed([], {}, "open"))).toBe(
      'sandbox.permissions.network: expected one of "restricted", "enabled"',
    );
  });

  test("parseSandbox names an unknown type", () => {
    expect(messageOf({ permissions: { type: "weird" }, windowsSandboxLevel: "disabled" })).toBe(
      'sandbox.permissions.type: expected one of "managed", "disabled", "external"',
    );
    expect(messageOf({ sandboxPolicy: { type: "weird" }, windowsSandboxLevel: "disabled" })).toBe(
      'sandbox.sandboxPolicy.type: expected one of "read-only", "workspace-write", "danger-full-access", "external-sandbox"',
    );
  });

  test("parseSandbox names a bad entry access", () => {
    expect(messageOf(managed([pathEntry("/x", "execute")]))).toBe(
      'sandbox.permissions.file_system.entries.0.access: expected one of "read", "write", "deny", "none"',
    );
  });

  test("parseSandbox refuses both forms and neither", () => {
    expect(messageOf({
      permissions: { type: "disabled" },
      sandboxPolicy: { type: "danger-full-access" },
      windowsSandboxLevel: "disabled",
    })).toBe("sandbox: expected exactly one of permissions and sandboxPolicy, got both");
    expect(messageOf({ windowsSandboxLevel: "disabled" })).toBe(
      "sandbox: expected exactly one of permissions and sandboxPolicy, got neither",
    );
  });

  test("parseSandbox requires windowsSandboxLevel and refuses mxc in the legacy form", () => {
    expect(messageOf({ permissions: { type: "disabled" } })).toBe("sandbox.windowsSandboxLevel: required");
    expect(messageOf({ sandboxPolicy: { type: "danger-full-access" }, windowsSandboxLevel: "mxc" })).toBe(
      'sandbox.windowsSandboxLevel: expected one of "disabled", "restricted-token", "elevated"',
    );
  });

  test("parseSandbox refuses non-null additionalPermissions", () => {
    expect(messageOf({
      sandboxPolicy: { type: "danger-full-access" },
      windowsSandboxLevel: "disabled",
      additionalPermissions: { x: 1 },
    })).toBe("sandbox.additionalPermissions: expected null, got object");
  });

  test("parseSandbox strips unknown members", () => {
    expect(
      parseSandbox({ permissions: { type: "disabled", extra: 1 }, windowsSandboxLevel: "disabled", more: 2 }),
    )
      .toEqual({ permissions: { type: "disabled" }, windowsSandboxLevel: "disabled" });
  });

  test("resolveSandbox reports a bad path with its field", async () => {
    const error = await errorOf(resolveSandbox(managed([pathEntry("rel/dir", "read")]), PROCESS, FULL));
    expect(error.message).toBe(
      'sandbox.permissions.file_system.entries.0.path.path must be an absolute path or file URI, got "rel/dir"',
    );
  });
});

describe("policy keys", () => {
  test("policyKey ignores order", () => {
    const a: Policy = { readable: ["/a", "/b"], writable: ["/c"], denied: [], readOnly: [], network: false };
    const b: Policy = { readable: ["/b", "/a"], writable: ["/c"], denied: [], readOnly: [], network: false };
    expect(policyKey(a)).toBe(policyKey(b));
    expect(policyKey(a)).not.toBe(policyKey({ ...a, network: true }));
  });

  test("networkOffPolicy gives the whole file system without network", async () => {
    const resolved = await networkOffPolicy(FULL);
    expect(resolved.kind).toBe("enforced");
    if (resolved.kind === "enforced") {
      expect(resolved.policy).toEqual({
        readable: ["/"],
        writable: ["/"],
        denied: [],
        readOnly: [],
        network: false,
      });
    }
  });

  test("networkOffPolicy is refused without seccomp", async () => {
    await expect(networkOffPolicy({ ...FULL, seccomp: false })).rejects.toThrow(
      "sandbox rule network restricted cannot be enforced: seccomp unavailable",
    );
  });
});
