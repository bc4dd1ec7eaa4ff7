// `sqlite-sync-wasm/relay`: the relay as a runtime-agnostic fetch handler (createRelay), its
// tokens (createToken), the store interface with a memory store, and the protocol-v1 codec the
// relay speaks (for adapters and tests). The SQLite store and the Node server are in
// `sqlite-sync-wasm/relay/node`.

export { createRelay, type Relay, type RelayOptions } from "./relay.js";
export { createToken, MAX_TOKEN_SECONDS, CLOCK_SKEW_SECONDS, MIN_SECRET_BYTES, type CreateTokenOptions } from "./token.js";
export { DEFAULT_LIMITS, type RelayLimits } from "./limits.js";
export { createMemoryStore } from "./memory-store.js";
export type { DeviceEntry, PushOutcome, RelayStore, SpaceLog, StoredRecord } from "./store.js";
export { SUBPROTOCOL, BEARER_PREFIX, type RelayPeer, type RelaySession, type SocketOffer } from "./session.js";
export {
  decodeMessage,
  encodeMessage,
  VersionRefusal,
  VERSION,
  VERSIONS,
  MAX_RECORDS,
  MAX_BATCH_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_SPACE_BYTES,
  type Clock,
  type Message,
  type MessageKind,
  type MessageOf,
} from "./messages.js";
export { recordKey, type RecordKey } from "./record.js";
export { SyncError, type SyncErrorCode } from "../errors.js";
