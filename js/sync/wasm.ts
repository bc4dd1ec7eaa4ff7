// The wasm side of a sync round, as the loop's in-process host (js/sync/local.ts) drives it: the
// `HttpTransport` / `WebSocketTransport` classes of the wasm module (src/wasm/transport/), which
// move the protocol's bytes, and the `DatabaseHandle` steps of a round (src/wasm/round.rs), which
// answer and import them. The round is driven here, one synchronous step at a time, each step
// run between the database's calls (never inside a transaction the app holds open), with the
// transport's awaits in between. Classes and methods are looked up on the generated glue by name,
// so this file states exactly what it expects of them and a build without them fails with a coded
// error rather than a TypeError.
//
// Invariants: every call into wasm goes through `intoWasm` / `intoWasmAsync` (js/instance.ts); a
// round is freed once it ends, however it ends; counts crossing as bigints become numbers.

import * as glue from "../generated/sqlite_sync_wasm.js";
import type { DatabaseHandle } from "../generated/sqlite_sync_wasm.js";
import { SyncError } from "../errors.js";
import { intoWasm, intoWasmAsync } from "../instance.js";
import type { SyncProgress } from "../types.js";
import type { RoundReport } from "./host.js";

/** A wasm transport object, made from its options object. */
export interface WasmTransport {
  /** Connects for a round (asks the token function for a token; a WebSocket opens if it is not open). */
  begin(): Promise<void>;
  /** Sends one protocol message and resolves with the relay's answer. */
  exchange(message: Uint8Array): Promise<Uint8Array>;
  /** Resolves with the next message from the relay (WebSocket only). */
  next(): Promise<Uint8Array>;
  /** Registers the function called when the relay announces new records (WebSocket `Notify`). */
  onNotify(fn: () => void): void;
  close(): void | Promise<void>;
  free?(): void;
}

type WasmTransportClass = new (options: Record<string, unknown>) => WasmTransport;

type Count = number | bigint;

/** A round's next step, as `DatabaseHandle.continueRound` returns it. */
type RoundAction =
  | { send: Uint8Array }
  | { wait: true }
  | { done: { sent: Count; received: Count; conflicts: Count; pending: Count; behind: boolean; newConflicts: string[] } };

/** A round in progress (`SyncRound` of src/wasm/round.rs). */
interface WasmRound {
  firstAction(): RoundAction;
  progress(): { received: Count; total: Count } | undefined;
  counts(): { sent: Count; received: Count };
  takeNewConflicts(): string[];
  free?(): void;
}

/** The `DatabaseHandle` methods of a round. */
interface RoundHandle {
  beginRound(relay: string, space: string): WasmRound;
  continueRound(round: WasmRound, message: Uint8Array): RoundAction;
  syncPending(relay: string, space: string): Count;
}

/** A round's report as the loop reads it, with the ids of the conflicts it made. */
export interface ImportedRound extends RoundReport {
  newConflicts: string[];
}

/** What a round did so far: pushes the relay acknowledged, records pulled that were new here. */
export interface RoundCounts {
  sent: number;
  received: number;
}

/** How a round ended: its report, or its error with what it did before it failed. */
export type RoundOutcome = { report: ImportedRound } | ({ error: unknown; newConflicts: string[] } & RoundCounts);

/** Runs `body` with the database's handle between its calls. */
export type Step = <T>(body: (handle: DatabaseHandle) => T) => Promise<T>;

/** Where a round goes: the relay as cursors are kept by (its base URL), and the space. */
export interface RoundTarget {
  relay: string;
  space: string;
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
  if (typeof candidate.beginRound !== "function" || typeof candidate.continueRound !== "function") {
    throw missing("DatabaseHandle.beginRound");
  }
  return candidate as RoundHandle;
}

/**
 * One round with `target` over `transport`: push what the relay lacks, pull until caught up,
 * importing each page in the step that receives it; `onCounts` hears what it did so far after each
 * step that changed it. Never rejects: a failure comes back as the outcome's `error`, with what the
 * round did before it (records pushed and acknowledged, records and conflicts its pages brought).
 */
export async function runRound(
  step: Step,
  transport: WasmTransport,
  target: RoundTarget,
  onProgress: (progress: SyncProgress) => void,
  onCounts: (counts: RoundCounts) => void = () => undefined,
): Promise<RoundOutcome> {
  let round: WasmRound | undefined;
  let seen = 0;
  let counts: RoundCounts = { sent: 0, received: 0 };
  try {
    await intoWasmAsync(() => transport.begin());
    const begun = await step((handle) => intoWasm(() => roundHandle(handle).beginRound(target.relay, target.space)));
    round = begun;
    let action = intoWasm(() => begun.firstAction());
    while (!("done" in action)) {
      const sent = action;
      const reply = await intoWasmAsync(() => ("send" in sent ? transport.exchange(sent.send) : transport.next()));
      action = await step((handle) => intoWasm(() => roundHandle(handle).continueRound(begun, reply)));
      const progress = intoWasm(() => begun.progress());
      if (progress !== undefined && Number(progress.received) !== seen) {
        seen = Number(progress.received);
        onProgress({ received: seen, total: Number(progress.total) });
      }
      const now = intoWasm(() => begun.counts());
      if (Number(now.sent) !== counts.sent || Number(now.received) !== counts.received) {
        counts = { sent: Number(now.sent), received: Number(now.received) };
        onCounts(counts);
      }
    }
    const r = action.done;
    const report: ImportedRound = {
      sent: Number(r.sent),
      received: Number(r.received),
      conflicts: Number(r.conflicts),
      pending: Number(r.pending),
      behind: r.behind === true,
      newConflicts: [...intoWasm(() => begun.takeNewConflicts()), ...r.newConflicts],
    };
    return { report };
  } catch (error) {
    const taken = round;
    const newConflicts = taken === undefined ? [] : intoWasm(() => taken.takeNewConflicts());
    return { error, ...counts, newConflicts };
  } finally {
    const taken = round;
    if (taken !== undefined) intoWasm(() => taken.free?.());
  }
}

/** Local records the relay of `target` has not acknowledged. */
export function pendingOn(handle: DatabaseHandle, target: RoundTarget): number {
  return Number(intoWasm(() => roundHandle(handle).syncPending(target.relay, target.space)));
}

/** Closes and frees a wasm transport. */
export async function closeTransport(transport: WasmTransport): Promise<void> {
  try {
    await intoWasmAsync(async () => transport.close());
  } finally {
    intoWasm(() => transport.free?.());
  }
}
