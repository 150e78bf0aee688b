/**
 * What the host offers for sandboxing, detected once at start-up.
 */

/** The sandbox layers this host can apply; frozen after detection. */
export interface HostFeatures {
  /** Landlock ABI version; 0 = no Landlock. */
  readonly landlockAbi: number;
  /** A user namespace can be created by the launcher. */
  readonly userNamespace: boolean;
  /** The launcher can build a private mount namespace (with a user namespace when not root). */
  readonly mountNamespace: boolean;
  /**
   * The launcher can give the sandbox an IPC namespace of its own; without one, seccomp denies
   * SysV IPC and POSIX message queues.
   */
  readonly ipcNamespace: boolean;
  /** A seccomp filter can be installed. */
  readonly seccomp: boolean;
  /** `PR_SET_NO_NEW_PRIVS` can be set. */
  readonly noNewPrivs: boolean;
  /** Absolute path of `bwrap` on PATH, or null. */
  readonly bubblewrap: string | null;
  /**
   * For a non-root server: the argv prefix that starts the launcher in a user namespace of its
   * own (util-linux `unshare`, single-threaded, which a runtime cannot be); null for root.
   */
  readonly userNamespaceHelper: readonly string[] | null;
  /** Why the probe could not run, when it could not. */
  readonly probeError: string | null;
}

/** A host with no sandbox layer at all (non-Linux, or a failed probe). */
export const NO_HOST_FEATURES: HostFeatures = Object.freeze({
  landlockAbi: 0,
  userNamespace: false,
  mountNamespace: false,
  ipcNamespace: false,
  seccomp: false,
  noNewPrivs: false,
  bubblewrap: null,
  userNamespaceHelper: null,
  probeError: null,
});

/** The Landlock ABI that scopes signals and abstract unix sockets to the sandbox. */
export const SCOPING_LANDLOCK_ABI = 6;

/** Why the native launcher cannot run on this host, or null when it can. */
export function nativeBackendProblem(features: HostFeatures): string | null {
  if (features.probeError !== null) return features.probeError;
  if (features.landlockAbi < 1) return "landlock unavailable";
  // Below ABI 6 a sandboxed process could signal any process of its uid (or, as root with
  // CAP_KILL, any process) and reach abstract unix sockets of the host: refused, not weakened.
  if (features.landlockAbi < SCOPING_LANDLOCK_ABI) {
    return `landlock ABI ${features.landlockAbi} cannot scope signals and abstract unix sockets (needs ${SCOPING_LANDLOCK_ABI}, Linux 6.12)`;
  }
  if (!features.noNewPrivs) return "no_new_privs unavailable";
  return null;
}
