// The page side of OPFS storage: `WorkerDatabase` implements `Database` by forwarding every call
// to the package worker (js/worker/host.ts) over the page's `Link` (js/worker/link.ts). One worker
// serves all databases of the page; it starts with the first `openDatabase` and is terminated
// (releasing the OPFS handles) when the last database closes.
//
// Invariants: arguments are checked (and copied) by js/args.ts before anything is posted, as the
// in-process database checks them; calls reach the worker in the order they were made; each is
// answered once, errors as `SyncError`s; transaction callbacks and conflict resolvers run on the
// page; a call made from inside a transaction callback (as far as `TransactionScope` in
// js/shared.ts can tell) rejects at once instead of waiting for that transaction; a transaction
// begun before `close()` can still run its statements and commit (close waits for it); a
// transaction rolled back because the tab holding the database went away runs its callback again.

import type { Database, Transaction } from "../database.js";
import {
  checkBundleOptions,
  checkBytes,
  checkChoice,
  checked,
  checkParams,
  checkSyncOptions,
  requireFunction,
  requireString,
} from "../args.js";
import { SyncError } from "../errors.js";
import { closedError, Listeners, Resolvers, TransactionScope, type ResolverHost, type TxPromises } from "../shared.js";
import { readOnly } from "../writes.js";
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
} from "../types.js";
import { sharedLink, type Link, type SyncSubscriber } from "./link.js";
import { isLost, type ArgsMap, type Method, type ResultMap } from "./rpc.js";

/** The calls of a sync loop's mirror (js/worker/sync-client.ts). */
type SyncMethod = "syncStart" | "syncNow" | "syncStop" | "syncToken";

/** Opens `name` through the page's package worker (started on first use). */
export async function openThroughPackageWorker(name: string): Promise<WorkerDatabase> {
  const current = sharedLink();
  const conn = crypto.randomUUID();
  const db = new WorkerDatabase(current, conn, name);
  current.add(db);
  try {
    const deviceId = await current.call(conn, name, "open", []);
    db.opened(deviceId);
    return db;
  } catch (e) {
    await current.remove(db);
    throw e;
  }
}

/** The `tx` of a transaction whose SQLite transaction lives in the worker. */
class RemoteTransaction implements Transaction {
  #db: WorkerDatabase;
  #promises: TxPromises;
  #id: string | undefined;
  /** Set when a call found the transaction gone with its holder. */
  lost = false;

  constructor(db: WorkerDatabase, scope: TransactionScope, id: string) {
    this.#db = db;
    this.#promises = scope.promises(this);
    this.#id = id;
  }

  end(): void {
    this.#id = undefined;
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    return this.#promises.of(this.#send(sql, params, (args) => this.#db.sendInTransaction("txExec", args)));
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    return this.#promises.of(this.#send(sql, params, (args) => this.#db.sendInTransaction("txQuery", args)));
  }

