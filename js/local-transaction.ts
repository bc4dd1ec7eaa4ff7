// The synchronous side of the in-process database (js/database.ts): calls into the wasm
// `DatabaseHandle` as Promises (`settle`), statements with checked arguments, and the `tx` handed
// to a transaction callback.
//
// Invariants: every call into the handle goes through `settle`, so it waits while the OPFS pool
// changes (js/worker/gate.ts) and fails only with a `SyncError`; a statement's SQL and parameters
// are checked by js/args.ts before they reach the glue; a `tx` is unusable once its transaction
// has ended, and the promises it hands out come from `TransactionScope.promises` (js/shared.ts).

import type { Transaction } from "./api.js";
import { checkParams, requireString } from "./args.js";
import { SyncError, toSyncError } from "./errors.js";
import type { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import type { TransactionScope, TxPromises } from "./shared.js";
import { idle, steady } from "./worker/gate.js";
import { mayWrite } from "./writes.js";
import type { ExecResult, Params, Row } from "./types.js";

/**
 * Runs a synchronous call into the wasm handle as a Promise (at once, unless the OPFS pool is
 * changing: js/worker/gate.ts); whatever it throws becomes a rejection with a `SyncError`.
 */
export function settle<T>(call: () => T): Promise<T> {
  return steady(() => {
    try {
      return call();
    } catch (e) {
      throw toSyncError(e);
    }
  });
}

/** A statement, checked: its SQL and a checked copy of its parameters. */
export interface Statement {
  sql: string;
  params: Params | null;
}

export function statement(sql: unknown, params: unknown): Statement {
  requireString(sql, "sql");
  return { sql, params: checkParams(params) };
}

export function execOn(handle: DatabaseHandle, { sql, params }: Statement): ExecResult {
  return handle.exec(sql, params) as ExecResult;
}

export function queryOn(handle: DatabaseHandle, { sql, params }: Statement): Row[] {
  return handle.query(sql, params) as Row[];
}

/** The `tx` handed to a transaction callback; unusable once the transaction has ended. */
export class LocalTransaction implements Transaction {
  #handle: DatabaseHandle | undefined;
  #promises: TxPromises;
  /** Whether a statement of this transaction may have changed rows. */
  wrote = false;

  constructor(handle: DatabaseHandle, scope: TransactionScope) {
    this.#handle = handle;
    this.#promises = scope.promises(this);
  }

  /** Makes every later call reject: the transaction is over. */
  end(): void {
    this.#handle = undefined;
  }

  exec(sql: string, params?: Params): Promise<ExecResult> {
    return this.#run(() => {
      const result = execOn(this.#live(), statement(sql, params));
      if (result.changes > 0) this.wrote = true;
      return result;
    });
  }

  query(sql: string, params?: Params): Promise<Row[]> {
    return this.#run(() => {
      const rows = queryOn(this.#live(), statement(sql, params));
      if (mayWrite(sql)) this.wrote = true;
      return rows;
    });
  }

  /**
   * Keeps `reply` as the answer of the worker call `key`; it commits with this transaction (see
   * `Server` in js/worker/server.ts).
   * @internal
   */
  rememberReply(key: string, reply: unknown): Promise<void> {
    return this.#run(() => this.#live().rememberReply(key, JSON.stringify(reply ?? null)));
  }

  /** Runs a statement now (or once the OPFS pool has stopped changing) and hands out its outcome. */
  #run<T>(call: () => T): Promise<T> {
    if (!idle()) return this.#promises.of(settle(call));
    return this.#promises.now(() => {
      try {
        return call();
      } catch (e) {
        throw toSyncError(e);
      }
    });
  }

  #live(): DatabaseHandle {
    if (this.#handle === undefined) {
      throw new SyncError("ERR_CLOSED", "the transaction has already ended");
    }
    return this.#handle;
  }
}

/**
 * Rolls back the open transaction, if SQLite still has one (a failed COMMIT may have ended it).
 * A failure here is not reported: the error that caused the rollback is the one the caller needs.
 */
export function rollback(handle: DatabaseHandle): Promise<void> {
  return settle(() => {
    if (handle.inTransaction()) handle.exec("ROLLBACK", null);
  }).catch(() => {
    // The original error is rethrown by the caller.
  });
}
