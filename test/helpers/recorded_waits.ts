/**
 * The connection-turn and large-reply-slot waits a reply takes (`src/server/`), as stand-ins that
 * let it go on at once and push "turn" or "slot" into `events`, so a test reads which waits it took
 * and in what order beside its own events.
 */
export function recordedWaits(events: string[]): { turn: () => Promise<void>; slot: () => Promise<void> } {
  return {
    turn: () => {
      events.push("turn");
      return Promise.resolve();
    },
    slot: () => {
      events.push("slot");
      return Promise.resolve();
    },
  };
}
