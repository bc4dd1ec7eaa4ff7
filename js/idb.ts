// `storage: "idb"`: an in-memory database persisted as whole-database snapshots in IndexedDB.
// Works wherever IndexedDB does: pages, dedicated workers, shared workers and service workers
// (which have no OPFS synchronous access handles).
//
// One IndexedDB database (`IDB_NAME`) holds one object store (`IDB_STORE`) whose records, keyed by
// the database name, are `{ snapshot: Uint8Array, savedAt: number }`. Opening loads the record (or
// starts empty) into a memory `DatabaseHandle`; after every call that may have written, a snapshot
// is taken between calls and `put` in one IndexedDB transaction (an atomic replace), coalesced to at
// most one per task, and always once more before `close()` resolves.
//
// Invariants: at most one open handle per name and origin (a Web Lock per name, plus a set of the
// names open in this realm); snapshots are written one at a time, in order, never inside a SQLite
// transaction; a failed write leaves the database dirty, so the next write or `close()` retries.

import { LocalDatabase, type Database } from "./database.js";
import { SyncError, toSyncError } from "./errors.js";
import { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import { ready } from "./init.js";
import { locks } from "./worker/pool.js";

/** The IndexedDB database holding every snapshot of the origin. */
export const IDB_NAME = "sqlite-sync-wasm";
/** Its object store: database name → `{ snapshot, savedAt }`. */
export const IDB_STORE = "databases";
/** The Web Lock held while a database of that name is open. */
export const IDB_LOCK_PREFIX = "sqlite-sync-wasm:idb:";
/** How long a second open waits for the holder to close before rejecting (covers reloads). */
const LOCK_WAIT_MS = 1_000;

/** One stored snapshot. */
interface StoredSnapshot {
  snapshot: Uint8Array;
  savedAt: number;
}

function unavailable(message: string, options: { retryable?: boolean; cause?: unknown } = {}): SyncError {
  return new SyncError("ERR_STORAGE_UNAVAILABLE", message, options);
}

/** The IndexedDB factory of this realm, if any. */
function factory(): IDBFactory | undefined {
  return (globalThis as { indexedDB?: IDBFactory }).indexedDB;
}

/** Names open in this realm (catches double opens even without Web Locks). */
const openHere = new Set<string>();

/** The connection to `IDB_NAME`, shared by this realm's databases. */
let connection: Promise<IDBDatabase> | undefined;

function connect(): Promise<IDBDatabase> {
  connection ??= new Promise<IDBDatabase>((resolve, reject) => {
    const idb = factory();
    if (idb === undefined) {
      reject(unavailable("IndexedDB does not exist in this runtime"));
      return;
    }
    const request = idb.open(IDB_NAME, 1);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(IDB_STORE)) request.result.createObjectStore(IDB_STORE);
    };
    request.onsuccess = () => {
      const db = request.result;
      const forget = (): void => {
        connection = undefined;
      };
      // Another context upgrading or deleting the database: let it, reconnect on next use.
      db.onversionchange = () => {
        db.close();
        forget();
      };
      db.onclose = forget;
      resolve(db);
    };
    request.onerror = () => reject(unavailable(`cannot open IndexedDB: ${request.error?.message}`, { cause: request.error }));
    request.onblocked = () => reject(unavailable("IndexedDB is blocked by an older connection", { retryable: true }));
  }).catch((e: unknown) => {
    connection = undefined;
    throw e;
  });
  return connection;
}

/** Runs one request in one transaction and resolves once the transaction has completed. */
async function inTransaction<T>(
  mode: IDBTransactionMode,
  body: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await connect();
  return new Promise<T>((resolve, reject) => {
    let tx: IDBTransaction;
    try {
      // "strict": the transaction completes only once the data has been flushed to disk.
      tx = db.transaction(IDB_STORE, mode, { durability: mode === "readwrite" ? "strict" : "default" });
    } catch (e) {
      connection = undefined;
      reject(unavailable(`IndexedDB transaction failed: ${String(e)}`, { retryable: true, cause: e }));
      return;
    }
    const request = body(tx.objectStore(IDB_STORE));
    tx.oncomplete = () => resolve(request.result);
    const fail = (): void => {
      const error = tx.error ?? request.error;
      reject(unavailable(`IndexedDB transaction failed: ${error?.message ?? "aborted"}`, { retryable: true, cause: error }));
    };
    tx.onerror = fail;
    tx.onabort = fail;
  });
}

async function load(name: string): Promise<Uint8Array | undefined> {
  const stored = (await inTransaction("readonly", (store) => store.get(name))) as StoredSnapshot | undefined;
  if (stored === undefined) return undefined;
  if (!(stored.snapshot instanceof Uint8Array)) {
    throw new SyncError("ERR_CORRUPT", `the IndexedDB record of "${name}" holds no snapshot`);
  }
  return stored.snapshot;
}

