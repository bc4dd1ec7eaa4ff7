// The page side of OPFS storage: `WorkerDatabase` implements `Database` by forwarding every call
// to the package worker (js/worker/host.ts) with `postMessage`. One worker serves all databases
// of the page; it starts with the first `openDatabase` and is terminated (releasing the OPFS
// handles) when the last database closes.
//
// Invariants: calls reach the worker in the order they were made; each is answered once, errors
// as `SyncError`s; transaction callbacks and conflict resolvers run on the page; a transaction
// begun before `close()` can still run its statements and commit (close waits for it); a
// transaction rolled back because the tab holding the database went away runs its callback again.

import type { Database, Transaction } from "../database.js";
import { SyncError, toSyncError } from "../errors.js";
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
} from "../types.js";
import { fromWire, isLost, type ChangeEvent, type Method, type Response } from "./rpc.js";

type FromWorker = Response | { kind: "change"; event: ChangeEvent };

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** The page's connection to its package worker. */
class Link {
  readonly worker: Worker;
  #next = 1;
  #pending = new Map<number, Pending>();
  #databases = new Set<WorkerDatabase>();
  #dead: SyncError | undefined;

  constructor() {
    this.worker = new Worker(new URL("./host.js", import.meta.url), { type: "module", name: "sqlite-sync-wasm" });
    this.worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(event.data);
    this.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(
        new SyncError("ERR_STORAGE_UNAVAILABLE", `the sqlite-sync-wasm worker failed: ${event.message || "it did not load"}`),
      );
    };
  }

  /**
   * Sends one call; resolves with the worker's answer. Arguments that cannot be cloned (a symbol,
   * a function) reject with `ERR_INVALID_ARGUMENT`, as the in-process database rejects them.
   */
  call(conn: string, name: string, method: Method, args: unknown[]): Promise<unknown> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      try {
        this.worker.postMessage({ kind: "req", id, conn, name, method, args });
      } catch (e) {
        reject(
          e instanceof DOMException && e.name === "DataCloneError"
            ? new SyncError("ERR_INVALID_ARGUMENT", `unsupported value: ${e.message}`, { cause: e })
            : toSyncError(e),
        );
        return;
      }
      this.#pending.set(id, { resolve, reject });
    });
  }

  add(db: WorkerDatabase): void {
    this.#databases.add(db);
  }

  /** Forgets a closed database; the last one asks the worker to let go and terminates it. */
  async remove(db: WorkerDatabase): Promise<void> {
    this.#databases.delete(db);
    if (this.#databases.size > 0 || this.#dead !== undefined) return;
    if (link === this) link = undefined;
    const id = this.#next++;
    const done = new Promise((resolve) => this.#pending.set(id, { resolve, reject: resolve }));
    this.worker.postMessage({ kind: "shutdown", id });
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 2000))]);
    this.worker.terminate();
    this.#fail(new SyncError("ERR_CLOSED", "the database is closed"));
  }

  #receive(message: FromWorker): void {
    if (message.kind === "change") {
      for (const db of this.#databases) db.dispatch(message.event);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(fromWire(message.error));
  }

  #fail(error: SyncError): void {
    this.#dead ??= error;
    if (link === this) link = undefined;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}

let link: Link | undefined;

/** Opens `name` through the page's package worker (started on first use). */
export async function openWorkerDatabase(name: string): Promise<WorkerDatabase> {
  link ??= new Link();
  const current = link;
  const conn = crypto.randomUUID();
  const db = new WorkerDatabase(current, conn, name);
  current.add(db);
  try {
    const deviceId = (await current.call(conn, name, "open", [])) as string;
    db.opened(deviceId);
    return db;
  } catch (e) {
    await current.remove(db);
    throw e;
  }
}

function closedError(): SyncError {
  return new SyncError("ERR_CLOSED", "the database is closed");
}

function requireString(value: unknown, what: string): void {
  if (typeof value !== "string") {
    throw new SyncError("ERR_INVALID_ARGUMENT", `${what} must be a string, got ${typeof value}`);
  }
}

/** The `tx` of a transaction whose SQLite transaction lives in the worker. */
class RemoteTransaction implements Transaction {
  #db: WorkerDatabase;
  #id: string | undefined;
  /** Set when a call found the transaction gone with its holder. */
  lost = false;

  constructor(db: WorkerDatabase, id: string) {
    this.#db = db;
    this.#id = id;
  }

  end(): void {
    this.#id = undefined;
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    return this.#send("txExec", sql, params) as Promise<ExecResult>;
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    return this.#send("txQuery", sql, params) as Promise<Row[]>;
  }

  async #send(method: "txExec" | "txQuery", sql: string, params: Params | undefined): Promise<unknown> {
    if (this.#id === undefined) throw new SyncError("ERR_CLOSED", "the transaction has already ended");
    requireString(sql, "sql");
    try {
      return await this.#db.sendInTransaction(method, [this.#id, sql, params]);
    } catch (e) {
      if (isLost(e)) this.lost = true;
      throw e;
    }
  }
}

