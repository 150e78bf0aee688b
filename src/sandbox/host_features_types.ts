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
  /** A seccomp filter can be installed. */
  readonly seccomp: boolean;
  /** `PR_SET_NO_NEW_PRIVS` can be set. */
  readonly noNewPrivs: boolean;
  /** Absolute path of `bwrap` on PATH, or null. */
  readonly bubblewrap: string | null;
  /** Why the probe could not run, when it could not. */
  readonly probeError: string | null;
}

/** A host with no sandbox layer at all (non-Linux, or a failed probe). */
export const NO_HOST_FEATURES: HostFeatures = Object.freeze({
  landlockAbi: 0,
  userNamespace: false,
  mountNamespace: false,
  seccomp: false,
  noNewPrivs: false,
  bubblewrap: null,
  probeError: null,
});

/** Why the native launcher cannot run on this host, or null when it can. */
export function nativeBackendProblem(features: HostFeatures): string | null {
  if (features.probeError !== null) return features.probeError;
  if (features.landlockAbi < 1) return "landlock unavailable";
  if (!features.noNewPrivs) return "no_new_privs unavailable";
  return null;
}
