// The wasm side of a sync round, as the loop's in-process host (js/sync/local.ts) uses it: the
// `HttpTransport` / `WebSocketTransport` classes of the wasm module (src/wasm/transport/) and the
// `DatabaseHandle` methods that run a round over one of them. They are looked up on the generated
// glue by name, so that this file states exactly what it expects of them (see `WasmTransport` and
// `RoundHandle`) and a build without them fails with a coded error rather than a TypeError.
//
// Invariants: every call into them goes through `intoWasm` / `intoWasmAsync` (js/instance.ts);
// counts crossing as bigints become numbers.

import * as glue from "../generated/sqlite_sync_wasm.js";
import type { DatabaseHandle } from "../generated/sqlite_sync_wasm.js";
import { SyncError } from "../errors.js";
import { intoWasm, intoWasmAsync } from "../instance.js";
import type { SyncProgress } from "../types.js";
import type { RoundReport } from "./host.js";

/** A wasm transport object: made from its options object; `close()` ends its connection. */
export interface WasmTransport {
  close(): void | Promise<void>;
  /** Registers the function called when the relay announces new records (WebSocket `Notify`). */
  onNotify(fn: () => void): void;
  free?(): void;
}

type WasmTransportClass = new (options: Record<string, unknown>) => WasmTransport;

/** What a round reports across the boundary (u64 counts may arrive as bigints). */
export interface WasmRoundReport {
  sent: number | bigint;
  received: number | bigint;
  conflicts: number | bigint;
  pending: number | bigint;
  behind: boolean;
  newConflicts: string[];
}

/** The `DatabaseHandle` methods of a round. */
export interface RoundHandle {
  /** One round over `transport`: push, then pull until caught up, importing each page as it comes. */
  syncRound(transport: WasmTransport, onProgress: (progress: { received: number | bigint; total: number | bigint | null | undefined }) => void): Promise<WasmRoundReport>;
  /** Local records the relay (of `transport`) has not acknowledged. */
  syncPending(transport: WasmTransport): number | bigint;
}

/** A round's report as the loop reads it, with the ids of the conflicts it made. */
export interface ImportedRound extends RoundReport {
  newConflicts: string[];
}

function missing(what: string): SyncError {
  return new SyncError("ERR_INTERNAL", `internal error: this build of the wasm module has no ${what}`);
}

/** Makes the wasm transport `kind` from `options` (the wasm module must be loaded). */
export function makeTransport(kind: "http" | "websocket", options: Record<string, unknown>): WasmTransport {
  const name = kind === "http" ? "HttpTransport" : "WebSocketTransport";
  const Class = (glue as unknown as Record<string, WasmTransportClass | undefined>)[name];
  if (typeof Class !== "function") throw missing(name);
  return intoWasm(() => new Class(options));
}

function roundHandle(handle: DatabaseHandle): RoundHandle {
  const candidate = handle as unknown as Partial<RoundHandle>;
  if (typeof candidate.syncRound !== "function" || typeof candidate.syncPending !== "function") {
    throw missing("DatabaseHandle.syncRound");
  }
  return candidate as RoundHandle;
}

/**
 * Starts a round on `handle` (a synchronous call, made between the database's calls); returns the
 * promise of its end, wrapped so that it is not awaited by the caller's queue.
 */
export function beginRound(handle: DatabaseHandle, transport: WasmTransport, onProgress: (progress: SyncProgress) => void): { done: Promise<ImportedRound> } {
  const rounds = roundHandle(handle);
  const progress = (p: { received: number | bigint; total: number | bigint | null | undefined }): void =>
    onProgress({ received: Number(p.received), total: p.total === null || p.total === undefined ? null : Number(p.total) });
  const started = intoWasm(() => rounds.syncRound(transport, progress));
  return {
    done: intoWasmAsync(() => started).then((r) => ({
      sent: Number(r.sent),
      received: Number(r.received),
      conflicts: Number(r.conflicts),
      pending: Number(r.pending),
      behind: r.behind === true,
      newConflicts: [...r.newConflicts],
    })),
  };
}

/** Local records the relay of `transport` has not acknowledged. */
export function pendingOn(handle: DatabaseHandle, transport: WasmTransport): number {
  const rounds = roundHandle(handle);
  return Number(intoWasm(() => rounds.syncPending(transport)));
}

/** Closes and frees a wasm transport. */
export async function closeTransport(transport: WasmTransport): Promise<void> {
  try {
    await intoWasmAsync(async () => transport.close());
  } finally {
    intoWasm(() => transport.free?.());
  }
}
