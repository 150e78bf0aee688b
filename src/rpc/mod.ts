export {
  binaryFrame,
  classifyMessage,
  classifyValue,
  decodeUtf8,
  errorFrame,
  FRAME_HEADROOM,
  isRequestId,
  knownJsonOf,
  notificationFrame,
  notificationJsonFrame,
  rawBytesOf,
  requestFrame,
  resultFrame,
  splitBinaryFrame,
  withKnownJson,
  withRawBytes,
} from "./framing.ts";
export type { FramePayload, Incoming, RequestId, SplitFrame } from "./framing.ts";
export { formatIssues, parseParams, toWireError } from "./dispatch.ts";
export type { ErrorLog } from "./dispatch.ts";
export { bindHandlers, withContext } from "./method_table.ts";
export type {
  Handlers,
  MethodShape,
  MethodShapes,
  ParamsInputOf,
  ParamsOf,
  ResultOf,
  Route,
  Routes,
} from "./method_table.ts";
export { InboundCall, RpcPeer } from "./rpc_peer.ts";
export { RequestTooLarge } from "./request_too_large.ts";
export type { RpcPeerOptions, RpcServe, RpcTransport } from "./rpc_peer.ts";