function save(name: string, snapshot: Uint8Array): Promise<unknown> {
  const record: StoredSnapshot = { snapshot, savedAt: Date.now() };
  return inTransaction("readwrite", (store) => store.put(record, name));
}

/**
 * Takes the name's Web Lock, waiting up to `LOCK_WAIT_MS`; resolves to its release function.
 * Without Web Locks, only this realm's opens are checked.
 */
async function lockName(name: string): Promise<() => void> {
  const lockApi = locks();
  if (lockApi === undefined) return () => {};
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), LOCK_WAIT_MS);
  return new Promise<() => void>((resolve, reject) => {
    lockApi
      .request(`${IDB_LOCK_PREFIX}${name}`, { signal: abort.signal }, () => {
        clearTimeout(timer);
        return new Promise<void>((release) => resolve(release));
      })
      .catch((e: unknown) => {
        clearTimeout(timer);
        reject(
          abort.signal.aborted
            ? unavailable(`the IndexedDB database "${name}" is open elsewhere in this origin; close it or try again later`, { retryable: true })
            : toSyncError(e),
        );
      });
  });
}

/** Writes snapshots of one database: coalesced, one at a time, retried after a failure. */
class Persister {
  #name: string;
  #snapshot: () => Promise<Uint8Array>;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The write in progress (never rejects). */
  #writing: Promise<void> | undefined;
  #lastError: unknown;

  constructor(name: string, snapshot: () => Promise<Uint8Array>) {
    this.#name = name;
    this.#snapshot = snapshot;
  }

  /** The database may have changed: schedule a write for the end of this task. */
  mark(): void {
    this.#dirty = true;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.#flush();
    }, 0);
  }

  /** Writes the latest state if it may differ from the stored one (after the running write). */
  async #flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (!this.#dirty) return;
    this.#dirty = false;
    this.#writing = this.#snapshot()
      .then((bytes) => save(this.#name, bytes))
      .then(
        () => {
          this.#lastError = undefined;
        },
        (e: unknown) => {
          if (e instanceof SyncError && e.code === "ERR_CLOSED") return; // close() writes the last one
          this.#dirty = true;
          this.#lastError = e;
          console.warn(`sqlite-sync-wasm: could not persist "${this.#name}" to IndexedDB`, e);
        },
      )
      .finally(() => {
        this.#writing = undefined;
      });
    await this.#writing;
  }

  /** The last write before closing: waits for the running one, then writes if still dirty. */
  async final(handle: DatabaseHandle): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#writing !== undefined) await this.#writing;
    if (!this.#dirty) return;
    try {
      await save(this.#name, handle.snapshot());
      this.#dirty = false;
    } catch (e) {
      throw unavailable(`could not persist "${this.#name}" to IndexedDB: ${String(e)}`, {
        retryable: true,
        cause: e ?? this.#lastError,
      });
    }
  }
}

/**
 * Opens (or creates) the IndexedDB-backed database `name` in this realm.
 * @throws {SyncError} `ERR_STORAGE_UNAVAILABLE` without IndexedDB, or (retryable) when the database
 *   is already open in this origin
 */
export async function openIdbDatabase(name: string): Promise<Database> {
  if (factory() === undefined) throw unavailable("IndexedDB storage needs a browser runtime (page or worker)");
  if (openHere.has(name)) {
    throw unavailable(`the IndexedDB database "${name}" is already open here; close it first`, { retryable: true });
  }
  openHere.add(name);
  let release: (() => void) | undefined;
  let handle: DatabaseHandle | undefined;
  const closed = (): void => {
    openHere.delete(name);
    release?.();
  };
  try {
    release = await lockName(name);
    const [, stored] = await Promise.all([ready(), load(name)]);
    try {
      handle = DatabaseHandle.open(stored === undefined ? { storage: "memory", name } : { storage: "memory", name, snapshot: stored });
    } catch (e) {
      throw toSyncError(e);
    }
    // A new database gets its device id now: store it before anyone relies on it.
    if (stored === undefined) await save(name, handle.snapshot());
  } catch (e) {
    if (handle !== undefined) {
      try {
        handle.close();
      } catch {
        // The original error matters.
      }
      handle.free();
    }
    closed();
    throw toSyncError(e);
  }
  let db: LocalDatabase | undefined;
  const persister = new Persister(name, () => {
    if (db === undefined) return Promise.reject(new SyncError("ERR_CLOSED", "not open yet"));
    return db.betweenCalls((h) => h.snapshot());
  });
  db = new LocalDatabase(handle, name, {
    onWrite: () => persister.mark(),
    beforeClose: (h) => persister.final(h),
    onClosed: closed,
  });
  return db;
}
