// The messages between a page, its package worker (js/worker/host.ts) and the other tabs'
// workers, and the helpers both sides share: errors as plain data and the list of buffers to
// transfer.
//
// Invariants: every request carries an id unique within its sender; every response names the
// request it answers; an error crosses as a `WireError` and becomes a `SyncError` again with the
// same code, message, `retryable`, `sqliteCode` and `retryAfterMs`.

import { SyncError, toSyncError, type SyncErrorCode, type SyncErrorOptions } from "../errors.js";
import type { Database } from "../api.js";
import type { LoopOptions } from "../sync/loop.js";
import type { TransportSpec } from "../sync/transports.js";
import type { ChangeEvent, ExecResult, Params, RoundResult, Row, SyncProgress, SyncStatus } from "../types.js";

/**
 * Members of `Database` the page keeps for itself: its id, what runs callbacks there (transaction
 * bodies, conflict resolvers, change listeners) and its own closing.
 */
type OnThePage = "deviceId" | "transaction" | "setConflictResolver" | "onChange" | "close" | typeof Symbol.asyncDispose;

/** The `Database` methods the worker runs for the page, with the arguments and results the interface declares. */
export type ForwardedMethod = Exclude<keyof Database, OnThePage>;

/**
 * The arguments of every call a worker serves, by method (the model is how @sqlite.org/sqlite-wasm
 * types its worker messages): the forwarded `Database` methods take what the interface declares
 * (checked copies, js/args.ts), the steps of a connection and of a transaction take their own.
 */
export type ArgsMap = { [M in ForwardedMethod]: Parameters<Database[M]> } & {
  /** Opens the connection's database. */
  open: [];
  /** Ends the connection (the database closes with its last connection). */
  close: [];
  /** Opens a transaction whose callback runs on the page; answers with its id. */
  begin: [];
  txExec: [tx: string, sql: string, params: Params | undefined];
  txQuery: [tx: string, sql: string, params: Params | undefined];
  /** Commits (`commit`) or rolls back the transaction `tx`. */
  end: [tx: string, commit: boolean];
  /** Starts the sync loop `sync` on the database, its transport made from `spec`; answers with its status. */
  syncStart: [sync: string, spec: TransportSpec, loop: LoopOptions];
  /** `Sync.syncNow()` of the loop `sync`. */
  syncNow: [sync: string];
  /** `Sync.stop()` of the loop `sync` (answered once it has stopped; a loop unknown here is stopped). */
  syncStop: [sync: string];
  /** The page's answer to the token request `ask` of the loop `sync`: a token, or the error its function threw. */
  syncToken: [sync: string, ask: number, token: string | null, error: WireError | null];
};

/** What each call answers, by method. */
export type ResultMap = { [M in ForwardedMethod]: Awaited<ReturnType<Database[M]>> } & {
  /** The database's device id. */
  open: string;
  close: undefined;
  /** The transaction's id. */
  begin: string;
  txExec: ExecResult;
  txQuery: Row[];
  end: undefined;
  syncStart: WireStatus;
  syncNow: RoundResult;
  syncStop: undefined;
  syncToken: undefined;
};

/** Every call a worker serves. */
export type Method = keyof ArgsMap;

/** A call of `M` on one database: `conn` is the caller's connection, `name` the database it opened. */
export interface Call<M extends Method> {
  kind: "req";
  /** Unique per sending worker. */
  id: number;
  /** The sending worker (where the response goes). */
  from: string;
  conn: string;
  name: string;
  method: M;
  args: ArgsMap[M];
}

/** A call of any method (a union, so that checking `method` tells the type of `args`). */
export type Request = { [M in Method]: Call<M> }[Method];

/** A `SyncError` as plain, cloneable data. */
export interface WireError {
  code: SyncErrorCode;
  message: string;
  retryable: boolean;
  sqliteCode?: number;
  retryAfterMs?: number;
  /** Set when the holder of the database went away and the call may be safely repeated. */
  lost?: boolean;
}

/** The answer to one request. */
export type Response =
  | { kind: "res"; to: string; id: number; ok: true; value: unknown }
  | { kind: "res"; to: string; id: number; ok: false; error: WireError };

