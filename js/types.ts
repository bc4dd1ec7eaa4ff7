// Plain data types of the public API: values, rows, options and captured changes. No logic.

/**
 * A value bound to a statement parameter: `null`, a number (integers are stored as INTEGER, other
 * numbers as REAL), a bigint, a string, a boolean (stored as 0/1) or bytes.
 */
export type SqlValue = null | number | bigint | string | boolean | Uint8Array;

/**
 * Statement parameters: an array binds positional `?` placeholders in order; an object binds named
 * placeholders (`:name`, `@name`, `$name`), its keys written without the prefix.
 */
export type Params = readonly SqlValue[] | { readonly [name: string]: SqlValue };

/** A value read from the database. */
export type ColumnValue = null | number | bigint | string | Uint8Array;

/**
 * One result row keyed by column name. INTEGER → number (bigint beyond ±(2^53−1)), REAL → number,
 * TEXT → string, BLOB → `Uint8Array`, NULL → `null`.
 */
export type Row = Record<string, ColumnValue>;

/** What `exec` reports about the statements it ran. */
export interface ExecResult {
  /** Rows inserted, updated or deleted by the statements (summed over all of them). */
  changes: number;
  /** The rowid of the most recent successful INSERT on this connection. */
  lastInsertRowid: number;
}

/** Where the database lives. */
export type StorageKind = "memory" | "opfs" | "idb";

/** Options of `openDatabase`. */
export interface OpenOptions {
  /** The database name (default `"main.db"`). */
  name?: string;
  /** Where the database lives (default `"memory"`; only `"memory"` is available so far). */
  storage?: StorageKind;
}

/** How concurrent changes to the same row of a synced table are settled. */
export type ConflictStrategy = "manual" | "lww" | "field-merge";

/** Options of `enableSync`. */
export interface SyncOptions {
  /** The table's conflict strategy (default `"manual"`). */
  conflictStrategy?: ConflictStrategy;
}

/** Device id → the highest change counter known from that device. */
export type VectorClock = Record<string, number>;

/** The old and new value of one column in a captured row change. */
export interface ColumnChange {
  /** The value before the change (absent for inserts). */
  old?: ColumnValue;
  /** The value after the change (absent for deletes). */
  new?: ColumnValue;
}

/** One captured INSERT, UPDATE or DELETE of one row. */
export interface RowChange {
  /** The synced table the row belongs to. */
  table: string;
  /** What happened to the row. */
  op: "insert" | "update" | "delete";
  /** The row's primary key, column name → value. */
  primaryKey: Record<string, ColumnValue>;
  /** The columns the change touched, with their old and new values. */
  columns: Record<string, ColumnChange>;
}

/** The changes one committed transaction made to synced tables, as recorded in the change log. */
export interface ChangeRecord {
  /** The device that made the changes. */
  origin: string;
  /** The origin's counter: 1 for its first record, then one more per record. */
  seq: number;
  /** Hybrid logical clock at commit, as a decimal string (milliseconds << 16 | counter). */
  hlc: string;
  /** When the record was committed, in milliseconds since the epoch (from `hlc`). */
  committedAt: number;
  /** What the origin had seen from other devices when it committed (its causal context). */
  clock: VectorClock;
  /** The row changes, in the order they were made. */
  changes: RowChange[];
}
