import type { HostFeatures } from "../../src/sandbox/mod.ts";

/** A host with every sandbox layer this server uses (Landlock ABI 7), root's way: no user namespace. */
export function fullHostFeatures(overrides: Partial<HostFeatures> = {}): HostFeatures {
  return Object.freeze({
    landlockAbi: 7,
    userNamespace: false,
    mountNamespace: true,
    ipcNamespace: true,
    seccomp: true,
    noNewPrivs: true,
    bubblewrap: null,
    userNamespaceHelper: null,
    probeError: null,
    ...overrides,
  });
}
