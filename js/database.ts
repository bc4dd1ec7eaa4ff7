// The in-process implementation of the `Database` interface (js/api.ts) over the wasm
// `DatabaseHandle`.
//
// Invariants: every method converts wasm errors into `SyncError`; calls on the database run in
// the order they were made, and while a `transaction` is open they wait for it to end (only the
// callback's `tx` reaches SQLite meanwhile); once `close()` has been called every call rejects with
// `ERR_CLOSED`, and the handle is released after the calls queued before it have run.

import type { Database, Transaction } from "./api.js";
import { SyncError, toSyncError } from "./errors.js";
import { importChanged, mayWrite, readOnly } from "./writes.js";
import type { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import { steady } from "./worker/gate.js";
import type { ChangeEvent } from "./worker/rpc.js";
import type {
  ChangeRecord,
  Conflict,
  ConflictChoice,
  ConflictResolver,
  ExecResult,
  GenerateBundleOptions,
  ImportResult,
  Params,
  PendingChange,
  Row,
  SyncOptions,
  VectorClock,
} from "./types.js";

export type { Database, Transaction } from "./api.js";

/** What a storage layer over a `LocalDatabase` can hook into (js/idb.ts uses all three). */
export interface LocalHooks {
  /** Called once the handle has been released. */
  onClosed?: () => void;
  /**
   * Called synchronously right after a call that may have changed the database returned (a
   * statement, a committed transaction, schema or sync changes, an import, a resolution).
   */
  onWrite?: () => void;
  /**
   * Runs as the last queued task of `close()`, before the handle is released; `close()` resolves
   * only after it has settled (and rejects if it rejects, the handle being released anyway).
   */
  beforeClose?: (handle: DatabaseHandle) => Promise<void> | void;
}

function closedError(): SyncError {
  return new SyncError("ERR_CLOSED", "the database is closed");
}

function requireString(value: unknown, what: string): void {
  if (typeof value !== "string") {
    throw new SyncError("ERR_INVALID_ARGUMENT", `${what} must be a string, got ${typeof value}`);
  }
}

/**
 * Runs a synchronous call into the wasm handle as a Promise (at once, unless the OPFS pool is
 * changing: js/worker/gate.ts); whatever it throws becomes a rejection with a `SyncError`.
 */
function settle<T>(call: () => T): Promise<T> {
  return steady(() => {
    try {
      return call();
    } catch (e) {
      throw toSyncError(e);
    }
  });
}

function execOn(handle: DatabaseHandle, sql: string, params: Params | undefined): ExecResult {
  requireString(sql, "sql");
  return handle.exec(sql, params ?? null) as ExecResult;
}

function queryOn(handle: DatabaseHandle, sql: string, params: Params | undefined): Row[] {
  requireString(sql, "sql");
  return handle.query(sql, params ?? null) as Row[];
}

/** The `tx` handed to a transaction callback; unusable once the transaction has ended. */
class LocalTransaction implements Transaction {
  #handle: DatabaseHandle | undefined;
  /** Whether a statement of this transaction may have changed rows. */
  wrote = false;

  constructor(handle: DatabaseHandle) {
    this.#handle = handle;
  }

  /** Makes every later call reject: the transaction is over. */
  end(): void {
    this.#handle = undefined;
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    return settle(() => {
      const result = execOn(this.#live(), sql, params);
      if (result.changes > 0) this.wrote = true;
      return result;
    });
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    return settle(() => {
      const rows = queryOn(this.#live(), sql, params);
      if (mayWrite(sql)) this.wrote = true;
      return rows;
    });
  }

  #live(): DatabaseHandle {
    if (this.#handle === undefined) {
      throw new SyncError("ERR_CLOSED", "the transaction has already ended");
    }
    return this.#handle;
  }
}

/** {@link Database} running in this thread, over one wasm `DatabaseHandle`. */
export class LocalDatabase implements Database {
  readonly deviceId: string;
  #handle: DatabaseHandle | undefined;
  /** The end of the queue of calls waiting behind a transaction. */
  #tail: Promise<void> = Promise.resolve();
  /** Calls queued or running on `#tail`; when 0, calls run at once. */
  #queued = 0;
  /** Conflict resolvers registered by the app, by table. */
  #resolvers = new Map<string, ConflictResolver>();
  /** Set by the first `close()`; resolves once the handle is released. */
  #closing: Promise<void> | undefined;
  /** The `onChange` listeners. */
  #listeners = new Set<(event: ChangeEvent) => void>();
  /** The database name reported in change events. */
  #name: string;
  /** Storage hooks (giving OPFS back, saving to IndexedDB). */
  #hooks: LocalHooks;

  /**
   * Wraps an open handle; the database owns it from now on.
   * @param name the database name reported in change events
   * @param hooks called once the handle has been released, or a set of {@link LocalHooks}
   */
  constructor(handle: DatabaseHandle, name = "main.db", hooks?: (() => void) | LocalHooks) {
    this.#handle = handle;
    this.deviceId = handle.deviceId;
    this.#name = name;
    this.#hooks = typeof hooks === "function" ? { onClosed: hooks } : (hooks ?? {});
  }

  /**
   * Runs `body` on the handle between calls: at once when nothing is queued, otherwise after the
   * queued calls (and any open transaction) have settled. Rejects with `ERR_CLOSED` once closing.
   * @internal
   */
  betweenCalls<T>(body: (handle: DatabaseHandle) => T): Promise<T> {
    return this.#call(body);
  }

  /** Tells the storage hook that the database may have changed. */
  #wrote(): void {
    this.#hooks.onWrite?.();
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    return this.#call((handle) => {
      let result: ExecResult;
      try {
        result = execOn(handle, sql, params);
      } finally {
        // Even a failing script may have committed its first statements.
        this.#wrote();
      }
      if (result.changes > 0) this.#emit("exec");
      return result;
    });
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    return this.#call((handle) => {
      let rows: Row[];
      try {
        rows = queryOn(handle, sql, params);
      } finally {
        if (!readOnly(sql)) this.#wrote();
      }
      if (mayWrite(sql)) this.#emit("exec");
      return rows;
    });
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    if (typeof listener !== "function") {
      throw new SyncError("ERR_INVALID_ARGUMENT", "onChange needs a function");
    }
    const entry = (event: ChangeEvent): void => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Tells the listeners, after the current call has returned, that `kind` committed. */
  #emit(kind: ChangeEvent["kind"]): void {
    if (this.#listeners.size === 0) return;
    const event: ChangeEvent = { database: this.#name, kind, local: true };
    const listeners = [...this.#listeners];
    queueMicrotask(() => {
      for (const listener of listeners) listener(event);
    });
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    if (typeof fn !== "function") {
      return Promise.reject(new SyncError("ERR_INVALID_ARGUMENT", "transaction needs a callback"));
    }
    return this.#enqueue(async () => {
      const handle = this.#open();
      await settle(() => execOn(handle, "BEGIN", undefined));
      const tx = new LocalTransaction(handle);
      let value: T;
      try {
        value = await fn(tx);
      } catch (e) {
        tx.end();
        await rollback(handle);
        throw e;
      }
      tx.end();
      try {
        await settle(() => execOn(handle, "COMMIT", undefined));
      } catch (e) {
        await rollback(handle);
        throw e;
      }
      this.#wrote();
      if (tx.wrote) this.#emit("transaction");
      return value;
    });
  }

  enableSync(table: string, options?: SyncOptions): Promise<void> {
    return this.#call((handle) => {
      requireString(table, "table");
      handle.enableSync(table, options ?? null);
      this.#wrote();
    });
  }

  disableSync(table: string): Promise<void> {
    return this.#call((handle) => {
      requireString(table, "table");
      handle.disableSync(table);
      this.#wrote();
    });
  }

  syncedTables(): Promise<string[]> {
    return this.#call((handle) => handle.syncedTables());
  }

  vectorClock(): Promise<VectorClock> {
    return this.#call((handle) => handle.vectorClock() as VectorClock);
  }

  changeLog(): Promise<ChangeRecord[]> {
    return this.#call((handle) => handle.changeLog() as ChangeRecord[]);
  }

  generateBundle(options?: GenerateBundleOptions): Promise<Uint8Array | null> {
    return this.#call((handle) => {
      const bundle = handle.generateBundle(options?.peerId ?? undefined, options?.unsentOnly === true) as
        | Uint8Array
        | null;
      this.#wrote();
      return bundle;
    });
  }

  async importBundle(bytes: Uint8Array): Promise<ImportResult> {
    if (!(bytes instanceof Uint8Array)) {
      throw new SyncError("ERR_INVALID_ARGUMENT", "importBundle needs a Uint8Array");
    }
    const result = await this.#call((handle) => {
      const imported = handle.importBundle(bytes) as ImportResult;
      this.#wrote();
      return imported;
    });
    if (importChanged(result)) this.#emit("import");
    await this.#runResolvers(result.newConflicts);
    return result;
  }

  pendingChanges(): Promise<PendingChange[]> {
    return this.#call((handle) => handle.pendingChanges() as PendingChange[]);
  }

  discardPendingChanges(origin?: string): Promise<number> {
    return this.#call((handle) => {
      if (origin !== undefined) requireString(origin, "origin");
      const dropped = handle.discardPendingChanges(origin);
      this.#wrote();
      return dropped;
    });
  }

  conflicts(): Promise<Conflict[]> {
    return this.#call((handle) => handle.conflicts() as Conflict[]);
  }

  resolveConflict(id: string, choice: ConflictChoice): Promise<void> {
    return this.#call((handle) => {
      requireString(id, "conflict id");
      handle.resolveConflict(id, choice);
      this.#wrote();
      this.#emit("resolve");
    });
  }

  setConflictResolver(table: string, resolver: ConflictResolver | null): Promise<void> {
    return this.#call(() => {
      requireString(table, "table");
      if (resolver === null) {
        this.#resolvers.delete(table);
      } else if (typeof resolver === "function") {
        this.#resolvers.set(table, resolver);
      } else {
        throw new SyncError("ERR_INVALID_ARGUMENT", "a conflict resolver must be a function or null");
      }
    });
  }

  /** Offers each new conflict to its table's resolver and applies the answers. */
  async #runResolvers(ids: string[]): Promise<void> {
    if (ids.length === 0 || this.#resolvers.size === 0) return;
    const open = await this.conflicts();
    for (const conflict of open.filter((c) => ids.includes(c.id))) {
      const resolver = this.#resolvers.get(conflict.table);
      if (resolver === undefined) continue;
      const choice = await resolver(conflict);
      if (choice !== undefined) await this.resolveConflict(conflict.id, choice);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#enqueue(async () => {
      const handle = this.#handle;
      let failure: { error: unknown } | undefined;
      if (handle !== undefined && this.#hooks.beforeClose !== undefined) {
        try {
          await this.#hooks.beforeClose(handle);
        } catch (e) {
          failure = { error: e };
        }
      }
      this.#handle = undefined;
      await settle(() => {
        if (handle === undefined) return;
        try {
          handle.close();
        } finally {
          handle.free();
          this.#listeners.clear();
          this.#hooks.onClosed?.();
        }
      });
      if (failure !== undefined) throw toSyncError(failure.error);
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The live handle, or `ERR_CLOSED`. */
  #open(): DatabaseHandle {
    if (this.#handle === undefined) throw closedError();
    return this.#handle;
  }

  /** Runs a synchronous wasm call now, or after the queued calls when a transaction is open. */
  #call<T>(body: (handle: DatabaseHandle) => T): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    if (this.#queued === 0) return settle(() => body(this.#open()));
    return this.#enqueue(() => settle(() => body(this.#open())));
  }

  /** Appends `task` to the queue: it starts once every earlier queued task has settled. */
  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.#queued += 1;
    const result = this.#tail.then(task);
    const done = (): void => {
      this.#queued -= 1;
    };
    this.#tail = result.then(done, done);
    return result;
  }
}

/**
 * Rolls back the open transaction, if SQLite still has one (a failed COMMIT may have ended it).
 * A failure here is not reported: the error that caused the rollback is the one the caller needs.
 */
function rollback(handle: DatabaseHandle): Promise<void> {
  return settle(() => {
    if (handle.inTransaction()) handle.exec("ROLLBACK", null);
  }).catch(() => {
    // The original error is rethrown by the caller.
  });
}
