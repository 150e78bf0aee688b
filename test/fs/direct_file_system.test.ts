import { DirectFileSystem } from "../../src/fs/mod.ts";
import { openRootMountStat } from "../../src/runtime/mod.ts";
import { describeFsBehaviour } from "./fs_behaviour.ts";

describeFsBehaviour("DirectFileSystem", (options) => {
  const fsys = new DirectFileSystem(options);
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});

describeFsBehaviour("DirectFileSystem (confined)", (options) => {
  const fsys = new DirectFileSystem({ ...options, confined: true });
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});

// The server's own direct file system answers `fs/getMetadata` of root-mount paths synchronously.
const rootMountStat = await openRootMountStat("bun", process.arch);
describeFsBehaviour("DirectFileSystem (root mount stat)", (options) => {
  const fsys = new DirectFileSystem({ ...options, rootMountStat });
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});
