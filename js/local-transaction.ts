// The synchronous side of the in-process database (js/database.ts): calls into the wasm
// `DatabaseHandle` as Promises (`settle`), statements with checked arguments, and the `tx` handed
// to a transaction callback.
//
// Invariants: every call into the handle goes through `settle` (or, when the gate is idle,
// straight through `intoWasm`), so it passes the database's `CallGate` (at once, unless the
// database lives in an OPFS pool that is changing: js/worker/gate.ts), never enters a stopped
// instance (js/instance.ts) and fails only with a `SyncError`; a statement's SQL and parameters are
// checked by js/args.ts before they reach the glue; a `tx` is unusable once its transaction has
// ended, and the promises it hands out come from `TransactionScope.promises` (js/shared.ts).

import type { Transaction } from "./api.js";
import { checkParams, requireString } from "./args.js";
import { SyncError } from "./errors.js";
import type { DatabaseHandle } from "./generated/sqlite_sync_wasm.js";
import { intoWasm } from "./instance.js";
import type { TransactionScope, TxPromises } from "./shared.js";
import { mayWrite } from "./writes.js";
import type { ExecResult, Params, Row } from "./types.js";

/**
 * When calls into a database's handle may run. A database whose storage can be busy with
 * something else (an OPFS pool that grows) holds its calls meanwhile; every other one uses
 * {@link noGate}.
 */
export interface CallGate {
  /** Whether a call may run now. */
  idle(): boolean;
  /** Runs `call` now, or once the gate allows it; settles with its outcome. */
  steady<T>(call: () => T): Promise<T>;
}

/** The gate of databases whose storage nothing else touches (memory, IndexedDB): calls run at once. */
export const noGate: CallGate = {
  idle: () => true,
  steady: <T>(call: () => T): Promise<T> => new Promise((resolve) => resolve(call())),
};

/**
 * Runs a synchronous call into the wasm handle as a Promise, through `gate` and `intoWasm`;
 * whatever it throws becomes a rejection with a `SyncError`.
 */
export function settle<T>(gate: CallGate, call: () => T): Promise<T> {
  return gate.steady(() => intoWasm(call));
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
  return handle.exec(sql, params);
}

export function queryOn(handle: DatabaseHandle, { sql, params }: Statement): Row[] {
  return handle.query(sql, params);
}

/** The `tx` handed to a transaction callback; unusable once the transaction has ended. */
export class LocalTransaction implements Transaction {
  #handle: DatabaseHandle | undefined;
  #gate: CallGate;
  #promises: TxPromises;
  /** Whether a statement of this transaction may have changed rows. */
  wrote = false;

  constructor(handle: DatabaseHandle, gate: CallGate, scope: TransactionScope) {
    this.#handle = handle;
    this.#gate = gate;
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

  /** Runs a statement now (or once the gate allows it) and hands out its outcome. */
  #run<T>(call: () => T): Promise<T> {
    if (!this.#gate.idle()) return this.#promises.of(settle(this.#gate, call));
    return this.#promises.now(() => intoWasm(call));
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
export function rollback(handle: DatabaseHandle, gate: CallGate): Promise<void> {
  return settle(gate, () => {
    if (handle.inTransaction()) handle.exec("ROLLBACK", null);
  }).catch(() => {
    // The original error is rethrown by the caller.
  });
}
