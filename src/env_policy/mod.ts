export { buildChildEnv } from "./env_policy.ts";
