// The in-process implementation of the `Database` interface (js/api.ts) over the wasm
// `DatabaseHandle`.
//
// Invariants: every argument is checked (and copied) by js/args.ts when the call is made, before
// anything reaches the wasm glue; every call into the handle passes the database's `CallGate` and
// `intoWasm` (js/local-transaction.ts, js/instance.ts), so its errors become `SyncError`s and it
// never enters an instance stopped by a trap; calls on the database run in the order they were
// made, and while a `transaction` is open they wait for it to end (only the callback's `tx`
// reaches SQLite meanwhile), except calls made from inside the callback as far as
// `TransactionScope` (js/shared.ts) can tell, which reject at once; once `close()` has been called
// every call rejects with `ERR_CLOSED`, and the handle is released after the calls queued before
// it have run.

import type { Database, Transaction } from "./api.js";
import {
  checkBundleOptions,
  checkBytes,
  checkChoice,
  checked,
  checkSyncOptions,
  requireFunction,
  requireString,
} from "./args.js";
import { SyncError, toSyncError } from "./errors.js";
import { intoWasm } from "./instance.js";
import {
  execOn,
  LocalTransaction,
  noGate,
  queryOn,
  rollback,
  settle,
  statement,
  type CallGate,
} from "./local-transaction.js";
import { closedError, Listeners, reportUncaught, Resolvers, TransactionScope, type ResolverHost } from "./shared.js";
import { importChanged, mayWrite, readOnly } from "./writes.js";
import type { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import type { ImportedRound, RoundOutcome, Step } from "./sync/wasm.js";
import type {
  ChangeEvent,
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

/** What a storage layer over a `LocalDatabase` can hook into (js/idb.ts uses all of them). */
export interface LocalHooks {
  /** Called once the handle has been released. */
  onClosed?: () => void;
  /**
   * Called synchronously right after a call that may have changed the database returned (a
   * statement, a committed transaction, schema or sync changes, an import, a resolution).
   */
  onWrite?: () => void;
  /**
   * Awaited before `generateBundle` hands out a bundle: resolves once every write made before it
   * is durably stored, so that a bundle never carries changes a crash could take back (and whose
   * sequence numbers the replica would then reuse). Rejects (`ERR_STORAGE_UNAVAILABLE`, retryable)
   * when storing failed; the bundle is then not handed out.
   */
  persisted?: () => Promise<void>;
  /**
   * Runs as the last queued task of `close()`, before the handle is released; `close()` resolves
   * only after it has settled (and rejects if it rejects, the handle being released anyway).
   */
  beforeClose?: (handle: DatabaseHandle) => Promise<void> | void;
  /** When calls into the handle may run (default {@link noGate}: at once). */
  gate?: CallGate;
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
  #resolvers = new Resolvers();
  /** What the resolver loop calls. */
  #host: ResolverHost;
  /** Calls that may have written, so far (see {@link ResolverHost.writes}). */
  #writes = 0;
  /** Which transaction's callback is running, to refuse calls that would wait for it forever. */
  #scope = new TransactionScope();
  /** Set by the first `close()`; resolves once the handle is released. */
  #closing: Promise<void> | undefined;
  /** The `onChange` listeners. */
  #listeners = new Listeners();
  /** The database name reported in change events. */
  #name: string;
  /** Storage hooks (giving OPFS back, saving to IndexedDB). */
  #hooks: LocalHooks;
  /** When calls into the handle may run. */
  #gate: CallGate;
  /** Stops the sync loops of this database (awaited by `close()` before the handle is released). */
  #syncs = new Set<() => Promise<void>>();

  /**
   * Wraps an open handle; the database owns it from now on.
   * @param name the database name reported in change events
   * @param hooks called once the handle has been released, or a set of {@link LocalHooks}
   */
  constructor(handle: DatabaseHandle, name = "main.db", hooks?: (() => void) | LocalHooks) {
    this.#handle = handle;
    this.deviceId = intoWasm(() => handle.deviceId);
    this.#name = name;
    this.#hooks = typeof hooks === "function" ? { onClosed: hooks } : (hooks ?? {});
    this.#gate = this.#hooks.gate ?? noGate;
    const db = this;
    this.#host = {
      conflicts: () => this.conflicts(),
      resolveConflict: (id, choice) => this.resolveConflict(id, choice),
      get writes() {
        return db.#writes;
      },
    };
  }

  /**
   * Runs `body` on the handle between calls: at once when nothing is queued, otherwise after the
   * queued calls (and any open transaction) have settled. Rejects with `ERR_CLOSED` once closing.
   * @internal
   */
  betweenCalls<T>(body: (handle: DatabaseHandle) => T): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    return this.#schedule(body);
  }

  /**
   * Runs a sync round that `drive` steps through (js/sync/wasm.ts), once earlier writes are stored,
   * each step between calls; then, as after `importBundle`, storage and listeners hear of what its
   * pages imported (even when it failed part way) and the resolvers run (one that throws is
   * reported as uncaught: the round stands). Rejects with the round's error. @internal
   */
  async syncRound(drive: (step: Step) => Promise<RoundOutcome>): Promise<ImportedRound> {
    if (this.#hooks.persisted !== undefined) await this.#hooks.persisted();
    const outcome = await drive((body) => this.betweenCalls(body).finally(() => this.#wrote()));
    const done = "report" in outcome ? outcome.report : undefined;
    const received = done?.received ?? ("received" in outcome ? outcome.received : 0);
    const newConflicts = done?.newConflicts ?? ("newConflicts" in outcome ? outcome.newConflicts : []);
    if (received > 0 || newConflicts.length > 0) this.#emit("import");
    await this.#resolvers.run(this.#host, newConflicts).catch((e: unknown) => {
      if (this.#closing === undefined) reportUncaught(e);
    });
    if (done === undefined) throw "error" in outcome ? outcome.error : new SyncError("ERR_INTERNAL", "internal error: a round ended without a report");
    return done;
  }

  /** Registers a sync loop's `stop`, awaited by `close()` before the handle goes; returns its unregistering. @internal */
  onClosing(stop: () => Promise<void>): () => void {
    this.#syncs.add(stop);
    return () => {
      this.#syncs.delete(stop);
    };
  }

  /** Tells the storage hook that the database may have changed. */
  #wrote(): void {
    this.#writes += 1;
    this.#hooks.onWrite?.();
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    return this.#call("exec", () => statement(sql, params), (handle, stmt) => {
      let result: ExecResult;
      try {
        result = execOn(handle, stmt);
      } finally {
        // Even a failing script may have committed its first statements.
        this.#wrote();
      }
      if (result.changes > 0) this.#emit("exec");
      return result;
    });
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    return this.#call("query", () => statement(sql, params), (handle, stmt) => {
      let rows: Row[];
      try {
        rows = queryOn(handle, stmt);
      } finally {
        if (!readOnly(stmt.sql)) this.#wrote();
      }
      if (mayWrite(stmt.sql)) this.#emit("exec");
      return rows;
    });
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    return this.#listeners.add(listener);
  }

  /** Tells the listeners, after the current call has returned, that `kind` committed. */
  #emit(kind: ChangeEvent["kind"]): void {
    if (this.#listeners.size === 0) return;
    const event: ChangeEvent = { database: this.#name, kind, local: true };
    queueMicrotask(() => this.#listeners.emit(event));
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    const refused = this.#refused("transaction");
    if (refused !== undefined) return refused;
    return checked(
      () => requireFunction(fn, "transaction needs a callback"),
      () =>
        this.#enqueue(async () => {
          const handle = this.#open();
          await settle(this.#gate, () => execOn(handle, { sql: "BEGIN", params: null }));
          const tx = new LocalTransaction(handle, this.#gate, this.#scope);
          let value: T;
          try {
            value = await this.#scope.call(tx, () => fn(tx));
          } catch (e) {
            this.#end(tx);
            await rollback(handle, this.#gate);
            throw e;
          }
          this.#end(tx);
          try {
            await settle(this.#gate, () => execOn(handle, { sql: "COMMIT", params: null }));
          } catch (e) {
            await rollback(handle, this.#gate);
            throw e;
          }
          this.#wrote();
          if (tx.wrote) this.#emit("transaction");
          return value;
        }),
    );
  }

  #end(tx: LocalTransaction): void {
    tx.end();
    this.#scope.end(tx);
  }

  enableSync(table: string, options?: SyncOptions): Promise<void> {
    const args = (): [string, SyncOptions | undefined] => {
      requireString(table, "table");
      return [table, checkSyncOptions(options)];
    };
    return this.#call("enableSync", args, (handle, [name, opts]) => {
      handle.enableSync(name, opts ?? null);
      this.#wrote();
    });
  }

  disableSync(table: string): Promise<void> {
    return this.#call("disableSync", () => requireString(table, "table"), (handle) => {
      handle.disableSync(table);
      this.#wrote();
    });
  }

  syncedTables(): Promise<string[]> {
    return this.#call("syncedTables", noArgs, (handle) => handle.syncedTables());
  }

  vectorClock(): Promise<VectorClock> {
    return this.#call("vectorClock", noArgs, (handle) => handle.vectorClock());
  }

  changeLog(): Promise<ChangeRecord[]> {
    return this.#call("changeLog", noArgs, (handle) => handle.changeLog());
  }

  async generateBundle(options?: GenerateBundleOptions): Promise<Uint8Array | null> {
    const bundle = await this.#call("generateBundle", () => checkBundleOptions(options), (handle, { peerId, unsentOnly }) => {
      const bytes = handle.generateBundle(peerId, unsentOnly);
      this.#wrote();
      return bytes;
    });
    if (bundle !== null && this.#hooks.persisted !== undefined) await this.#hooks.persisted();
    return bundle;
  }

  async importBundle(bytes: Uint8Array): Promise<ImportResult> {
    const result = await this.#call("importBundle", () => checkBytes(bytes, "importBundle's bytes"), (handle, view) => {
      const imported = handle.importBundle(view);
      this.#wrote();
      return imported;
    });
    if (importChanged(result)) this.#emit("import");
    await this.#resolvers.run(this.#host, result.newConflicts);
    return result;
  }

  pendingChanges(): Promise<PendingChange[]> {
    return this.#call("pendingChanges", noArgs, (handle) => handle.pendingChanges());
  }

  discardPendingChanges(origin?: string): Promise<number> {
    const args = (): void => {
      if (origin !== undefined) requireString(origin, "origin");
    };
    return this.#call("discardPendingChanges", args, (handle) => {
      const dropped = handle.discardPendingChanges(origin);
      this.#wrote();
      return dropped;
    });
  }

  conflicts(): Promise<Conflict[]> {
    return this.#call("conflicts", noArgs, (handle) => handle.conflicts());
  }

  resolveConflict(id: string, choice: ConflictChoice): Promise<void> {
    const args = (): ConflictChoice => {
      requireString(id, "conflict id");
      return checkChoice(choice);
    };
    return this.#call("resolveConflict", args, (handle, checkedChoice) => {
      handle.resolveConflict(id, checkedChoice);
      this.#wrote();
      this.#emit("resolve");
    });
  }

  setConflictResolver(table: string, resolver: ConflictResolver | null): Promise<void> {
    return this.#call("setConflictResolver", noArgs, () => this.#resolvers.set(table, resolver));
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      const refused = this.#refused("close");
      if (refused !== undefined) return refused;
    }
    this.#closing ??= this.#enqueue(async () => {
      await Promise.allSettled([...this.#syncs].map((stop) => stop()));
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
      try {
        await settle(this.#gate, () => {
          if (handle === undefined) return;
          try {
            handle.close();
          } finally {
            handle.free();
          }
        });
      } finally {
        // Also when the instance has stopped (nothing can be released there): what JS holds for
        // the database (a Web Lock, a count of open OPFS databases) is let go all the same.
        this.#listeners.clear();
        this.#hooks.onClosed?.();
      }
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

  /** A rejection for `db.<method>()` when closing, or when made from inside a transaction callback. */
  #refused(method: string): Promise<never> | undefined {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    const refusal = this.#scope.refusal(method);
    return refusal === undefined ? undefined : Promise.reject(refusal);
  }

  /**
   * A public method: refused when closing or from inside a transaction callback; otherwise its
   * arguments are checked now (`args`, whose throw is the rejection) and `body` runs on the
   * handle now, or after the queued calls when a transaction is open.
   */
  #call<A, T>(method: string, args: () => A, body: (handle: DatabaseHandle, args: A) => T): Promise<T> {
    const refused = this.#refused(method);
    if (refused !== undefined) return refused;
    return checked(args, (checkedArgs) => this.#schedule((handle) => body(handle, checkedArgs)));
  }

  /** Runs a synchronous wasm call now, or after the queued calls when a transaction is open. */
  #schedule<T>(body: (handle: DatabaseHandle) => T): Promise<T> {
    if (this.#queued === 0) return settle(this.#gate, () => body(this.#open()));
    return this.#enqueue(() => settle(this.#gate, () => body(this.#open())));
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

function noArgs(): undefined {
  return undefined;
}
