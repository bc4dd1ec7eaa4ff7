// The package's public entry: `openDatabase`, `startSync` with its transports, and every public type.
//
// Users import it through a runtime loader (js/load/*), which package.json "exports" picks and
// which re-exports everything here, its `openDatabase` being the value that registering how to
// load the wasm module returned (js/load/register.ts).

import { LocalDatabase, type Database } from "./database.js";
import { SyncError } from "./errors.js";
import { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import { openIdbDatabase } from "./idb.js";
import { ready } from "./init.js";
import { intoWasm } from "./instance.js";
import type { OpenOptions, StorageKind } from "./types.js";
import { inDedicatedWorker, inServiceOrSharedWorker, indexedDbFactory, onPage, opfsAvailable } from "./runtime.js";
import { openInThisWorker, openThroughPackageWorker } from "./worker/index.js";

export type { Database, Transaction } from "./database.js";
export {
  SYNC_ERROR_CODES,
  SyncError,
  type SyncErrorCode,
  type SyncErrorOptions,
} from "./errors.js";
export type * from "./types.js";
export type { Sync, SyncEvents } from "./sync/api.js";
export { startSync, type StartSyncOptions } from "./sync/start.js";
export {
  HttpTransport,
  WebSocketTransport,
  type HttpTransportOptions,
  type TokenSource,
  type WebSocketClass,
  type WebSocketTransportOptions,
} from "./sync/transports.js";
export type { DeviceInfo } from "./sync/devices.js";

/**
 * Opens (or creates) a database, loading the wasm module on first use.
 *
 * ```ts
 * const db = await openDatabase({ storage: "memory" });
 * await db.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT)");
 * await db.enableSync("todos");
 * ```
 * @throws {SyncError} `ERR_INVALID_ARGUMENT` for bad options, `ERR_STORAGE_UNAVAILABLE` when the
 *   requested storage does not exist in this runtime, or (retryable) when an `"idb"` database is
 *   already open in this origin
 */
export async function openDatabase(options: OpenOptions = {}): Promise<Database> {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new SyncError("ERR_INVALID_ARGUMENT", "options must be an object");
  }
  // Each option is read once (a getter could answer differently the second time).
  let given: unknown, asked: unknown, onWarning: unknown;
  try {
    ({ name: given, storage: asked, onWarning } = options);
  } catch (e) {
    throw new SyncError("ERR_INVALID_ARGUMENT", `cannot read the options: ${String(e)}`, { cause: e });
  }
  if (given !== undefined && typeof given !== "string") {
    throw new SyncError("ERR_INVALID_ARGUMENT", "name must be a string");
  }
  if (asked !== undefined && typeof asked !== "string") {
    throw new SyncError("ERR_INVALID_ARGUMENT", "storage must be \"memory\", \"opfs\" or \"idb\"");
  }
  if (onWarning !== undefined && typeof onWarning !== "function") {
    throw new SyncError("ERR_INVALID_ARGUMENT", "onWarning must be a function");
  }
  const storage = (asked as StorageKind | undefined) ?? defaultStorage(onWarning as ((message: string) => void) | undefined);
  const name = given ?? "main.db";
  if (storage === "opfs") {
    if (onPage()) return openThroughPackageWorker(name);
    if (inDedicatedWorker()) return openInThisWorker(name);
    throw new SyncError(
      "ERR_STORAGE_UNAVAILABLE",
      "OPFS storage works on pages and in dedicated workers, not in this runtime (use \"idb\" in service and shared workers)",
    );
  }
  if (storage === "idb") return openIdbDatabase(name);
  await ready();
  return new LocalDatabase(intoWasm(() => DatabaseHandle.open(given === undefined ? { storage } : { storage, name: given })), name);
}

/**
 * The storage used when none is asked for: OPFS on pages and in dedicated workers, IndexedDB in
 * service and shared workers (which have no OPFS sync access handles) and where OPFS is missing
 * (with a warning), memory in Node, Deno and Workers.
 */
function defaultStorage(onWarning: ((message: string) => void) | undefined): StorageKind {
  const idbByDesign = inServiceOrSharedWorker();
  if (!onPage() && !inDedicatedWorker() && !idbByDesign) return "memory";
  if (opfsAvailable()) return "opfs";
  const fallback: StorageKind = indexedDbFactory() !== undefined ? "idb" : "memory";
  if (!idbByDesign || fallback === "memory") {
    const warn = onWarning ?? ((message: string) => console.warn(message));
    warn(`sqlite-sync-wasm: OPFS is not available here; using storage "${fallback}"`);
  }
  return fallback;
}
