/**
 * The internal sandbox policy of PROTOCOL.md §8.2 and the context it is resolved in.
 */
import type { WrittenAreas } from "./written_areas.ts";

/** The one policy both wire forms reduce to; every path is a normalized native absolute path. */
export interface Policy {
  /** Roots readable (and executable) recursively. */
  readonly readable: readonly string[];
  /** Roots writable and readable recursively. */
  readonly writable: readonly string[];
  /** Paths neither readable nor writable, inside the roots above. */
  readonly denied: readonly string[];
  /** Paths kept read-only inside writable roots. */
  readonly readOnly: readonly string[];
  /** False: no network sockets at all (AF_UNIX still works). */
  readonly network: boolean;
  /**
   * Areas a sandbox of this server could write (`WrittenAreas`) when this policy was launched: the
   * launcher refuses to look a root up through a symlink inside one.
   */
  readonly noLinksIn?: readonly string[];
}

/**
 * What the server protects in every policy, each by its real path (every link resolved): the
 * sandbox compares them with its roots by where those lead on the host, not by their text.
 */
export interface ServerFiles {
  /**
   * The server's own files (runtime, program or bundles, state directory): read-only in every
   * sandbox whose writable roots hold them, since the launcher runs them before it is confined.
   */
  readonly ownFiles?: readonly string[];
  /** Files no sandbox may read (the token file): denied wherever a root would show them. */
  readonly secretFiles?: readonly string[];
  /** The writable roots this server's sandboxes were given: no later root is found through a link there. */
  readonly writtenAreas?: WrittenAreas;
  /**
   * The places where servers make their state directories (`state_dir.ts`): every state
   * directory found there is read-only in every sandbox whose writable roots hold it.
   */
  readonly stateDirBases?: readonly string[];
}

/** Where a sandbox object is resolved. */
export interface SandboxContext extends ServerFiles {
  /** The process cwd for `process/start`, the server's cwd for fs methods. */
  readonly cwd: string;
  /** The server's environment (for `$TMPDIR`). */
  readonly env: Readonly<Record<string, string>>;
  /** `forceOff` (fs worker): the policy never grants network, whatever the request says. */
  readonly network: "forceOff" | "asPolicy";
}

/** The outcome of resolving a sandbox object. */
export type SandboxResolution =
  | { readonly kind: "none" }
  | {
    readonly kind: "enforced";
    readonly policy: Policy;
    /** Stable identity of the policy: equal policies give equal keys. */
    readonly key: string;
  };
