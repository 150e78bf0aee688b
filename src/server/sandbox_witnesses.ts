/**
 * Mount namespaces whose mount table showed a sandbox's root, each by the task (`<pid>` or
 * `<pid>/task/<tid>`) whose table showed it: the peer check (`socketHolders`) reads a namespace's
 * table only while it knows no live witness of it.
 *
 * A sandbox's namespace stays one (code inside cannot unmount its root), and it lives as long as a
 * task is in it: while its witness is still seen in it, the namespace is the same and its table
 * need not be read again. Reading the tables of the host's sandboxes was most of a connection's
 * peer check on a busy host (0.6–4.3 ms for six namespaces on Deno). Only that verdict is kept: a
 * namespace that is not a sandbox's may become one (a launcher unshares first and mounts the
 * sandbox's root after), and one none of whose tables could be read counts as a sandbox's for that
 * look only. A witness that ended and whose pid came back in a new namespace that took the old
 * one's number could at worst have a namespace taken for a sandbox's: a refusal, never a pass.
 */
export class SandboxWitnesses {
  readonly #witnesses = new Map<string, string>();

  /** Whether `namespace` is a sandbox's by a witness among `tasks`, the tasks seen in it just now. */
  known(namespace: string, tasks: readonly string[]): boolean {
    const witness = this.#witnesses.get(namespace);
    return witness !== undefined && tasks.includes(witness);
  }

  /** Records what the table of `readFrom` (null: none could be read) said of `namespace`. */
  record(namespace: string, sandbox: boolean, readFrom: string | null): void {
    if (sandbox && readFrom !== null) this.#witnesses.set(namespace, readFrom);
    else this.#witnesses.delete(namespace);
  }

  /** Forgets the namespaces a whole look did not see (`seen` says which it did). */
  keepOnly(seen: (namespace: string) => boolean): void {
    for (const namespace of this.#witnesses.keys()) {
      if (!seen(namespace)) this.#witnesses.delete(namespace);
    }
  }

  /** How many namespaces are known. */
  get size(): number {
    return this.#witnesses.size;
  }
}
