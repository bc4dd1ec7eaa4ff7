// The database service of the worker that holds the OPFS pool: it opens databases by name, runs
// the requests of every tab (its own page's and, forwarded, the other tabs'), keeps the
// transactions whose callbacks run on a page, and reports committed changes.
//
// Invariants: requests run in arrival order per database (LocalDatabase queues them); a request
// seen twice runs once here; a write that another holder may already have run (`durable`) is
// recorded in the same SQLite transaction as its effect, so repeating it after a takeover returns
// the recorded answer instead of writing twice; a transaction whose caller dies is rolled back.

import { LocalDatabase, type Transaction } from "../database.js";
import type { LocalTransaction } from "../local-transaction.js";
import { importChanged, mayWrite } from "../writes.js";
import { SyncError } from "../errors.js";
import type { ChangeEvent, ExecResult, Params } from "../types.js";
import { locks } from "../runtime.js";
import { poolGate } from "./gate.js";
import { openInPool, trimPool } from "./pool.js";
import {
  aliveLock,
  lostError,
  type ArgsMap,
  type Call,
  type Method,
  type Request,
  type ResultMap,
  type SyncEventData,
} from "./rpc.js";
import { SyncService } from "./sync-server.js";

/** Where the answers to a request go. */
export interface Reply {
  ok(value: unknown): void;
  fail(error: unknown): void;
}

/** Thrown inside a server-side transaction callback to roll it back without an error. */
const ROLLBACK = Symbol("rollback");

interface OpenTx {
  tx: Transaction;
  wrote: boolean;
  origin: string;
  /** Resolves with the page's decision, or `false` when the caller died. */
  decide: (commit: boolean) => void;
  /** Where the answer to the `end` request goes (set when it arrives). */
  ended?: { reply: Reply; durable: boolean };
  /** Stops watching the caller's liveness. */
  unwatch: AbortController;
}

interface Entry {
  db: LocalDatabase;
  conns: Set<string>;
}

/** What a handler knows of the request it serves. */
interface Served {
  req: Request;
  /** The request's sender and id: unique across the tabs of the origin. */
  key: string;
  /** Whether another holder may have run the request before. */
  durable: boolean;
}

/** The calls that act on a connection, a transaction or a sync loop rather than on the opened database. */
type Step = "close" | "txExec" | "txQuery" | "end" | "syncNow" | "syncStop" | "syncToken";

const STEPS: ReadonlySet<string> = new Set<Step>(["close", "txExec", "txQuery", "end", "syncNow", "syncStop", "syncToken"]);

function isStep(req: Request): req is Extract<Request, { method: Step }> {
  return STEPS.has(req.method);
}

/** A handler for every step, typed by the call map: a step the map gains is a compile error until served. */
type StepHandlers = { [M in Step]: (args: ArgsMap[M], served: Served) => Promise<ResultMap[M]> };

/** A handler for every call on an opened database (`entry`), typed by the call map likewise. */
type DatabaseHandlers = {
  [M in Exclude<Method, Step>]: (args: ArgsMap[M], served: Served, entry: Entry) => Promise<ResultMap[M]>;
};

export class Server {
  #self: string;
  #notify: (origin: string, database: string, kind: ChangeEvent["kind"]) => void;
  #dbs = new Map<string, Entry>();
  /** Databases being opened (the pool may be growing first), by name. */
  #opening = new Map<string, Promise<Entry>>();
  #txs = new Map<string, OpenTx>();
  /** Request keys handled recently (duplicates are ignored), with when they were seen. */
  #seen = new Map<string, number>();
  #stopped = false;
  #syncs: SyncService;

  /**
   * @param self this worker's id (its own page's requests need no durable record)
   * @param notify called after each committed change
   * @param toSync delivers an event of a sync loop to the page of the worker `to`
   */
  constructor(
    self: string,
    notify: (origin: string, database: string, kind: ChangeEvent["kind"]) => void,
    toSync: (to: string, sync: string, event: SyncEventData) => void,
  ) {
    this.#self = self;
    this.#notify = notify;
    this.#syncs = new SyncService(self, toSync, notify);
  }

