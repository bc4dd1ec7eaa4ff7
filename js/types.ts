// Plain data types of the public API: values, rows, options, captured changes and change events.
// No logic.

import type { SyncError } from "./errors.js";

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
  /**
   * Where the database lives. `"opfs"` persists it in the Origin Private File System: on a page
   * through the package worker, in a dedicated worker in-process. `"idb"` keeps it in memory and
   * stores the pages each write changed in IndexedDB right after it (pages and every kind of
   * worker; one open handle per name and origin). `"memory"` keeps nothing. Default: `"opfs"` on
   * pages and in dedicated workers, `"idb"` in shared and service workers and where OPFS is
   * missing (with a warning), `"memory"` in Node, Deno and Cloudflare Workers.
   */
  storage?: StorageKind;
  /** Receives warnings, such as falling back from OPFS to IndexedDB (default `console.warn`). */
  onWarning?: (message: string) => void;
}

/** What `Database.onChange` listeners receive. */
export interface ChangeEvent {
  /** The database's name. */
  database: string;
  /** What committed: a statement outside a transaction, a transaction, an import, a resolution. */
  kind: "exec" | "transaction" | "import" | "resolve";
  /** True in the tab (or worker) whose call made the change, false in every other tab. */
  local: boolean;
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

/** Options of {@link Database.generateBundle}. */
export interface GenerateBundleOptions {
  /**
   * The device the bundle is for (its `deviceId`: 32 lowercase hex characters). Only changes it is
   * not known to have are included (known from the clock in the last bundle it sent us); without
   * it, or for an unknown peer, all changes.
   */
  peerId?: string;
  /**
   * Carry only the changes no earlier bundle to `peerId` carried (for one-way flows, such as a
   * daily file for a peer that never answers). Default `false`: every change the peer has not
   * acknowledged, so that a lost bundle is sent again.
   */
  unsentOnly?: boolean;
}

/** What {@link Database.importBundle} did, counted in row changes. */
export interface ImportResult {
  bundleId: string;
  sourceDeviceId: string;
  /** Row changes in the bundle. */
  total: number;
  /** Row changes of this bundle written now (winning, or kept as superseded history). */
  applied: number;
  /** New conflict records (including ones a strategy resolved automatically). */
  conflicts: number;
  /** Row changes this replica already had. */
  duplicates: number;
  /** True when this exact bundle was imported before; nothing was done. */
  skipped: boolean;
  /** Row changes of this bundle waiting for an earlier change that has not arrived yet. */
  pending: number;
  /**
   * Row changes of this bundle that wait for an earlier change but were not kept, because the
   * changes already waiting reached their limit; a peer that has them sends them again later.
   */
  deferred: number;
  /** Row changes received earlier that this bundle allowed to be applied. */
  released: number;
  /** Ids of the new conflicts that {@link Database.conflicts} lists. */
  newConflicts: string[];
}

/** One concurrent version of a conflicting row. */
export interface ConflictVersion {
  /** The device whose change left the row this way. */
  deviceId: string;
  /** The row as that change left it; null = deleted. */
  row: Row | null;
}

/** Concurrent versions of one row (two or more). */
export interface Conflict {
  /** The same id on every replica that holds the same concurrent changes. */
  id: string;
  table: string;
  primaryKey: Row;
  /** The row as this replica wrote it (or the provisional winner if no version is ours); null = deleted. */
  local: Row | null;
  /** The newest concurrent version other than `local`; null = deleted. */
  remote: Row | null;
  /** Every concurrent version, the provisional winner (the row the table shows) first. */
  versions: ConflictVersion[];
  /** When this replica detected it, ms since the epoch. */
  detectedAt: number;
}

/** A received change record that waits for a change it depends on, which has not arrived. */
export interface PendingChange {
  /** The device that made it. */
  origin: string;
  /** Its number among that device's records. */
  seq: number;
  /** Row changes it carries. */
  rows: number;
  /** Its size in bytes. */
  bytes: number;
  /** The first change it depends on that this replica lacks. */
  waitsFor: { origin: string; seq: number };
  /** When it arrived, ms since the epoch. */
  receivedAt: number;
}

/** How to settle a conflict: keep one side, or write these values. */
export type ConflictChoice = "local" | "remote" | { values: { readonly [column: string]: SqlValue } };

/**
 * Decides new conflicts of one table after an import: return a choice, or `undefined` to leave
 * the conflict open.
 */
export type ConflictResolver = (
  conflict: Conflict,
) => ConflictChoice | undefined | Promise<ConflictChoice | undefined>;

/** What a sync loop is doing (see `SyncStatus`). */
export type SyncState = "idle" | "syncing" | "offline" | "error" | "stopped";

/** The state of a sync loop (`Sync.status`, and each `"status"` event). */
export interface SyncStatus {
  state: SyncState;
  /** When the last round that completed ended, ms since the epoch. */
  lastSyncAt: number | null;
  /** The last round's error (null after a good round). */
  lastError: SyncError | null;
  /** Change records pushed since `startSync`. */
  sent: number;
  /** Change records pulled and imported since `startSync`. */
  received: number;
  /** Local change records the relay has not yet acknowledged. */
  pending: number;
  /** When the next attempt is due after a failure (back-off, or the interval after an error). */
  nextRetryAt: number | null;
}

/** What one round of `Sync.syncNow` did, in change records. */
export interface RoundResult {
  sent: number;
  received: number;
  conflicts: number;
}

/** A `"progress"` event during a catch-up: records received so far in this round, of `total` (null when unknown). */
export interface SyncProgress {
  received: number;
  total: number | null;
}
