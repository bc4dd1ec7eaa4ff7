// The public `Database` interface, implemented in-process (database.ts) and over the package's
// worker (worker/client.ts). Every method returns a Promise; names and shapes follow the API
// contract and are only ever extended.

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

/** The statements available inside {@link Database.transaction}. */
export interface Transaction {
  /** Like {@link Database.exec}, inside the transaction. */
  exec(sql: string, params?: Params): Promise<ExecResult>;
  /** Like {@link Database.query}, inside the transaction. */
  query(sql: string, params?: Params): Promise<Row[]>;
}

/**
 * A SQLite database whose changes to synced tables are captured. Every argument is checked when
 * the call is made (read once; the wrong kind of value, or one whose reading throws, rejects with
 * `ERR_INVALID_ARGUMENT` and changes nothing).
 */
export interface Database extends AsyncDisposable {
  /** This replica's id: 32 lowercase hex characters, made once and stored with the database. */
  readonly deviceId: string;

  /**
   * Runs one or more SQL statements (separated by `;`). Positional `params` are consumed by the
   * statements in order; named `params` are looked up by name. Every placeholder must be bound and
   * every positional value used, or the call rejects with `ERR_INVALID_ARGUMENT`.
   * @returns the rows the statements changed and the last inserted rowid
   */
  exec(sql: string, params?: Params): Promise<ExecResult>;

  /**
   * Runs SQL (usually one SELECT) and returns the rows of the last statement that produced a
   * result, as plain objects keyed by column name. `params` work as in {@link Database.exec}.
   */
  query(sql: string, params?: Params): Promise<Row[]>;

  /**
   * Runs `fn` inside one SQLite transaction: commits when it resolves (returning its value), rolls
   * back and rethrows when it throws. Use `tx` inside the callback. Calls on the database itself
   * wait until the transaction ends when they come from elsewhere in the app; from inside the
   * callback they would wait forever, so they reject at once with `ERR_INVALID_ARGUMENT` when made
   * in its synchronous part or right after awaiting a `tx.exec` / `tx.query` promise. A call made
   * after the callback awaited anything else (a fetch, a timer, a helper function, `Promise.all`)
   * cannot be told apart from an outside call: it waits, and awaiting it never finishes.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T> | T): Promise<T>;

  /**
   * Starts capturing every INSERT, UPDATE and DELETE on `table`, which must be an ordinary table
   * with a primary key. Rejects with `ERR_TABLE_NOT_FOUND`, `ERR_NO_PRIMARY_KEY`,
   * `ERR_RESERVED_TABLE` or `ERR_NOT_A_TABLE` otherwise.
   */
  enableSync(table: string, options?: SyncOptions): Promise<void>;

  /** Stops capturing changes on `table`; changes already captured stay in the log. */
  disableSync(table: string): Promise<void>;

  /** The tables whose changes are captured. */
  syncedTables(): Promise<string[]>;

  /** Device id → the highest change counter known from that device. */
  vectorClock(): Promise<VectorClock>;

  /** Every captured change record, oldest first (for inspection and debugging). */
  changeLog(): Promise<ChangeRecord[]>;

  /**
   * A bundle of every change the peer `options.peerId` is not known to have (all changes without
   * a peer, or for an unknown one), or `null` when there is nothing to send. A bundle lost in
   * transit is included again until the peer's own bundle shows it has those changes.
   * `options` is `undefined` or an object; `peerId` a device id (32 lowercase hex characters).
   * With storage `"idb"` it resolves only once every write made before it is stored, and rejects
   * with a retryable `ERR_STORAGE_UNAVAILABLE` (handing nothing out) when storing fails.
   */
  generateBundle(options?: GenerateBundleOptions): Promise<Uint8Array | null>;

  /**
   * Validates a bundle completely, then applies it in one transaction. A rejected bundle changes
   * nothing (`ERR_BUNDLE_MALFORMED`, `ERR_BUNDLE_TAMPERED`, `ERR_BUNDLE_VERSION`,
   * `ERR_TABLE_NOT_SYNCED`, `ERR_SCHEMA_MISMATCH`, …). Importing the same bundle again does nothing.
   * Afterwards, resolvers registered with {@link Database.setConflictResolver} are called for the
   * new conflicts of their tables that are still open; if one throws (or its answer cannot be
   * applied), the import stays applied and this rejects with that error.
   */
  importBundle(bytes: Uint8Array): Promise<ImportResult>;

  /**
   * Received changes that wait for a change they depend on (a bundle lost, split or reordered on
   * the way), which has not arrived yet. They are neither applied nor sent on; the peers that
   * hold them send them again. At most 10,000 changes (64 MiB) wait; beyond that a bundle's
   * waiting changes are not kept (`ImportResult.deferred`).
   */
  pendingChanges(): Promise<PendingChange[]>;

  /**
   * Drops waiting changes (all, or those made by device `origin`); resolves with how many were
   * dropped. A peer that holds them sends them again.
   */
  discardPendingChanges(origin?: string): Promise<number>;

  /** Unresolved conflicts, oldest first. */
  conflicts(): Promise<Conflict[]>;

  /**
   * Keeps `"local"`, `"remote"` or the given values for a conflicting row, written as a new change
   * that supersedes both sides, so the conflict closes on every replica that receives it.
   */
  resolveConflict(id: string, choice: ConflictChoice): Promise<void>;

  /**
   * Registers (or, with `null`, removes) the app's resolver for new conflicts on `table`. It runs
   * after an import commits, outside any transaction, at most once per new conflict, and only
   * while that conflict is open: one closed meanwhile (by the resolution of another conflict of
   * its row, or a write) is skipped.
   */
  setConflictResolver(table: string, resolver: ConflictResolver | null): Promise<void>;

  /**
   * Calls `listener` after each committed change to the database: a write outside a transaction
   * (`kind: "exec"`), a transaction that wrote (`"transaction"`), an import that changed something
   * (`"import"`) or a resolved conflict (`"resolve"`). With OPFS on a page, changes committed in
   * other tabs of the origin are announced too (`local: false`). Events are hints to re-read: one
   * arrives for every committed write, occasionally one more (a statement that changed nothing).
   * @returns a function that removes the listener
   */
  onChange(listener: (event: ChangeEvent) => void): () => void;

  /** Waits for queued calls, then releases the database. Idempotent. */
  close(): Promise<void>;

  /** Same as {@link Database.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