  /** Runs one request; `durable` when another holder may have run it before. */
  handle(req: Request, reply: Reply, durable: boolean): void {
    if (this.#stopped) return;
    const key = `${req.from}:${req.id}`;
    if (this.#seen.has(key)) return;
    this.#seen.set(key, Date.now());
    if (this.#seen.size > 5000) this.#prune();
    this.#run(req, key, durable || req.from !== this.#self).then(
      (value) => reply.ok(value),
      (e: unknown) => reply.fail(e),
    );
  }

  /** Closes every database (rolling back open transactions); later requests are ignored. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const tx of this.#txs.values()) tx.decide(false);
    await Promise.allSettled([...this.#dbs.values()].map((entry) => entry.db.close()));
    this.#dbs.clear();
  }

  #prune(): void {
    const old = Date.now() - 60_000;
    for (const [key, at] of this.#seen) if (at < old) this.#seen.delete(key);
  }

  /** The database `req.name`, opened (once) for the connection `req.conn`. */
  async #open(req: Pick<Request, "name" | "conn">): Promise<Entry> {
    const entry = this.#dbs.get(req.name) ?? (await this.#opened(req.name));
    entry.conns.add(req.conn);
    return entry;
  }

  /** Opens `name` (growing the pool first if needed), once however many requests ask meanwhile. */
  #opened(name: string): Promise<Entry> {
    let opening = this.#opening.get(name);
    if (opening === undefined) {
      opening = openInPool(name)
        .then(async (handle) => {
          const entry: Entry = { db: new LocalDatabase(handle, name, { onClosed: trimPool, gate: poolGate }), conns: new Set() };
          if (this.#stopped) {
            await entry.db.close();
            throw new SyncError("ERR_CLOSED", "the database is closed");
          }
          this.#dbs.set(name, entry);
          return entry;
        })
        .finally(() => this.#opening.delete(name));
      this.#opening.set(name, opening);
    }
    return opening;
  }

  #run(req: Request, key: string, durable: boolean): Promise<unknown> {
    if (!Object.hasOwn(this.#steps, req.method) && !Object.hasOwn(this.#calls, req.method)) {
      // A tab running another version of the package may ask for a method this one lacks.
      return Promise.reject(new SyncError("ERR_INVALID_ARGUMENT", `unknown method ${String(req.method)}`));
    }
    const served: Served = { req, key, durable };
    return isStep(req) ? this.#step(req, served) : this.#onDatabase(req, served);
  }

  #step<M extends Step>(req: Call<M>, served: Served): Promise<ResultMap[M]> {
    return this.#steps[req.method](req.args, served);
  }

