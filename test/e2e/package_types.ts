/**
 * A compile-time check, run by `tsc --noEmit`: the declarations shipped as the package's types
 * describe exactly what `mod.ts` exports.
 */
type Declared = typeof import("../../src/exec_server.d.ts");
type Source = typeof import("../../mod.ts");
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** True only while the two agree in both directions. */
export const declarationsMatchSource: Same<Declared, Source> = true;
