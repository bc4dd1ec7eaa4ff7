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
import type { ChangeEvent, ExecResult, ImportResult, Params } from "../types.js";
import { locks } from "../runtime.js";
import { poolGate } from "./gate.js";
import { openInPool, trimPool } from "./pool.js";
import { aliveLock, lostError, type Request } from "./rpc.js";

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

  /**
   * @param self this worker's id (its own page's requests need no durable record)
   * @param notify called after each committed change
   */
  constructor(self: string, notify: (origin: string, database: string, kind: ChangeEvent["kind"]) => void) {
    this.#self = self;
    this.#notify = notify;
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

  async #open(req: Request): Promise<Entry> {
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

  async #run(req: Request, key: string, durable: boolean): Promise<unknown> {
    const { method, args, name } = req;
    if (method === "close") {
      const entry = this.#dbs.get(name) ?? (await this.#opening.get(name)?.catch(() => undefined));
      if (entry === undefined) return undefined;
      entry.conns.delete(req.conn);
      if (entry.conns.size === 0) {
        this.#dbs.delete(name);
        await entry.db.close();
      }
      return undefined;
    }
    if (method === "txExec" || method === "txQuery") return this.#txCall(req);
    if (method === "end") return this.#end(req, durable);
    const entry = await this.#open(req);
    const db = entry.db;
    const origin = req.from;
    switch (method) {
      case "open":
        return db.deviceId;
      case "exec": {
        const [sql, params] = args as [string, Params | undefined];
        const result = durable ? await this.#durableExec(entry, key, sql, params) : await db.exec(sql, params);
        if (result.changes > 0) this.#notify(origin, name, "exec");
        return result;
      }
      case "query": {
        const [sql, params] = args as [string, Params | undefined];
        const rows = await db.query(sql, params);
        if (mayWrite(sql)) this.#notify(origin, name, "exec");
        return rows;
      }
      case "begin":
        return this.#begin(req, key, entry);
      case "enableSync":
        return db.enableSync(args[0] as string, args[1] as never);
      case "disableSync":
        return db.disableSync(args[0] as string);
      case "syncedTables":
        return db.syncedTables();
      case "vectorClock":
        return db.vectorClock();
      case "changeLog":
        return db.changeLog();
      case "generateBundle":
        return db.generateBundle(args[0] as never);
      case "pendingChanges":
        return db.pendingChanges();
      case "discardPendingChanges":
        return db.discardPendingChanges(args[0] as never);
      case "importBundle": {
        const result: ImportResult = await db.importBundle(args[0] as Uint8Array);
        if (importChanged(result)) this.#notify(origin, name, "import");
        return result;
      }
      case "conflicts":
        return db.conflicts();
      case "resolveConflict":
        try {
          await db.resolveConflict(args[0] as string, args[1] as never);
        } catch (e) {
          // Repeated after a takeover: the first attempt closed the conflict already.
          if (durable && e instanceof SyncError && e.code === "ERR_CONFLICT_NOT_FOUND") return undefined;
          throw e;
        }
        this.#notify(origin, name, "resolve");
        return undefined;
      default:
        throw new SyncError("ERR_INVALID_ARGUMENT", `unknown method ${String(method)}`);
    }
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

  async #txCall(req: Request): Promise<unknown> {
    const open = this.#txs.get(req.args[0] as string);
    if (open === undefined || open.ended !== undefined) {
      throw lostError("the transaction was rolled back: the tab holding the database went away");
    }
    const [, sql, params] = req.args as [string, string, Params | undefined];
    if (req.method === "txExec") {
      const result = await open.tx.exec(sql, params);
      if (result.changes > 0) open.wrote = true;
      return result;
    }
    const rows = await open.tx.query(sql, params);
    if (mayWrite(sql)) open.wrote = true;
    return rows;
  }

  /** Commits or rolls back; answers once SQLite has. */
  #end(req: Request, durable: boolean): Promise<void> {
    const [txKey, commit] = req.args as [string, boolean];
    const open = this.#txs.get(txKey);
    if (open === undefined || open.ended !== undefined) return this.#endUnknown(req, txKey, commit);
    return new Promise<void>((resolve, reject) => {
      open.ended = { reply: { ok: () => resolve(), fail: reject }, durable };
      open.decide(commit);
    });
  }

  /** `end` for a transaction this holder does not have: it committed before a takeover, or it is lost. */
  async #endUnknown(req: Request, txKey: string, commit: boolean): Promise<void> {
    if (!commit) return;
    const entry = await this.#open(req);
    if ((await this.#recorded(entry, txKey)) !== undefined) {
      // Committed by the previous holder, whose announcement may have died with it.
      this.#notify(req.from, req.name, "transaction");
      return;
    }
    throw lostError("the transaction was rolled back: the tab holding the database went away");
  }
}
