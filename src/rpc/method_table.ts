import type { z } from "zod";
import { parseParams } from "./dispatch.ts";

/** One method's wire shapes: the schema its params are parsed with and the schema of its result. */
export interface MethodShape {
  readonly params: z.ZodType;
  readonly result: z.ZodType;
}

/** A table of methods by name; `src/protocol` holds the wire's, the fs worker its own. */
export type MethodShapes = Readonly<Record<string, MethodShape>>;

/** The params a handler of `M` receives, after parsing. */
export type ParamsOf<T extends MethodShapes, M extends keyof T> = z.output<T[M]["params"]>;
/** The params a caller of `M` may send, before parsing. */
export type ParamsInputOf<T extends MethodShapes, M extends keyof T> = z.input<T[M]["params"]>;
/** The result of `M`. */
export type ResultOf<T extends MethodShapes, M extends keyof T> = z.output<T[M]["result"]>;

/** One handler per method of `T`; each sees its parsed params and the request's context. */
export type Handlers<T extends MethodShapes, C> = {
  readonly [M in keyof T]: (params: ParamsOf<T, M>, context: C) => ResultOf<T, M> | Promise<ResultOf<T, M>>;
};

/** A method bound to its handler: what the engine dispatches to. */
export interface Route<C, S extends MethodShape = MethodShape> {
  readonly method: string;
  /** The table row, for checks that precede the params (the server's handshake family). */
  readonly spec: S;
  /** Parses `params` with the row's schema (-32602 on a mismatch), then runs the handler. */
  run(params: unknown, context: C): unknown;
}

/** The routes of a method table, by name. */
export type Routes<C, S extends MethodShape = MethodShape> = ReadonlyMap<string, Route<C, S>>;

/**
 * Binds the rows of `shapes` that `handlers` serves (all of them, or a part such as the process
 * methods) to their handlers. The mapped types keep each handler's params and result tied to its
 * own row, so a method is added by one row and one handler, without casts.
 */
export function bindHandlers<T extends MethodShapes, K extends keyof T & string, C>(
  shapes: T,
  handlers: Handlers<Pick<T, K>, C>,
): Routes<C, T[K]> {
  const routes = new Map<string, Route<C, T[K]>>();
  // Object.keys widens to string[]; these are exactly the keys of `handlers`.
  for (const method of Object.keys(handlers) as K[]) {
    routes.set(method, bindOne<Pick<T, K>, C, K>(method, shapes[method], handlers[method]));
  }
  return routes;
}

function bindOne<T extends MethodShapes, C, M extends keyof T & string>(
  method: M,
  spec: T[M],
  handler: Handlers<T, C>[M],
): Route<C, T[M]> {
  return {
    method,
    spec,
    run: (params, context) => handler(parseParams<T[M]["params"]>(method, spec.params, params), context),
  };
}

/**
 * The same handlers seen from a wider context: each one gets `derive(context)`. The server runs
 * the process and fs tables this way, with the session's table and the connection's fs side.
 */
export function withContext<T extends MethodShapes, C, D>(
  handlers: Handlers<T, D>,
  derive: (context: C) => D,
): Handlers<T, C> {
  const wrapped: Record<string, (params: never, context: C) => unknown> = {};
  for (const [method, handler] of Object.entries<(params: never, context: D) => unknown>(handlers)) {
    wrapped[method] = (params, context) => handler(params, derive(context));
  }
  // Every handler of `handlers` is wrapped under its own name with its own params and result, so
  // the record has the shape of Handlers<T, C>.
  return wrapped as Handlers<T, C>;
}
