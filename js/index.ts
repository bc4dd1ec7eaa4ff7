// The package's public entry: `openDatabase` and every public type.
//
// Users import it through a runtime loader (js/load/*), which package.json "exports" picks and
// which re-exports everything here after registering how to load the wasm module.

import { LocalDatabase, type Database } from "./database.js";
import { SyncError, toSyncError } from "./errors.js";
import { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import { ready } from "./init.js";
import type { OpenOptions } from "./types.js";

export type { Database, Transaction } from "./database.js";
export {
  SYNC_ERROR_CODES,
  SyncError,
  type SyncErrorCode,
  type SyncErrorOptions,
} from "./errors.js";
export type * from "./types.js";

/**
 * Opens (or creates) a database, loading the wasm module on first use.
 *
 * ```ts
 * const db = await openDatabase({ storage: "memory" });
 * await db.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT)");
 * await db.enableSync("todos");
 * ```
 * @throws {SyncError} `ERR_INVALID_ARGUMENT` for bad options, `ERR_STORAGE_UNAVAILABLE` when the
 *   requested storage does not exist in this runtime
 */
export async function openDatabase(options: OpenOptions = {}): Promise<Database> {
  if (typeof options !== "object" || options === null) {
    throw new SyncError("ERR_INVALID_ARGUMENT", "options must be an object");
  }
  await ready();
  const open: { name?: string; storage: string } = { storage: options.storage ?? "memory" };
  if (options.name !== undefined) open.name = options.name;
  try {
    return new LocalDatabase(DatabaseHandle.open(open));
  } catch (e) {
    throw toSyncError(e);
  }
}