/** A committed change, announced by the worker holding the database to every tab. */
export interface ChangeNotice {
  kind: "change";
  /** The worker whose client made the change. */
  origin: string;
  database: string;
  change: ChangeEvent["kind"];
}

/** A sync loop's status as plain data (its error as a `WireError`). */
export type WireStatus = Omit<SyncStatus, "lastError"> & { lastError: WireError | null };

/** What a sync loop in the holder tells the page that started it. */
export type SyncEventData =
  | { type: "status"; status: WireStatus }
  | { type: "progress"; progress: SyncProgress }
  /** A round ended well: the page runs its conflict resolvers for `newConflicts`. */
  | { type: "round"; newConflicts: string[] }
  /** The transport needs a token: the page answers with a `syncToken` call. */
  | { type: "token"; ask: number };

/** An event of the sync loop `sync` for the page whose worker is `to`. */
export interface SyncNotice {
  kind: "sync";
  to: string;
  sync: string;
  event: SyncEventData;
}

/** Sent by a worker that has just become the holder: callers waiting on the old one ask again. */
export interface LeaderNotice {
  kind: "leader";
  id: string;
}

/** Everything sent on the shared BroadcastChannel. */
export type ChannelMessage = Request | Response | ChangeNotice | LeaderNotice | SyncNotice;

/** The BroadcastChannel every package worker of an origin joins. */
export const CHANNEL = "sqlite-sync-wasm:opfs";
/** The Web Lock whose holder owns the OPFS access handles. */
export const POOL_LOCK = "sqlite-sync-wasm:opfs-pool";
/** The Web Lock a worker holds for its whole life, so that others notice when it is gone. */
export const aliveLock = (worker: string): string => `sqlite-sync-wasm:alive:${worker}`;

/** Converts anything thrown into its wire form. */
export function toWire(e: unknown): WireError {
  const error = toSyncError(e);
  const wire: WireError = { code: error.code, message: error.message, retryable: error.retryable };
  if (error.sqliteCode !== undefined) wire.sqliteCode = error.sqliteCode;
  if (error.retryAfterMs !== undefined) wire.retryAfterMs = error.retryAfterMs;
  if ((e as { lost?: unknown } | undefined)?.lost === true) wire.lost = true;
  return wire;
}

/** Rebuilds the `SyncError` a wire error describes. */
export function fromWire(wire: WireError): SyncError {
  const options: SyncErrorOptions = { retryable: wire.retryable };
  if (wire.sqliteCode !== undefined) options.sqliteCode = wire.sqliteCode;
  if (wire.retryAfterMs !== undefined) options.retryAfterMs = wire.retryAfterMs;
  const error = new SyncError(wire.code, wire.message, options);
  if (wire.lost === true) Object.defineProperty(error, "lost", { value: true });
  return error;
}

/** The error for calls whose holder went away before answering; the caller may repeat them. */
export function lostError(message: string): SyncError {
  const error = new SyncError("ERR_BUSY", message, { retryable: true });
  Object.defineProperty(error, "lost", { value: true });
  return error;
}

/** Whether `e` is a {@link lostError}. */
export function isLost(e: unknown): boolean {
  return (e as { lost?: unknown } | null)?.lost === true;
}

/**
 * The buffers of the `Uint8Array`s inside `value` (results are fresh arrays from wasm) that can be
 * moved instead of copied: each must be the whole of its buffer, and each buffer is listed once.
 */
export function transferables(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== "object" || depth > 6) return;
    if (v instanceof Uint8Array) {
      const buffer = v.buffer;
      if (buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === buffer.byteLength) {
        found.add(buffer);
      }
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) walk(item, depth + 1);
      return;
    }
    for (const item of Object.values(v)) walk(item, depth + 1);
  };
  walk(value, 0);
  return [...found];
}

/** A sync status in its wire form. */
export function toWireStatus(status: SyncStatus): WireStatus {
  return { ...status, lastError: status.lastError === null ? null : toWire(status.lastError) };
}

/** Rebuilds a sync status from its wire form (frozen, like the loop's own). */
export function fromWireStatus(wire: WireStatus): SyncStatus {
  return Object.freeze({ ...wire, lastError: wire.lastError === null ? null : fromWire(wire.lastError) });
}
