export {
  classifyMessage,
  decodeUtf8,
  errorFrame,
  isRequestId,
  notificationFrame,
  resultFrame,
  withKnownJson,
} from "./framing.ts";
export type { Incoming, RequestId } from "./framing.ts";
export { formatIssues, parseParams, toWireError } from "./dispatch.ts";
export type { ErrorLog } from "./dispatch.ts";