  async #onDatabase<M extends Exclude<Method, Step>>(req: Call<M>, served: Served): Promise<ResultMap[M]> {
    const entry = await this.#open(req);
    return this.#calls[req.method](req.args, served, entry);
  }

  /** How each step of a connection or transaction is served. */
  readonly #steps: StepHandlers = {
    close: (_, { req }) => this.#close(req),
    txExec: async ([txKey, sql, params]) => {
      const open = this.#openTx(txKey);
      const result = await open.tx.exec(sql, params);
      if (result.changes > 0) open.wrote = true;
      return result;
    },
    txQuery: async ([txKey, sql, params]) => {
      const open = this.#openTx(txKey);
      const rows = await open.tx.query(sql, params);
      if (mayWrite(sql)) open.wrote = true;
      return rows;
    },
    end: ([txKey, commit], { req, durable }) => this.#end(req, txKey, commit, durable),
    syncNow: (args) => this.#syncs.now(args),
    syncStop: (args) => this.#syncs.stop(args),
    syncToken: async (args) => this.#syncs.token(args),
  };

  /** How each call on the opened database is served. */
  readonly #calls: DatabaseHandlers = {
    open: async (_, __, { db }) => db.deviceId,
    syncStart: async (args, { req }, { db }) => this.#syncs.start(req.from, req.name, db, args),
    begin: (_, { req, key }, entry) => this.#begin(req, key, entry),
    exec: async ([sql, params], { req, key, durable }, entry) => {
      const result = durable ? await this.#durableExec(entry, key, sql, params) : await entry.db.exec(sql, params);
      if (result.changes > 0) this.#notify(req.from, req.name, "exec");
      return result;
    },
    query: async ([sql, params], { req }, { db }) => {
      const rows = await db.query(sql, params);
      if (mayWrite(sql)) this.#notify(req.from, req.name, "exec");
      return rows;
    },
    enableSync: (args, _, { db }) => db.enableSync(...args),
    disableSync: (args, _, { db }) => db.disableSync(...args),
    syncedTables: (_, __, { db }) => db.syncedTables(),
    vectorClock: (_, __, { db }) => db.vectorClock(),
    changeLog: (_, __, { db }) => db.changeLog(),
    generateBundle: (args, _, { db }) => db.generateBundle(...args),
    pendingChanges: (_, __, { db }) => db.pendingChanges(),
    discardPendingChanges: (args, _, { db }) => db.discardPendingChanges(...args),
    importBundle: async (args, { req }, { db }) => {
      const result = await db.importBundle(...args);
      if (importChanged(result)) this.#notify(req.from, req.name, "import");
      return result;
    },
    conflicts: (_, __, { db }) => db.conflicts(),
    resolveConflict: async (args, { req, durable }, { db }) => {
      try {
        await db.resolveConflict(...args);
      } catch (e) {
        // Repeated after a takeover: the first attempt closed the conflict already.
        if (durable && e instanceof SyncError && e.code === "ERR_CONFLICT_NOT_FOUND") return undefined;
        throw e;
      }
      this.#notify(req.from, req.name, "resolve");
      return undefined;
    },
  };

  /** Ends the connection `req.conn`; the database closes with its last connection. */
  async #close(req: Request): Promise<undefined> {
    const entry = this.#dbs.get(req.name) ?? (await this.#opening.get(req.name)?.catch(() => undefined));
    if (entry === undefined) return undefined;
    entry.conns.delete(req.conn);
    if (entry.conns.size === 0) {
      this.#dbs.delete(req.name);
      await entry.db.close();
    }
    return undefined;
  }

  /** The recorded answer of a durable write, if it committed before (kept in `_sync_rpc`). */
  #recorded(entry: Entry, key: string): Promise<string | undefined> {
    return entry.db.betweenCalls((handle) => handle.recallReply(key));
  }

  /** Records `key`'s answer inside the transaction `tx`, so that it commits with its effect. */
  #record(tx: Transaction, key: string, result: unknown): Promise<void> {
    return (tx as LocalTransaction).rememberReply(key, result);
  }

  async #durableExec(entry: Entry, key: string, sql: string, params: Params | undefined): Promise<ExecResult> {
    const before = await this.#recorded(entry, key);
    if (before !== undefined) return JSON.parse(before) as ExecResult;
    return entry.db.transaction(async (tx) => {
      const result = await tx.exec(sql, params);
      await this.#record(tx, key, result);
      return result;
    });
  }

  /** Opens a transaction whose callback runs on the caller's page; answers with its id. */
  #begin(req: Request, key: string, entry: Entry): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let started = false;
      const finished = entry.db.transaction(async (tx) => {
        const decision = new Promise<boolean>((decide) => {
          const open: OpenTx = { tx, wrote: false, origin: req.from, decide, unwatch: new AbortController() };
          this.#txs.set(key, open);
          this.#watch(open);
        });
        started = true;
        resolve(key);
        const commit = await decision;
        const open = this.#txs.get(key);
        if (!commit || open === undefined) throw ROLLBACK;
        if (open.ended?.durable === true) await this.#record(tx, key, null);
      });
      finished.then(
        () => this.#finish(key, req.name, undefined),
        (e: unknown) => {
          if (!started) reject(e);
          this.#finish(key, req.name, e);
        },
      );
    });
  }

  /** Rolls the transaction back if its caller's worker dies first. */
  #watch(open: OpenTx): void {
    if (open.origin === this.#self) return;
    const lockApi = locks();
    if (lockApi === undefined) return;
    lockApi
      .request(aliveLock(open.origin), { signal: open.unwatch.signal }, async () => {
        open.decide(false);
      })
      .catch(() => undefined);
  }

  #finish(key: string, name: string, error: unknown): void {
    const open = this.#txs.get(key);
    this.#txs.delete(key);
    if (open === undefined) return;
    open.unwatch.abort();
    const ended = open.ended;
    if (ended === undefined) return;
    if (error === undefined) {
      if (open.wrote) this.#notify(open.origin, name, "transaction");
      ended.reply.ok(undefined);
    } else if (error === ROLLBACK) {
      ended.reply.ok(undefined);
    } else {
      ended.reply.fail(error);
    }
  }

  /** The open transaction `txKey`, or the error for one rolled back because its holder went away. */
  #openTx(txKey: string): OpenTx {
    const open = this.#txs.get(txKey);
    if (open === undefined || open.ended !== undefined) {
      throw lostError("the transaction was rolled back: the tab holding the database went away");
    }
    return open;
  }

  /** Commits or rolls back; answers once SQLite has. */
  #end(req: Request, txKey: string, commit: boolean, durable: boolean): Promise<undefined> {
    const open = this.#txs.get(txKey);
    if (open === undefined || open.ended !== undefined) return this.#endUnknown(req, txKey, commit);
    return new Promise<undefined>((resolve, reject) => {
      open.ended = { reply: { ok: () => resolve(undefined), fail: reject }, durable };
      open.decide(commit);
    });
  }

  /** `end` for a transaction this holder does not have: it committed before a takeover, or it is lost. */
  async #endUnknown(req: Request, txKey: string, commit: boolean): Promise<undefined> {
    if (!commit) return undefined;
    const entry = await this.#open(req);
    if ((await this.#recorded(entry, txKey)) !== undefined) {
      // Committed by the previous holder, whose announcement may have died with it.
      this.#notify(req.from, req.name, "transaction");
      return undefined;
    }
    throw lostError("the transaction was rolled back: the tab holding the database went away");
  }
}
