import { describe, expect, test } from "bun:test";
import { environmentManager } from "../../mod.ts";
import {
  chooseEnvironment,
  ClientError,
  EnvironmentManager,
  RemoteEnvironment,
} from "../../src/client/mod.ts";
import type { EnvironmentChoice } from "../../src/client/mod.ts";
import { sharedServer } from "../helpers/shared_server.ts";
import { startTcpProxy } from "../helpers/tcp_proxy.ts";
import { rejectionOf } from "../helpers/rejection.ts";

const CHOICES: Array<[string, Record<string, string>, EnvironmentChoice]> = [
  ["unset", {}, { kind: "local" }],
  ["empty", { EXEC_SERVER_URL: " " }, { kind: "local" }],
  ["none", { EXEC_SERVER_URL: "none" }, { kind: "disabled", variable: "EXEC_SERVER_URL" }],
  ["a ws URL", { EXEC_SERVER_URL: "ws://h:1" }, {
    kind: "remote",
    variable: "EXEC_SERVER_URL",
    url: "ws://h:1",
  }],
  ["a wss URL", { EXEC_SERVER_URL: "wss://h/x" }, {
    kind: "remote",
    variable: "EXEC_SERVER_URL",
    url: "wss://h/x",
  }],
  [
    "the alias alone",
    { CODEX_EXEC_SERVER_URL: "ws://alias:2" },
    { kind: "remote", variable: "CODEX_EXEC_SERVER_URL", url: "ws://alias:2" },
  ],
  [
    "both, where EXEC_SERVER_URL wins",
    { EXEC_SERVER_URL: "none", CODEX_EXEC_SERVER_URL: "ws://alias:2" },
    { kind: "disabled", variable: "EXEC_SERVER_URL" },
  ],
];

describe("chooseEnvironment", () => {
  test.each(CHOICES)("chooseEnvironment reads %s", (_name, env, choice) => {
    expect(chooseEnvironment(env)).toEqual(choice);
  });

  test.each([
    ["EXEC_SERVER_URL", "garbage"],
    ["EXEC_SERVER_URL", "http://h:1"],
    ["CODEX_EXEC_SERVER_URL", "ws//missing-colon"],
  ])("chooseEnvironment refuses %s=%s, naming the variable", (variable, value) => {
    expect(() => chooseEnvironment({ [variable]: value })).toThrow(
      `${variable} must be unset, "none", or a ws:// or wss:// URL, got ${JSON.stringify(value)}`,
    );
  });
});

describe("EnvironmentManager", () => {
  const server = sharedServer("bun");

  test("EnvironmentManager fails at creation for a bad value", () => {
    expect(() => new EnvironmentManager({ env: { EXEC_SERVER_URL: "ftp://x" } })).toThrow(/EXEC_SERVER_URL/);
  });

  test("EnvironmentManager gives a disabled environment for none, whose calls reject clearly", async () => {
    await using manager = new EnvironmentManager({ env: { EXEC_SERVER_URL: "none" } });
    const env = await manager.environment();
    expect({ kind: env.kind, capabilities: env.capabilities }).toEqual({
      kind: "disabled",
      capabilities: { exec: false, fs: false },
    });
    const exec = await rejectionOf(env.exec.start({ argv: ["true"], cwd: "/" }));
    expect(exec).toBeInstanceOf(ClientError);
    expect(exec).toMatchObject({
      reason: "disabled",
      message: 'exec is disabled: EXEC_SERVER_URL is "none"',
    });
    expect(await rejectionOf(env.fs.getMetadata({ path: "/" }))).toMatchObject({
      reason: "disabled",
      message: 'fs is disabled: EXEC_SERVER_URL is "none"',
    });
  });

  test("EnvironmentManager connects to the server a ws URL names, once", async () => {
    await using manager = new EnvironmentManager({ env: { CODEX_EXEC_SERVER_URL: server().url } });
    const env = await manager.environment();
    expect({ kind: env.kind, capabilities: env.capabilities }).toEqual({
      kind: "remote",
      capabilities: { exec: true, fs: true },
    });
    expect(await manager.environment()).toBe(env);
    expect((await env.fs.getMetadata({ path: "/" })).isDirectory).toBe(true);
  });

  test("EnvironmentManager replaces an environment whose session was lost for good with a new one", async () => {
    await using proxy = await startTcpProxy(server().url);
    await using manager = new EnvironmentManager({
      env: { EXEC_SERVER_URL: proxy.url },
      client: { reconnectTimeoutMs: 200 },
    });
    const lost = await manager.environment();
    if (!(lost instanceof RemoteEnvironment)) throw new Error("expected a remote environment");
    const sessionId = lost.client.sessionId;
    proxy.refuse = true;
    proxy.cut();
    expect(await rejectionOf(lost.exec.list())).toMatchObject({ reason: "sessionLost" });
    proxy.refuse = false;
    const next = await manager.environment();
    expect(next).not.toBe(lost);
    expect(next instanceof RemoteEnvironment && next.client.sessionId !== sessionId).toBe(true);
    expect((await next.fs.getMetadata({ path: "/" })).isDirectory).toBe(true);
    // The lost one keeps failing clearly for whoever still holds it.
    expect(await rejectionOf(lost.fs.getMetadata({ path: "/" }))).toMatchObject({ reason: "sessionLost" });
  });

  test("EnvironmentManager replaces an environment its user closed", async () => {
    await using manager = new EnvironmentManager({ env: { EXEC_SERVER_URL: server().url } });
    const closed = await manager.environment();
    await closed.close();
    const next = await manager.environment();
    expect(next).not.toBe(closed);
    expect((await next.fs.getMetadata({ path: "/" })).isDirectory).toBe(true);
  });

  test("EnvironmentManager of the runtime-neutral client has no Local environment to give", async () => {
    await using manager = new EnvironmentManager({ env: {} });
    expect(await rejectionOf(manager.environment())).toMatchObject({ reason: "disabled" });
  });

  test("environmentManager of the main entry gives the Local environment when the variable is unset", async () => {
    await using manager = await environmentManager({ env: {} });
    const env = await manager.environment();
    expect(env.kind).toBe("local");
    await using proc = await env.exec.start({ argv: ["true"], cwd: "/" });
    const types: string[] = [];
    for await (const event of proc.events) types.push(event.type);
    expect(types).toEqual(["exited", "closed"]);
  });
});
