import { expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

const ROOT = join(import.meta.dir, "..", "..");
const PackageJsonSchema = z.object({
  bin: z.object({ "exec-server": z.string() }),
  exports: z.object({
    ".": z.object({ types: z.string(), default: z.string() }),
    "./client": z.object({ types: z.string(), default: z.string() }),
  }),
  files: z.array(z.string()),
  scripts: z.record(z.string(), z.string()),
  allowScripts: z.record(z.string(), z.boolean()),
  dependencies: z.record(z.string(), z.string()).optional(),
  devDependencies: z.record(z.string(), z.string()),
});
const TypesConfigSchema = z.object({
  compilerOptions: z.object({ rootDir: z.string(), outDir: z.string() }),
  files: z.array(z.string()),
});
const LockSchema = z.object({
  packages: z.record(z.string(), z.object({ hasInstallScript: z.boolean().optional() })),
});
const pkg = PackageJsonSchema.parse(JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")));
const typesConfig = TypesConfigSchema.parse(
  JSON.parse(await readFile(join(ROOT, "tsconfig.types.json"), "utf8")),
);
const lock = LockSchema.parse(JSON.parse(await readFile(join(ROOT, "package-lock.json"), "utf8")));

test("allowScripts names, by name alone, every locked package that has install scripts", () => {
  // npm matches a pinned key (bun@1.4.5) against the lockfile's resolved URL, which this lockfile
  // omits, so only name keys allow anything here.
  const withScripts = Object.entries(lock.packages)
    .filter(([, entry]) => entry.hasInstallScript === true)
    .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
  expect(withScripts.sort()).toEqual(["bun", "deno"]);
  expect(pkg.allowScripts).toEqual({ bun: true, deno: true });
});

test("bin and exports name what the build writes, and files ship them", () => {
  const build = pkg.scripts["build"] ?? "";
  const bundle = /--outfile\s+(\S+)/.exec(build)?.[1] ?? "no --outfile";
  const types = /\bcp\s+\S+\s+(\S+)/.exec(build)?.[1] ?? "no declarations copied";
  expect([pkg.bin["exec-server"], pkg.exports["."].default, pkg.exports["."].types])
    .toEqual([bundle, `./${bundle}`, `./${types}`]);
  expect(pkg.files).toEqual(expect.arrayContaining([bundle, types]));
  expect(pkg.scripts["prepack"]).toBe("npm run build");
  expect(build).toContain("npm run build:client");
  expect(build).toContain("npm run build:types");
});

test("the ./client export names the client bundle and the declarations tsc writes for it", () => {
  const clientBundle = /--outfile\s+(\S+)/.exec(pkg.scripts["build:client"] ?? "")?.[1] ?? "no --outfile";
  const { rootDir, outDir } = typesConfig.compilerOptions;
  const entries = typesConfig.files.map((file) =>
    `./${outDir}/${file.slice(rootDir.length + 1).replace(/\.ts$/, ".d.ts")}`
  );
  expect(pkg.scripts["build:types"]).toBe("tsc -p tsconfig.types.json");
  expect(entries).toEqual([pkg.exports["./client"].types]);
  expect(pkg.exports["./client"].default).toBe(`./${clientBundle}`);
  expect(pkg.files).toEqual(expect.arrayContaining([clientBundle, `${outDir}/client`]));
});

test("zod is the one dependency, at the version the checkout builds with: the declarations use it", () => {
  expect(pkg.dependencies).toEqual({ zod: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
  expect(pkg.devDependencies["zod"]).toBeUndefined();
  expect(pkg.devDependencies["hono"]).toBeDefined();
});