  /** Checks a statement of this transaction, then sends it with `send`. */
  async #send<T>(sql: string, params: Params | undefined, send: (args: ArgsMap["txExec"]) => Promise<T>): Promise<T> {
    if (this.#id === undefined) throw new SyncError("ERR_CLOSED", "the transaction has already ended");
    requireString(sql, "sql");
    const checkedParams = checkParams(params) ?? undefined;
    try {
      return await send([this.#id, sql, checkedParams]);
    } catch (e) {
      if (isLost(e)) this.lost = true;
      throw e;
    }
  }
}

/** The public name of each method, for the message of a refused call. */
const PUBLIC_NAME: Partial<Record<Method, string>> = { begin: "transaction" };

/** Methods that never write: they leave the count the resolver loop watches unchanged. */
const READ_ONLY = new Set<Method>(["open", "syncedTables", "vectorClock", "changeLog", "conflicts", "pendingChanges"]);

/** {@link Database} whose SQLite runs in the package worker (OPFS storage on a page). */
export class WorkerDatabase implements Database {
  #deviceId = "";
  #link: Link;
  #conn: string;
  #name: string;
  #closing: Promise<void> | undefined;
  #resolvers = new Resolvers();
  #host: ResolverHost;
  /** Calls sent that may have written (see {@link ResolverHost.writes}). */
  #writes = 0;
  #scope = new TransactionScope();
  #listeners = new Listeners();
  /** Stops this page's sync loops of this database (awaited by `close()`). */
  #syncs = new Set<() => Promise<void>>();

  /** @internal */
  constructor(link: Link, conn: string, name: string) {
    this.#link = link;
    this.#conn = conn;
    this.#name = name;
    const db = this;
    this.#host = {
      conflicts: () => this.conflicts(),
      resolveConflict: (id, choice) => this.resolveConflict(id, choice),
      get writes() {
        return db.#writes;
      },
    };
  }

  /** @internal */
  opened(deviceId: string): void {
    this.#deviceId = deviceId;
  }

  get deviceId(): string {
    return this.#deviceId;
  }

  /** The worker serving this database (for tests that need to kill it). @internal */
  get worker(): Worker {
    return this.#link.worker;
  }

  /** A rejection for `db.<method>()` when closing, or when made from inside a transaction callback. */
  #refused(method: string): Promise<never> | undefined {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    const refusal = this.#scope.refusal(method);
    return refusal === undefined ? undefined : Promise.reject(refusal);
  }

  /**
   * Sends one call on this database (its arguments already checked); `writes` tells whether it
   * may write (see {@link ResolverHost.writes}). @internal
   */
  send<M extends Method>(method: M, args: ArgsMap[M], writes = !READ_ONLY.has(method)): Promise<ResultMap[M]> {
    const refused = this.#refused(PUBLIC_NAME[method] ?? method);
    if (refused !== undefined) return refused;
    if (writes) this.#writes += 1;
    return this.#link.call(this.#conn, this.#name, method, args);
  }

  /**
   * Sends a step of a transaction that began before any `close()`: the worker's close waits for
   * that transaction to end, so its statements and its end still go through. @internal
   */
  sendInTransaction<M extends "txExec" | "txQuery" | "end">(method: M, args: ArgsMap[M]): Promise<ResultMap[M]> {
    if (method === "end") this.#writes += 1;
    return this.#link.call(this.#conn, this.#name, method, args);
  }

  /**
   * Sends a call of a sync loop's mirror; a stop goes through while closing (close stops the
   * loops first), the others are refused then. @internal
   */
  sendForSync<M extends SyncMethod>(method: M, args: ArgsMap[M]): Promise<ResultMap[M]> {
    if (method !== "syncStop" && method !== "syncToken" && this.#closing !== undefined) return Promise.reject(closedError());
    return this.#link.call(this.#conn, this.#name, method, args);
  }

  /** Delivers the events of the loop `id` to `sync`; registers its `stop` with `close()`. @internal */
  attachSync(id: string, sync: SyncSubscriber, stop: () => Promise<void>): () => void {
    const detach = this.#link.addSync(id, sync);
    this.#syncs.add(stop);
    return () => {
      detach();
      this.#syncs.delete(stop);
    };
  }

  /** Runs the conflict resolvers for conflicts a sync round made (as after an import). @internal */
  runResolvers(ids: readonly string[]): Promise<void> {
    return this.#resolvers.run(this.#host, ids);
  }

  /** Delivers a change event to this database's listeners. @internal */
  dispatch(event: ChangeEvent): void {
    if (event.database !== this.#name) return;
    this.#listeners.emit(event);
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    return this.#checkedSend("exec", () => {
      requireString(sql, "sql");
      return [sql, checkParams(params) ?? undefined];
    });
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    const refused = this.#refused("query");
    if (refused !== undefined) return refused;
    return checked(
      (): ArgsMap["query"] => {
        requireString(sql, "sql");
        return [sql, checkParams(params) ?? undefined];
      },
      (args) => this.send("query", args, !readOnly(sql)),
    );
  }

