export { buildChildEnv, globToRegExp } from "./env_policy.ts";
