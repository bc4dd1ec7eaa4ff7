// `storage: "idb"`: an in-memory database persisted page by page in IndexedDB (layout and diffing
// in idb-store.ts). Works wherever IndexedDB does: pages, dedicated workers, shared workers and
// service workers (which have no OPFS synchronous access handles).
//
// Opening loads the stored image (or starts empty) into a memory `DatabaseHandle`; after every call
// that may have written, an image is taken between calls and the pages that changed since the last
// stored image are written in one IndexedDB transaction (atomic), coalesced to at most one save per
// task, and always once more before `close()` resolves. `generateBundle` resolves only once a save
// that includes every earlier write has completed (it saves at once if needed), so no bundle
// carries a change that a crash could still take back (the replica would then hand out the same
// sequence numbers again for other changes).
//
// Invariants: at most one open handle per name and origin (a Web Lock per name, plus a set of the
// names open in this realm); saves run one at a time, in order, never inside a SQLite transaction;
// the image a save diffs against is the last one IndexedDB confirmed; each save knows which writes
// it includes (a count taken with its snapshot); a failed save leaves the database dirty, so the
// next write, `generateBundle` or `close()` retries.

import { LocalDatabase, type Database } from "./database.js";
import { SyncError, toSyncError } from "./errors.js";
import { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import { loadImage, pageSizeOf, saveImage, unavailable, type StoredImage } from "./idb-store.js";
import { ready } from "./init.js";
import { intoWasm } from "./instance.js";
import { indexedDbFactory, locks } from "./runtime.js";

/** The Web Lock held while a database of that name is open. */
export const IDB_LOCK_PREFIX = "sqlite-sync-wasm:idb:";
/** How long a second open waits for the holder to close before rejecting (covers reloads). */
const LOCK_WAIT_MS = 1_000;

/** Names open in this realm (catches double opens even without Web Locks). */
const openHere = new Set<string>();

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

/** Saves the images of one database: coalesced, one at a time, retried after a failure. */
class Persister {
  #name: string;
  #between: <T>(body: (handle: DatabaseHandle) => T) => Promise<T>;
  /** What IndexedDB holds now, which the next save diffs against. */
  #stored: StoredImage | undefined;
  /** Counts the calls that may have written; `#saved` is the count the stored image includes. */
  #version = 0;
  #saved = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The write in progress (never rejects). */
  #writing: Promise<void> | undefined;
  #lastError: unknown;
  /** Settles with the last save before closing (see `final`). */
  #final: Promise<void>;
  #finish!: { resolve: () => void; reject: (e: unknown) => void };

  constructor(name: string, stored: StoredImage, between: <T>(body: (handle: DatabaseHandle) => T) => Promise<T>) {
    this.#name = name;
    this.#stored = stored;
    this.#between = between;
    this.#final = new Promise<void>((resolve, reject) => {
      this.#finish = { resolve, reject };
    });
    this.#final.catch(() => undefined);
  }

  /** Saves `bytes` (the changed pages) and remembers them as what is stored. */
  async #save(bytes: Uint8Array, version: number): Promise<void> {
    await saveImage(this.#name, bytes, this.#stored);
    this.#stored = { bytes, pageSize: pageSizeOf(bytes) };
    this.#saved = Math.max(this.#saved, version);
  }

  /** The database may have changed: schedule a write for the end of this task. */
  mark(): void {
    this.#version += 1;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.#flush();
    }, 0);
  }

  /** Writes the latest state if it may differ from the stored one (after the running write). */
  async #flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#saved >= this.#version) return;
    this.#writing = this.#between((handle) => ({ bytes: handle.snapshot(), version: this.#version }))
      .then(({ bytes, version }) => this.#save(bytes, version))
      .then(
        () => {
          this.#lastError = undefined;
        },
        (e: unknown) => {
          this.#lastError = e;
          if (e instanceof SyncError && e.code === "ERR_CLOSED") return; // close() writes the last one
          console.warn(`sqlite-sync-wasm: could not persist "${this.#name}" to IndexedDB`, e);
        },
      )
      .finally(() => {
        this.#writing = undefined;
      });
    await this.#writing;
  }

  /**
   * Resolves once every write marked so far is stored (saving now rather than at the end of the
   * task); rejects with a retryable `ERR_STORAGE_UNAVAILABLE` if that save fails. Used before a
   * bundle is handed out (`LocalHooks.persisted`).
   */
  async persisted(): Promise<void> {
    const wanted = this.#version;
    while (this.#saved < wanted) {
      if (this.#writing !== undefined) {
        await this.#writing;
        continue;
      }
      await this.#flush();
      if (this.#saved >= wanted) return;
      const error = this.#lastError;
      if (error instanceof SyncError && error.code === "ERR_CLOSED") {
        await this.#final; // closing: the last save covers every write
        return;
      }
      throw unavailable(`could not persist "${this.#name}" to IndexedDB: ${String(error)}`, { retryable: true, cause: error });
    }
  }

  /** The last write before closing: waits for the running one, then writes if still dirty. */
  async final(handle: DatabaseHandle): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    try {
      while (this.#writing !== undefined) await this.#writing;
      if (this.#saved < this.#version) await this.#save(intoWasm(() => handle.snapshot()), this.#version);
      this.#finish.resolve();
    } catch (e) {
      const error = unavailable(`could not persist "${this.#name}" to IndexedDB: ${String(e)}`, {
        retryable: true,
        cause: e ?? this.#lastError,
      });
      this.#finish.reject(error);
      throw error;
    }
  }
}

/**
 * Opens (or creates) the IndexedDB-backed database `name` in this realm.
 * @throws {SyncError} `ERR_STORAGE_UNAVAILABLE` without IndexedDB, or (retryable) when the database
 *   is already open in this origin
 */
export async function openIdbDatabase(name: string): Promise<Database> {
  if (indexedDbFactory() === undefined) throw unavailable("IndexedDB storage needs a browser runtime (page or worker)");
  if (openHere.has(name)) {
    throw unavailable(`the IndexedDB database "${name}" is already open here; close it first`, { retryable: true });
  }
  openHere.add(name);
  let release: (() => void) | undefined;
  let handle: DatabaseHandle | undefined;
  let stored: StoredImage | undefined;
  const closed = (): void => {
    openHere.delete(name);
    release?.();
  };
  try {
    release = await lockName(name);
    const [, loaded] = await Promise.all([ready(), loadImage(name)]);
    const opened = intoWasm(() =>
      DatabaseHandle.open(loaded === undefined ? { storage: "memory", name } : { storage: "memory", name, snapshot: loaded.bytes }),
    );
    handle = opened;
    stored = loaded;
    // A new database gets its device id now: store it before anyone relies on it.
    if (stored === undefined) {
      const bytes = intoWasm(() => opened.snapshot());
      await saveImage(name, bytes, undefined);
      stored = { bytes, pageSize: pageSizeOf(bytes) };
    }
  } catch (e) {
    const opened = handle;
    if (opened !== undefined) {
      try {
        intoWasm(() => {
          try {
            opened.close();
          } finally {
            opened.free();
          }
        });
      } catch {
        // The original error matters.
      }
    }
    closed();
    throw toSyncError(e);
  }
  let db: LocalDatabase | undefined;
  const persister = new Persister(name, stored, (body) => {
    if (db === undefined) return Promise.reject(new SyncError("ERR_CLOSED", "not open yet"));
    return db.betweenCalls(body);
  });
  db = new LocalDatabase(handle, name, {
    onWrite: () => persister.mark(),
    persisted: () => persister.persisted(),
    beforeClose: (h) => persister.final(h),
    onClosed: closed,
  });
  return db;
}
