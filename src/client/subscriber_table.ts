import { invalidRequest } from "../protocol/mod.ts";
import type { ClientError } from "./client_error.ts";
import type { ProcessSubscriber } from "./exec_backend.ts";
import type { ProcessNotification } from "./process_notification.ts";

/**
 * Process notifications routed by process id, one subscriber per id: each handle hears its own
 * process and nothing else, and nobody hears a process without a handle.
 */
export class SubscriberTable {
  readonly #subscribers = new Map<string, ProcessSubscriber>();

  /** Routes `processId` to `subscriber`; -32600 ProcessExists while another one holds the id. */
  subscribe(processId: string, subscriber: ProcessSubscriber): () => void {
    if (this.#subscribers.has(processId)) {
      throw invalidRequest("ProcessExists", `process ${processId} already exists`);
    }
    this.#subscribers.set(processId, subscriber);
    return () => {
      if (this.#subscribers.get(processId) === subscriber) this.#subscribers.delete(processId);
    };
  }

  /** Hands a notification to its process's subscriber, if any. */
  deliver(notification: ProcessNotification): void {
    this.#subscribers.get(notification.params.processId)?.notification(notification);
  }

  /** Every subscriber may have missed notifications (the session was resumed). */
  resumed(): void {
    for (const subscriber of [...this.#subscribers.values()]) subscriber.resumed();
  }

  /** The session is gone: tells every subscriber and forgets them. */
  lost(error: ClientError): void {
    const subscribers = [...this.#subscribers.values()];
    this.#subscribers.clear();
    for (const subscriber of subscribers) subscriber.lost(error);
  }
}
