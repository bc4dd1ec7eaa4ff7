// `startSync(db, options)`: checks the options and starts the sync loop (js/sync/loop.ts) where the
// database lives: in this realm over a wasm transport made here (js/sync/local.ts), or, for a
// database a page holds through the package worker, in that worker (js/worker/sync-client.ts).
//
// Invariants: every option is read once and checked before anything starts (`ERR_INVALID_ARGUMENT`
// otherwise); a database of this realm runs at most one loop per relay and space (rounds of one
// relay never overlap), and its `close()` stops its loops before its handle goes.

import type { Database } from "../api.js";
import { LocalDatabase } from "../database.js";
import { SyncError } from "../errors.js";
import { runtimeNetwork } from "../runtime.js";
import { startSyncInPackageWorker } from "../worker/index.js";
import type { Sync } from "./api.js";
import { systemClock } from "./host.js";
import { LocalSyncHost } from "./local.js";
import { DEFAULT_BACKOFF, SyncLoop, type LoopOptions } from "./loop.js";
import { HttpTransport, WebSocketTransport, type Transport } from "./transports.js";

/** Options of {@link startSync}. */
export interface StartSyncOptions {
  /** How to reach the relay. */
  transport: HttpTransport | WebSocketTransport;
  /** A round every this many ms when nothing else starts one (default 30,000; 0 disables). */
  intervalMs?: number;
  /** How long after a local commit its round starts, so that commits close together share one (default 50). */
  debounceMs?: number;
}

/** The relays (kind, url, space) each database of this realm syncs with now: one loop per relay. */
const syncing = new WeakMap<LocalDatabase, Set<string>>();

const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_DEBOUNCE_MS = 50;

function invalid(message: string, cause?: unknown): SyncError {
  return new SyncError("ERR_INVALID_ARGUMENT", message, cause === undefined ? {} : { cause });
}

function duration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw invalid(`startSync: ${name} must be a number of ms, 0 or more`);
  return value;
}

/** The checked options: the transport and the loop's settings. */
function checkOptions(options: unknown): { transport: Transport; loop: LoopOptions } {
  if (typeof options !== "object" || options === null) throw invalid("startSync needs options with a transport");
  let transport: unknown, intervalMs: unknown, debounceMs: unknown;
  try {
    ({ transport, intervalMs, debounceMs } = options as Record<string, unknown>);
  } catch (e) {
    throw invalid(`cannot read the startSync options: ${String(e)}`, e);
  }
  if (!(transport instanceof HttpTransport) && !(transport instanceof WebSocketTransport)) {
    throw invalid("startSync: transport must be an HttpTransport or a WebSocketTransport");
  }
  return {
    transport,
    loop: {
      intervalMs: duration(intervalMs, "intervalMs", DEFAULT_INTERVAL_MS),
      debounceMs: duration(debounceMs, "debounceMs", DEFAULT_DEBOUNCE_MS),
      backoff: DEFAULT_BACKOFF,
    },
  };
}

/** Starts the loop of a database of this realm; a second one for the same relay and space is refused. */
function startHere(db: LocalDatabase, transport: Transport, loop: LoopOptions): Sync {
  const relays = syncing.get(db) ?? new Set<string>();
  const key = JSON.stringify([transport.kind, transport.url, transport.space]);
  if (relays.has(key)) {
    throw invalid(`startSync: this database already syncs with ${transport.url} (space "${transport.space}"); stop that sync first`);
  }
  let started: SyncLoop | undefined;
  const unregister = db.onClosing(() => started?.stop() ?? Promise.resolve());
  const closed = (): void => {
    unregister();
    relays.delete(key);
  };
  try {
    const host = new LocalSyncHost(db, transport.kind, transport.wasmOptions(), { closed });
    started = new SyncLoop(host, loop, systemClock, runtimeNetwork);
  } catch (e) {
    unregister();
    throw e;
  }
  relays.add(key);
  syncing.set(db, relays);
  return started;
}

/**
 * Starts syncing `db` with a relay: a first round at once, then rounds after local commits, on the
 * relay's announcements, every `intervalMs`, when the runtime comes back online, and on
 * `syncNow()`; failures back off (full jitter, 0.5 s doubling up to 30 s). Works on every
 * `Database` that `openDatabase` returns; for OPFS on a page the loop runs in the package worker.
 * @throws {SyncError} `ERR_INVALID_ARGUMENT` for bad options, for a database already syncing with
 *   that relay and space, or for an injected `fetch` / `WebSocket` with a database in the package
 *   worker (they cannot cross to it; tabs that sync one OPFS database share one loop there)
 */
export function startSync(db: Database, options: StartSyncOptions): Sync {
  const { transport, loop } = checkOptions(options);
  if (db instanceof LocalDatabase) return startHere(db, transport, loop);
  const { spec, token, injected } = transport.spec();
  const remote = startSyncInPackageWorker(db, spec, token, injected, loop);
  if (remote !== undefined) return remote;
  throw invalid("startSync needs a database that openDatabase returned");
}
