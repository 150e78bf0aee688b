import { DirectFileSystem } from "../../src/fs/mod.ts";
import { describeFsBehaviour } from "./fs_behaviour.ts";

describeFsBehaviour("DirectFileSystem", (options) => {
  const fsys = new DirectFileSystem(options);
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});

describeFsBehaviour("DirectFileSystem (confined)", (options) => {
  const fsys = new DirectFileSystem({ ...options, confined: true });
  return Promise.resolve(Object.assign(fsys, { [Symbol.asyncDispose]: () => fsys.closeAll() }));
});
