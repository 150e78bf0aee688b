import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** Debian's chromium: the binary itself, else the launcher script on PATH. */
export const CHROMIUM = ["/usr/lib/chromium/chromium", Bun.which("chromium")].find(
  (path): path is string => typeof path === "string" && existsSync(path),
) ?? null;

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--remote-debugging-port=0",
];

type Message = Record<string, unknown>;

/** A tab. */
export interface Page {
  /** Evaluates `expression` in the page, awaiting the promise it gives; resolves with its value. */
  evaluate(expression: string): Promise<unknown>;
}

/** A headless Chromium driven over the DevTools protocol; disposing kills its process group. */
export interface Chromium extends AsyncDisposable {
  /** Opens `url` in a new tab and waits for its load event. */
  open(url: string): Promise<Page>;
}

/** Starts Chromium with a fresh profile in `profileDir`. */
export async function launchChromium(profileDir: string): Promise<Chromium> {
  if (CHROMIUM === null) throw new Error("chromium is not installed (Debian: apt-get install chromium)");
  const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profileDir}`, "about:blank"], {
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let stderr = "";
    child.stderr?.on("data", (data: Buffer) => {
      stderr += data.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`chromium exited before listening: ${stderr.slice(-2000)}`)));
  });
  const ws = new WebSocket(endpoint);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error("the DevTools socket did not open")), { once: true });
  });
  let nextId = 1;
  const replies = new Map<number, PromiseWithResolvers<Message>>();
  const events: Array<{ method: string; sessionId: unknown; wake: () => void }> = [];
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as Message;
    const id = message["id"];
    if (typeof id === "number") {
      const reply = replies.get(id);
      replies.delete(id);
      if (message["error"] !== undefined) reply?.reject(new Error(JSON.stringify(message["error"])));
      else reply?.resolve((message["result"] ?? {}) as Message);
      return;
    }
    for (
      const waiter of events.filter((w) =>
        w.method === message["method"] && w.sessionId === message["sessionId"]
      )
    ) {
      events.splice(events.indexOf(waiter), 1);
      waiter.wake();
    }
  });
  const send = (method: string, params: Message, sessionId?: string): Promise<Message> => {
    const id = nextId++;
    const reply = Promise.withResolvers<Message>();
    replies.set(id, reply);
    ws.send(
      JSON.stringify(sessionId === undefined ? { id, method, params } : { id, method, params, sessionId }),
    );
    return reply.promise;
  };
  const nextEvent = (method: string, sessionId: string): Promise<void> =>
    new Promise((resolve) => events.push({ method, sessionId, wake: resolve }));
  return {
    async open(url) {
      const { targetId } = await send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
      if (typeof sessionId !== "string") throw new Error("no DevTools session");
      await send("Page.enable", {}, sessionId);
      const loaded = nextEvent("Page.loadEventFired", sessionId);
      await send("Page.navigate", { url }, sessionId);
      await loaded;
      return {
        async evaluate(expression) {
          const evaluation = await send(
            "Runtime.evaluate",
            { expression, awaitPromise: true, returnByValue: true },
            sessionId,
          );
          if (evaluation["exceptionDetails"] !== undefined) {
            throw new Error(`the page threw: ${JSON.stringify(evaluation["exceptionDetails"])}`);
          }
          return (evaluation["result"] as Message | undefined)?.["value"];
        },
      };
    },
    async [Symbol.asyncDispose]() {
      ws.close();
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await exited;
    },
  };
}