  /** Sends `method` with the arguments `args()` returns; a throw there is the rejection. */
  #checkedSend<M extends Method>(method: M, args: () => ArgsMap[M]): Promise<ResultMap[M]> {
    const refused = this.#refused(method);
    if (refused !== undefined) return refused;
    return checked(args, (checkedArgs) => this.send(method, checkedArgs));
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    const refused = this.#refused("transaction");
    if (refused !== undefined) return refused;
    requireFunction(fn, "transaction needs a callback");
    for (let attempt = 1; ; attempt++) {
      const id = await this.send("begin", []);
      const tx = new RemoteTransaction(this, this.#scope, id);
      let value: T;
      try {
        value = await this.#scope.call(tx, () => fn(tx));
      } catch (e) {
        this.#end(tx);
        if (tx.lost && attempt < 5) continue;
        await this.sendInTransaction("end", [id, false]).catch(() => undefined);
        throw e;
      }
      this.#end(tx);
      try {
        await this.sendInTransaction("end", [id, true]);
      } catch (e) {
        if (isLost(e) && attempt < 5) continue;
        throw e;
      }
      return value;
    }
  }

  #end(tx: RemoteTransaction): void {
    tx.end();
    this.#scope.end(tx);
  }

  async enableSync(table: string, options?: SyncOptions): Promise<void> {
    await this.#checkedSend("enableSync", () => {
      requireString(table, "table");
      return [table, checkSyncOptions(options)];
    });
  }

  async disableSync(table: string): Promise<void> {
    await this.#checkedSend("disableSync", () => {
      requireString(table, "table");
      return [table];
    });
  }

  syncedTables(): Promise<string[]> {
    return this.send("syncedTables", []);
  }

  vectorClock(): Promise<VectorClock> {
    return this.send("vectorClock", []);
  }

  changeLog(): Promise<ChangeRecord[]> {
    return this.send("changeLog", []);
  }

  generateBundle(options?: GenerateBundleOptions): Promise<Uint8Array | null> {
    return this.#checkedSend("generateBundle", () => {
      const { peerId, unsentOnly } = checkBundleOptions(options);
      return [peerId === undefined ? { unsentOnly } : { peerId, unsentOnly }];
    });
  }

  async importBundle(bytes: Uint8Array): Promise<ImportResult> {
    const result = await this.#checkedSend("importBundle", () => [checkBytes(bytes, "importBundle's bytes")]);
    await this.#resolvers.run(this.#host, result.newConflicts);
    return result;
  }

  pendingChanges(): Promise<PendingChange[]> {
    return this.send("pendingChanges", []);
  }

  discardPendingChanges(origin?: string): Promise<number> {
    return this.#checkedSend("discardPendingChanges", () => {
      if (origin === undefined) return [];
      requireString(origin, "origin");
      return [origin];
    });
  }

  conflicts(): Promise<Conflict[]> {
    return this.send("conflicts", []);
  }

  async resolveConflict(id: string, choice: ConflictChoice): Promise<void> {
    await this.#checkedSend("resolveConflict", () => {
      requireString(id, "conflict id");
      return [id, checkChoice(choice)];
    });
  }

  async setConflictResolver(table: string, resolver: ConflictResolver | null): Promise<void> {
    const refused = this.#refused("setConflictResolver");
    if (refused !== undefined) return refused;
    this.#resolvers.set(table, resolver);
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    return this.#listeners.add(listener);
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      const refused = this.#refused("close");
      if (refused !== undefined) return refused;
    }
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#syncs].map((stop) => stop()));
      try {
        await this.#link.call(this.#conn, this.#name, "close", []);
      } catch {
        // The worker is gone already: nothing is held any more.
      }
      this.#listeners.clear();
      await this.#link.remove(this);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