/** {@link Database} whose SQLite runs in the package worker (OPFS storage on a page). */
export class WorkerDatabase implements Database {
  #deviceId = "";
  #link: Link;
  #conn: string;
  #name: string;
  #closing: Promise<void> | undefined;
  #resolvers = new Map<string, ConflictResolver>();
  #listeners = new Set<(event: ChangeEvent) => void>();

  /** @internal */
  constructor(link: Link, conn: string, name: string) {
    this.#link = link;
    this.#conn = conn;
    this.#name = name;
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

  /** Sends one call on this database. @internal */
  send(method: Method, args: unknown[]): Promise<unknown> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    return this.#link.call(this.#conn, this.#name, method, args);
  }

  /**
   * Sends a step of a transaction that began before any `close()`: the worker's close waits for
   * that transaction to end, so its statements and its end still go through. @internal
   */
  sendInTransaction(method: "txExec" | "txQuery" | "end", args: unknown[]): Promise<unknown> {
    return this.#link.call(this.#conn, this.#name, method, args);
  }

  /** Delivers a change event to this database's listeners. @internal */
  dispatch(event: ChangeEvent): void {
    if (event.database !== this.#name) return;
    for (const listener of [...this.#listeners]) listener(event);
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    if (typeof sql !== "string") return Promise.reject(new SyncError("ERR_INVALID_ARGUMENT", "sql must be a string"));
    return this.send("exec", [sql, params]) as Promise<ExecResult>;
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    if (typeof sql !== "string") return Promise.reject(new SyncError("ERR_INVALID_ARGUMENT", "sql must be a string"));
    return this.send("query", [sql, params]) as Promise<Row[]>;
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T> {
    if (this.#closing !== undefined) throw closedError();
    if (typeof fn !== "function") throw new SyncError("ERR_INVALID_ARGUMENT", "transaction needs a callback");
    for (let attempt = 1; ; attempt++) {
      const id = (await this.send("begin", [])) as string;
      const tx = new RemoteTransaction(this, id);
      let value: T;
      try {
        value = await fn(tx);
      } catch (e) {
        tx.end();
        if (tx.lost && attempt < 5) continue;
        await this.sendInTransaction("end", [id, false]).catch(() => undefined);
        throw e;
      }
      tx.end();
      try {
        await this.sendInTransaction("end", [id, true]);
      } catch (e) {
        if (isLost(e) && attempt < 5) continue;
        throw e;
      }
      return value;
    }
  }

  async enableSync(table: string, options?: SyncOptions): Promise<void> {
    requireString(table, "table");
    await this.send("enableSync", [table, options]);
  }

  async disableSync(table: string): Promise<void> {
    requireString(table, "table");
    await this.send("disableSync", [table]);
  }

  syncedTables(): Promise<string[]> {
    return this.send("syncedTables", []) as Promise<string[]>;
  }

  vectorClock(): Promise<VectorClock> {
    return this.send("vectorClock", []) as Promise<VectorClock>;
  }

  changeLog(): Promise<ChangeRecord[]> {
    return this.send("changeLog", []) as Promise<ChangeRecord[]>;
  }

  generateBundle(options?: GenerateBundleOptions): Promise<Uint8Array | null> {
    return this.send("generateBundle", [options]) as Promise<Uint8Array | null>;
  }

  async importBundle(bytes: Uint8Array): Promise<ImportResult> {
    if (!(bytes instanceof Uint8Array)) {
      throw new SyncError("ERR_INVALID_ARGUMENT", "importBundle needs a Uint8Array");
    }
    const result = (await this.send("importBundle", [bytes])) as ImportResult;
    await this.#runResolvers(result.newConflicts);
    return result;
  }

  pendingChanges(): Promise<PendingChange[]> {
    return this.send("pendingChanges", []) as Promise<PendingChange[]>;
  }

  async discardPendingChanges(origin?: string): Promise<number> {
    if (origin !== undefined) requireString(origin, "origin");
    return (await this.send("discardPendingChanges", [origin])) as number;
  }

  conflicts(): Promise<Conflict[]> {
    return this.send("conflicts", []) as Promise<Conflict[]>;
  }

  async resolveConflict(id: string, choice: ConflictChoice): Promise<void> {
    requireString(id, "conflict id");
    await this.send("resolveConflict", [id, choice]);
  }

  async setConflictResolver(table: string, resolver: ConflictResolver | null): Promise<void> {
    if (this.#closing !== undefined) throw closedError();
    requireString(table, "table");
    if (resolver === null) this.#resolvers.delete(table);
    else if (typeof resolver === "function") this.#resolvers.set(table, resolver);
    else throw new SyncError("ERR_INVALID_ARGUMENT", "a conflict resolver must be a function or null");
  }

  /** Offers each new conflict to its table's resolver (on the page) and applies the answers. */
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

  onChange(listener: (event: ChangeEvent) => void): () => void {
    if (typeof listener !== "function") throw new SyncError("ERR_INVALID_ARGUMENT", "onChange needs a function");
    const entry = (event: ChangeEvent): void => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
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
