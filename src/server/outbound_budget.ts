/** A connection as the outbound budget sees it. */
export interface OutboundMember {
  /** Unsent outbound bytes. */
  backlog(): number;
  /** Requests held back for its backlog (`ReplyRoom`, or not yet read while congested). */
  readonly requestsHeld: number;
  /** Drops the connection at once: its unsent data is what the budget gets back. */
  cutOff(reason: string): void;
}

/**
 * The server's cap on unsent outbound data across connections (`--max-outbound-bytes`, PROTOCOL.md
 * §5.12). Each connection is bounded on its own (the output gate, one large reply at a time);
 * this bounds their sum. Over the cap, the connection with the most unsent data, a client that
 * is not reading, is cut off; its session stays, detached, to be resumed (§3.6).
 */
export class OutboundBudget {
  readonly #limitBytes: number;
  readonly #members = new Set<OutboundMember>();

  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  add(member: OutboundMember): void {
    this.#members.add(member);
  }

  remove(member: OutboundMember): void {
    this.#members.delete(member);
  }

  /** Unsent bytes of every connection. */
  total(): number {
    let total = 0;
    for (const member of this.#members) total += member.backlog();
    return total;
  }

  /** Requests of every connection held back for its backlog. */
  held(): number {
    let held = 0;
    for (const member of this.#members) held += member.requestsHeld;
    return held;
  }

  /**
   * Called after a connection's backlog grew past a mark (a large reply sent, its output gate
   * closed), never per message: the sum walks every connection.
   */
  check(): void {
    let total = this.total();
    while (total > this.#limitBytes) {
      let largest: OutboundMember | null = null;
      let largestBytes = 0;
      for (const member of this.#members) {
        const bytes = member.backlog();
        if (bytes > largestBytes) [largest, largestBytes] = [member, bytes];
      }
      if (largest === null) return;
      this.#members.delete(largest);
      largest.cutOff(
        `unsent data of all connections is over the server's limit of ${this.#limitBytes} bytes, ` +
          `and this connection holds ${largestBytes}: the client is not reading`,
      );
      total -= largestBytes;
    }
  }
}
