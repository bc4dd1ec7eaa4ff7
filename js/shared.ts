// The half of the `Database` interface that does not depend on where SQLite runs, shared by the
// in-process database (js/database.ts, and so js/idb.ts) and the page's worker proxy
// (js/worker/client.ts): the `ERR_CLOSED` error, the `onChange` listener set, the conflict
// resolvers with the loop that runs them after an import, and `TransactionScope`, which tells a
// call made from inside a transaction's own callback (that would wait for the transaction to end,
// forever) from a call made elsewhere in the app (that waits, as documented).
//
// Invariants: a listener that throws does not keep the others from running; the resolver loop
// offers each new conflict at most once, only while it is open (a conflict closed by an earlier
// resolution or write is skipped, never an error), with its current versions, and does not depend
// on how many conflicts one row has; `TransactionScope` never refuses a call that was not made
// from inside the callback (see its comment for how much it can see).

import { requireFunction, requireString } from "./args.js";
import { SyncError } from "./errors.js";
import type { ChangeEvent, Conflict, ConflictChoice, ConflictResolver } from "./types.js";

/** Reports `e` as uncaught, after the current job (a listener's or resolver's error that nothing awaits). */
export function reportUncaught(e: unknown): void {
  queueMicrotask(() => {
    throw e;
  });
}

export function closedError(): SyncError {
  return new SyncError("ERR_CLOSED", "the database is closed");
}

/** The `onChange` listeners of one database. */
export class Listeners {
  #set = new Set<(event: ChangeEvent) => void>();

  get size(): number {
    return this.#set.size;
  }

  /** Adds `listener` (checked); returns the function that removes it. */
  add(listener: unknown): () => void {
    requireFunction(listener, "onChange needs a function");
    const entry = (event: ChangeEvent): void => (listener as (event: ChangeEvent) => void)(event);
    this.#set.add(entry);
    return () => {
      this.#set.delete(entry);
    };
  }

  /** Calls every listener registered now; one that throws is reported as uncaught, after the others. */
  emit(event: ChangeEvent): void {
    for (const listener of [...this.#set]) {
      try {
        listener(event);
      } catch (e) {
        reportUncaught(e);
      }
    }
  }

  clear(): void {
    this.#set.clear();
  }
}

/** What the resolver loop needs of the database it runs on. */
export interface ResolverHost {
  conflicts(): Promise<Conflict[]>;
  resolveConflict(id: string, choice: ConflictChoice): Promise<void>;
  /**
   * How many calls that may have written (anything) this handle has made; it only grows. The loop
   * reads the open conflicts again whenever it moved for another reason than its own resolutions.
   */
  readonly writes: number;
}

/** A row's identity across `Conflict` objects: its table and primary key. */
function rowOf(conflict: Conflict): string {
  const key = JSON.stringify(conflict.primaryKey, (_, v: unknown) =>
    typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v,
  );
  return `${conflict.table}\u0000${key}`;
}

/** The resolvers registered with `setConflictResolver`, by table, and the loop that runs them. */
export class Resolvers {
  #byTable = new Map<string, ConflictResolver>();

  /** Registers (or, with `null`, removes) the resolver of `table`; checks both arguments. */
  set(table: unknown, resolver: unknown): void {
    requireString(table, "table");
    if (resolver === null) this.#byTable.delete(table);
    else if (typeof resolver === "function") this.#byTable.set(table, resolver as ConflictResolver);
    else throw new SyncError("ERR_INVALID_ARGUMENT", "a conflict resolver must be a function or null");
  }

