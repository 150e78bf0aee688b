/** Counters and gauges served at `/metrics` in Prometheus text format; labels stay bounded. */
export class Metrics {
  connectionsOpened = 0;
  connectionsClosed = 0;
  messagesReceived = 0;
  readonly #gauges: () => Record<string, number>;

  constructor(gauges: () => Record<string, number>) {
    this.#gauges = gauges;
  }

  /** The exposition text. */
  render(): string {
    const lines = [
      "# TYPE exec_server_connections_opened_total counter",
      `exec_server_connections_opened_total ${this.connectionsOpened}`,
      "# TYPE exec_server_connections_closed_total counter",
      `exec_server_connections_closed_total ${this.connectionsClosed}`,
      "# TYPE exec_server_messages_received_total counter",
      `exec_server_messages_received_total ${this.messagesReceived}`,
    ];
    for (const [name, value] of Object.entries(this.#gauges())) {
      lines.push(`# TYPE exec_server_${name} gauge`, `exec_server_${name} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}
