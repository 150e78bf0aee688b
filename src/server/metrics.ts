/** Counters and gauges served at `/metrics` in Prometheus text format; labels stay bounded. */
export class Metrics {
  connectionsOpened = 0;
  connectionsClosed = 0;
  /** Connections dropped over the outbound cap (§5.12). */
  connectionsCutOff = 0;
  messagesReceived = 0;
  requests = 0;
  /** Error replies by JSON-RPC code: a closed, small set of labels. */
  readonly errorsByCode = new Map<number, number>();
  readonly #gauges: () => Record<string, number>;

  constructor(gauges: () => Record<string, number>) {
    this.#gauges = gauges;
  }

  /** Counts one answered request; `errorCode` is null for a result. */
  countReply(errorCode: number | null): void {
    this.requests++;
    if (errorCode !== null) this.errorsByCode.set(errorCode, (this.errorsByCode.get(errorCode) ?? 0) + 1);
  }

  /** The exposition text. */
  render(): string {
    const lines = [
      "# TYPE exec_server_connections_opened_total counter",
      `exec_server_connections_opened_total ${this.connectionsOpened}`,
      "# TYPE exec_server_connections_closed_total counter",
      `exec_server_connections_closed_total ${this.connectionsClosed}`,
      "# TYPE exec_server_connections_cut_off_total counter",
      `exec_server_connections_cut_off_total ${this.connectionsCutOff}`,
      "# TYPE exec_server_messages_received_total counter",
      `exec_server_messages_received_total ${this.messagesReceived}`,
      "# TYPE exec_server_requests_total counter",
      `exec_server_requests_total ${this.requests}`,
      "# TYPE exec_server_request_errors_total counter",
    ];
    for (const [code, count] of this.errorsByCode) {
      lines.push(`exec_server_request_errors_total{code="${code}"} ${count}`);
    }
    for (const [name, value] of Object.entries(this.#gauges())) {
      lines.push(`# TYPE exec_server_${name} gauge`, `exec_server_${name} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}
