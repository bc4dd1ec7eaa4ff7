// The IndexedDB layout behind `storage: "idb"`: each database is stored as its SQLite pages, and a
// save writes only the pages that differ from the last stored state, so a one-row write to a large
// database costs a few pages of IndexedDB I/O rather than the whole file.
//
// One IndexedDB database (`IDB_NAME`, version 2) holds two object stores:
//   `files`  database name → `{ pageSize, pageCount, savedAt }`
//   `pages`  [database name, page index] → the page's bytes (`pageSize` of them)
// A save puts the changed pages, deletes pages past the new end and puts the `files` record, all in
// one read-write transaction with strict durability: IndexedDB applies it wholly or not at all, so
// the stored pages always form one consistent database image. A load reads the record and its
// pages in one read-only transaction and refuses (ERR_CORRUPT) pages that do not add up.
// Version 1 (whole-database snapshots in a `databases` store, never released) is dropped on upgrade.

import { SyncError } from "./errors.js";
import { indexedDbFactory } from "./runtime.js";

/** The IndexedDB database holding every `"idb"` database of the origin. */
export const IDB_NAME = "sqlite-sync-wasm";
const IDB_VERSION = 2;
/** Object store: database name → `StoredFile`. */
export const FILES_STORE = "files";
/** Object store: [database name, page index] → page bytes. */
export const PAGES_STORE = "pages";

/** The `files` record of one database. */
export interface StoredFile {
  pageSize: number;
  pageCount: number;
  savedAt: number;
}

/** A database image as stored: its bytes and how they split into pages. */
export interface StoredImage {
  bytes: Uint8Array;
  pageSize: number;
}

export function unavailable(message: string, options: { retryable?: boolean; cause?: unknown } = {}): SyncError {
  return new SyncError("ERR_STORAGE_UNAVAILABLE", message, options);
}

/** The connection to `IDB_NAME`, shared by this realm's databases. */
let connection: Promise<IDBDatabase> | undefined;

function connect(): Promise<IDBDatabase> {
  connection ??= new Promise<IDBDatabase>((resolve, reject) => {
    const idb = indexedDbFactory();
    if (idb === undefined) {
      reject(unavailable("IndexedDB does not exist in this runtime"));
      return;
    }
    const request = idb.open(IDB_NAME, IDB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (db.objectStoreNames.contains("databases")) db.deleteObjectStore("databases");
      if (!db.objectStoreNames.contains(FILES_STORE)) db.createObjectStore(FILES_STORE);
      if (!db.objectStoreNames.contains(PAGES_STORE)) db.createObjectStore(PAGES_STORE);
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

/**
 * Runs `body` in one transaction over both stores; resolves with its result once the transaction
 * has completed (for read-write: once the data is on disk).
 */
async function inTransaction<T>(mode: IDBTransactionMode, body: (tx: IDBTransaction) => () => T): Promise<T> {
  const db = await connect();
  return new Promise<T>((resolve, reject) => {
    let tx: IDBTransaction;
    try {
      tx = db.transaction([FILES_STORE, PAGES_STORE], mode, { durability: mode === "readwrite" ? "strict" : "default" });
    } catch (e) {
      connection = undefined;
      reject(unavailable(`IndexedDB transaction failed: ${String(e)}`, { retryable: true, cause: e }));
      return;
    }
    const result = body(tx);
    tx.oncomplete = () => {
      try {
        resolve(result());
      } catch (e) {
        reject(e);
      }
    };
    const fail = (): void => {
      reject(unavailable(`IndexedDB transaction failed: ${tx.error?.message ?? "aborted"}`, { retryable: true, cause: tx.error }));
    };
    tx.onerror = fail;
    tx.onabort = fail;
  });
}

/** The page size a SQLite database image declares in its header (bytes 16–17; 1 means 65536). */
export function pageSizeOf(bytes: Uint8Array): number {
  if (bytes.length < 100) return bytes.length === 0 ? 0 : Number.NaN;
  const raw = (bytes[16]! << 8) | bytes[17]!;
  return raw === 1 ? 65_536 : raw;
}

/** Every page of one database, from the first to past the last possible index. */
function pageRange(name: string, from = 0): IDBKeyRange {
  return IDBKeyRange.bound([name, from], [name, Number.POSITIVE_INFINITY]);
}

/** Loads the stored image of `name`, or `undefined` when nothing is stored under that name. */
export async function loadImage(name: string): Promise<StoredImage | undefined> {
  const [file, pages] = await inTransaction("readonly", (tx) => {
    const fileRequest = tx.objectStore(FILES_STORE).get(name) as IDBRequest<StoredFile | undefined>;
    const pagesRequest = tx.objectStore(PAGES_STORE).getAll(pageRange(name)) as IDBRequest<unknown[]>;
    return () => [fileRequest.result, pagesRequest.result] as const;
  });
  if (file === undefined || file.pageCount === 0) return undefined;
  const { pageSize, pageCount } = file;
  const fits = pages.length === pageCount && pages.every((p) => p instanceof Uint8Array && p.length === pageSize);
  if (!fits) {
    throw new SyncError("ERR_CORRUPT", `the IndexedDB pages of "${name}" do not form a database (${pages.length} of ${pageCount} pages)`);
  }
  const bytes = new Uint8Array(pageSize * pageCount);
  pages.forEach((page, i) => bytes.set(page as Uint8Array, i * pageSize));
  return { bytes, pageSize };
}

/** Whether page `index` (of `size` bytes) is the same in both images. */
function samePage(a: Uint8Array, b: Uint8Array, index: number, size: number): boolean {
  const start = index * size;
  if (size % 4 === 0 && (a.byteOffset + start) % 4 === 0 && (b.byteOffset + start) % 4 === 0) {
    const x = new Int32Array(a.buffer, a.byteOffset + start, size / 4);
    const y = new Int32Array(b.buffer, b.byteOffset + start, size / 4);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  for (let i = start; i < start + size; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Stores `bytes` as the image of `name`, writing only the pages that differ from `previous` (what
 * is stored now, or `undefined` when unknown or nothing). Resolves to the number of pages written.
 */
export async function saveImage(name: string, bytes: Uint8Array, previous: StoredImage | undefined): Promise<number> {
  const pageSize = pageSizeOf(bytes);
  if (!(pageSize === 0 || (pageSize >= 512 && bytes.length % pageSize === 0))) {
    throw new SyncError("ERR_INTERNAL", `a database image of ${bytes.length} bytes declares page size ${pageSize}`);
  }
  const pageCount = pageSize === 0 ? 0 : bytes.length / pageSize;
  const comparable = previous !== undefined && previous.pageSize === pageSize ? previous.bytes : undefined;
  const comparablePages = comparable === undefined ? 0 : comparable.length / pageSize;
  return inTransaction("readwrite", (tx) => {
    const pages = tx.objectStore(PAGES_STORE);
    let written = 0;
    for (let i = 0; i < pageCount; i++) {
      if (comparable !== undefined && i < comparablePages && samePage(bytes, comparable, i, pageSize)) continue;
      pages.put(bytes.slice(i * pageSize, (i + 1) * pageSize), [name, i]);
      written++;
    }
    if (comparable === undefined || comparablePages > pageCount) pages.delete(pageRange(name, pageCount));
    const file: StoredFile = { pageSize, pageCount, savedAt: Date.now() };
    tx.objectStore(FILES_STORE).put(file, name);
    return () => written;
  });
}