  /**
   * Offers each of the conflicts `ids` (new in an import), oldest first, to its table's resolver,
   * and applies the answers with `resolveConflict`. Open conflicts are read once, then again
   * before a conflict whose row this loop has resolved since (that resolution may have closed or
   * changed it) and whenever the handle wrote anything else meanwhile (a resolver's own writes,
   * or the app's). A conflict closed by then is skipped, and so is one that another tab closes
   * between the reading and the resolving (`ERR_CONFLICT_NOT_FOUND`). A resolver that throws, or
   * a choice that cannot be applied, rejects with that error; what was resolved before stays.
   */
  async run(host: ResolverHost, ids: readonly string[]): Promise<void> {
    if (ids.length === 0 || this.#byTable.size === 0) return;
    const wanted = new Set(ids);
    let open = new Map<string, Conflict>();
    let readAt = 0;
    /** Rows resolved by this loop since the last reading. */
    const resolved = new Set<string>();
    const read = async (): Promise<Conflict[]> => {
      readAt = host.writes;
      const list = await host.conflicts();
      open = new Map(list.map((c) => [c.id, c]));
      resolved.clear();
      return list;
    };
    const order = (await read()).filter((c) => wanted.has(c.id)).map((c) => c.id);
    for (const id of order) {
      let conflict = open.get(id);
      if (conflict !== undefined && (host.writes !== readAt || resolved.has(rowOf(conflict)))) {
        await read();
        conflict = open.get(id);
      }
      if (conflict === undefined) continue;
      const resolver = this.#byTable.get(conflict.table);
      if (resolver === undefined) continue;
      const choice = await resolver(conflict);
      if (choice === undefined) continue;
      const before = host.writes;
      try {
        await host.resolveConflict(id, choice);
      } catch (e) {
        if (e instanceof SyncError && e.code === "ERR_CONFLICT_NOT_FOUND") continue;
        throw e;
      }
      open.delete(id);
      resolved.add(rowOf(conflict));
      // Only this resolution wrote since the reading: `resolved` accounts for it.
      if (readAt === before && host.writes === before + 1) readAt = host.writes;
    }
  }
}

/** The promises one transaction's `tx` hands out (see {@link TransactionScope.promises}). */
export interface TxPromises {
  /** A promise settling as `work` does. */
  of<T>(work: Promise<T>): Promise<T>;
  /** Runs `compute` now; a promise settling with its value, or rejecting with what it threw. */
  now<T>(compute: () => T): Promise<T>;
}

/**
 * Which transaction of one database has its callback running, as far as that can be known for
 * sure without async context tracking (which browsers do not have).
 *
 * While a transaction is open, calls on its database wait for it to end; a call made by the
 * callback itself and awaited there would wait forever. Such a call is refused (`refusal()`) when
 * it is made
 *   - during the synchronous part of the callback (`call()`), or
 *   - in the code that continues right after a promise handed out by `tx` settles
 *     (`promises()`): `await tx.exec(…); await db.query(…)`.
 * For the second, the promise handed out is settled in a later microtask (by then the callback's
 * `await` is registered), which queues, back to back, a microtask that marks the transaction as
 * inside, the settlement (which queues the reactions of everyone awaiting that promise) and a
 * microtask that clears the mark. No other job can sit between them in the queue, so exactly the
 * code that awaited `tx`'s promise runs marked. Keeping the mark for
 * more microtask hops (to also cover `await helper(tx)` where `helper` awaits `tx.exec`, or
 * `Promise.all` of `tx` promises) would mark unrelated code too: other flows' jobs queued before
 * the settlement run during those hops, so an outside call could be refused. So not seen, and
 * still waiting: a call made after the callback awaited anything else (a fetch, a timer, a helper
 * function, `Promise.all`), or after awaiting a `tx` promise that had settled before the `await`.
 */
export class TransactionScope {
  /** The transaction whose callback may be running (set from `call()` until `end()`). */
  #open: object | undefined;
  /** Set while code known to be the callback's runs. */
  #inside: object | undefined;

  /** Runs `fn` (the callback's synchronous part) marked as inside the transaction `tx`, open until `end(tx)`. */
  call<T>(tx: object, fn: () => T): T {
    this.#open = tx;
    this.#inside = tx;
    try {
      return fn();
    } finally {
      this.#inside = undefined;
    }
  }

  /** The transaction `tx` is over: nothing is refused for it any more. */
  end(tx: object): void {
    if (this.#open === tx) this.#open = undefined;
    if (this.#inside === tx) this.#inside = undefined;
  }

  /**
   * The promises that `tx` hands out, made so that the code continuing right after each settles
   * runs marked as inside `tx` (make one per transaction: it is built for the hot path).
   */
  promises(tx: object): TxPromises {
    const enter = (): void => {
      this.#inside = tx;
    };
    const leave = (): void => {
      if (this.#inside === tx) this.#inside = undefined;
    };
    return {
      of<T>(work: Promise<T>): Promise<T> {
        return new Promise<T>((resolve, reject) => {
          work.then(
            (value) => {
              queueMicrotask(enter);
              resolve(value);
              queueMicrotask(leave);
            },
            (error: unknown) => {
              queueMicrotask(enter);
              reject(error);
              queueMicrotask(leave);
            },
          );
        });
      },
      now<T>(compute: () => T): Promise<T> {
        let resolve!: (value: T) => void;
        let reject!: (error: unknown) => void;
        const promise = new Promise<T>((yes, no) => {
          resolve = yes;
          reject = no;
        });
        // Settled in a microtask of its own, so that the caller's `await` is registered by then.
        try {
          const value = compute();
          queueMicrotask(() => {
            queueMicrotask(enter);
            resolve(value);
            queueMicrotask(leave);
          });
        } catch (error) {
          queueMicrotask(() => {
            queueMicrotask(enter);
            reject(error);
            queueMicrotask(leave);
          });
        }
        return promise;
      },
    };
  }

  /** The error for `db.<method>()` called now, if it comes from inside the open transaction's callback. */
  refusal(method: string): SyncError | undefined {
    if (this.#inside === undefined || this.#inside !== this.#open) return undefined;
    return new SyncError(
      "ERR_INVALID_ARGUMENT",
      `db.${method}() was called inside the callback of db.transaction(), where it would wait for ` +
        "the transaction to end, forever; use the callback's tx (tx.exec, tx.query) instead",
    );
  }
}
