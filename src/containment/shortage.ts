/**
 * A moment's shortage of descriptors or memory, which a kill waits out rather than give up: a
 * client can use up the server's descriptors on purpose (connections, pipes), and a kill or a walk
 * of /proc that failed then once left processes alive past their session.
 */
import { errnoOf } from "../fs/mod.ts";

/** Errors that a later try may not meet. */
const SHORTAGES: ReadonlySet<string> = new Set(["EMFILE", "ENFILE", "ENOMEM", "EAGAIN", "EINTR"]);
/** Between two tries. */
const RETRY_MS = 100;

/** Whether `error` is a shortage of descriptors or memory. */
export function isShortage(error: unknown): boolean {
  return SHORTAGES.has(errnoOf(error) ?? "");
}

/** Runs `operation` until it succeeds or fails for another reason than a shortage, which it throws. */
export async function outlastingShortage<T>(operation: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (!isShortage(error)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}
