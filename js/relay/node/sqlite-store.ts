// The relay's store in a SQLite file, on the runtime's own SQLite where it has one (`node:sqlite`:
// Node ≥ 22.13 and Deno) and on better-sqlite3 (an optional peer dependency, 12.x) on Node 20,
// either loaded only when a store is opened, so importing the relay needs neither.
//
// Durability: WAL with synchronous = FULL, one IMMEDIATE transaction per push, or per group of
// pushes that arrived together (`pushAll`, each push in its own savepoint). FULL makes SQLite sync
// the WAL at every commit, so a push acknowledged (the relay answers once `push` returns) is on disk
// and survives a power cut, not only a killed process as NORMAL would guarantee; the cost is one
// fsync per commit, shared by every push of a group. Tables (user_version 1):
//   spaces (space, log, head, bytes)                  one row per space: its random 16-byte log id
//   records (space, origin, seq, position, bytes)     keyed (space, origin, seq), unique (space, position)
//   origins (space, origin, contiguous)               per origin the n of records 1..=n held
//   devices (space, device, first_seen, last_seen)

import { SyncError } from "../../errors.js";
import type { Clock } from "../messages.js";
import { fromHex, toHex } from "../record.js";
import { newLogId, newRecords, type DeviceEntry, type PushOutcome, type RelayStore, type SpaceLog, type StoredRecord } from "../store.js";

type SqlValue = number | string | Uint8Array | null;
type Row = Record<string, SqlValue>;
/** What both drivers offer (node:sqlite `DatabaseSync`, better-sqlite3 `Database`). */
interface Statement {
  run(...params: SqlValue[]): unknown;
  get(...params: SqlValue[]): Row | undefined;
  all(...params: SqlValue[]): Row[];
}
interface Driver {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spaces (
  space TEXT PRIMARY KEY, log BLOB NOT NULL, head INTEGER NOT NULL, bytes INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS records (
  space TEXT NOT NULL, origin BLOB NOT NULL, seq INTEGER NOT NULL, position INTEGER NOT NULL, bytes BLOB NOT NULL,
  PRIMARY KEY (space, origin, seq), UNIQUE (space, position)
) STRICT;
CREATE TABLE IF NOT EXISTS origins (
  space TEXT NOT NULL, origin BLOB NOT NULL, contiguous INTEGER NOT NULL, PRIMARY KEY (space, origin)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
  space TEXT NOT NULL, device BLOB NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
  PRIMARY KEY (space, device)
) STRICT, WITHOUT ROWID;
PRAGMA user_version = 1;
`;

/** Which SQLite a store runs on. */
export type SqliteDriver = "node:sqlite" | "better-sqlite3";

/** What {@link openSqliteStore} takes besides the path. */
export interface SqliteStoreOptions {
  /** Which SQLite to use; default: `node:sqlite` where the runtime has it, else better-sqlite3. */
  driver?: SqliteDriver;
}

/** A {@link RelayStore} over a SQLite file, saying which SQLite it runs on. */
export interface SqliteStore extends RelayStore {
  readonly driver: SqliteDriver;
}

async function load(path: string, wanted: SqliteDriver | undefined): Promise<[Driver, SqliteDriver]> {
  const failures: string[] = [];
  if (wanted !== "better-sqlite3") {
    try {
      const { DatabaseSync } = await import("node:sqlite");
      return [new DatabaseSync(path) as unknown as Driver, "node:sqlite"];
    } catch (error) {
      if (!isMissingModule(error)) throw unavailable(path, error);
      failures.push("this runtime has no node:sqlite (Node >= 22.13 and Deno have it)");
    }
  }
  if (wanted !== "node:sqlite") {
    try {
      const { default: Database } = await import("better-sqlite3");
      return [new Database(path) as unknown as Driver, "better-sqlite3"];
    } catch (error) {
      if (!isMissingModule(error)) throw unavailable(path, error);
      failures.push("better-sqlite3 is not installed (npm install better-sqlite3@12)");
    }
  }
  throw new SyncError("ERR_STORAGE_UNAVAILABLE", `cannot open the relay's SQLite file: ${failures.join("; ")}`);
}

function isMissingModule(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_UNKNOWN_BUILTIN_MODULE" || code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

function unavailable(path: string, error: unknown): SyncError {
  return new SyncError("ERR_STORAGE_UNAVAILABLE", `cannot open the relay's SQLite file ${path}: ${String(error)}`, { cause: error });
}

/** Opens (or creates) the relay's SQLite file at `path`. */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  if (typeof path !== "string" || path === "") throw new SyncError("ERR_INVALID_ARGUMENT", "the store's path must be a file name");
  const [db, driver] = await load(path, options.driver);
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    db.exec(SCHEMA);
  } catch (error) {
    db.close();
    throw unavailable(path, error);
  }
  return new SqliteRelayStore(db, driver);
}

class SqliteRelayStore implements SqliteStore {
  readonly #db: Driver;
  readonly #q;

  constructor(
    db: Driver,
    readonly driver: SqliteDriver,
  ) {
    this.#db = db;
    const p = (sql: string) => db.prepare(sql);
    this.#q = {
      space: p("SELECT log, head, bytes FROM spaces WHERE space = ?"),
      newSpace: p("INSERT OR IGNORE INTO spaces (space, log, head, bytes) VALUES (?, ?, 0, 0)"),
      setSpace: p("UPDATE spaces SET head = ?, bytes = ? WHERE space = ?"),
      held: p("SELECT bytes FROM records WHERE space = ? AND origin = ? AND seq = ?"),
      has: p("SELECT 1 AS x FROM records WHERE space = ? AND origin = ? AND seq = ?"),
      insert: p("INSERT INTO records (space, origin, seq, position, bytes) VALUES (?, ?, ?, ?, ?)"),
      contiguous: p("SELECT contiguous FROM origins WHERE space = ? AND origin = ?"),
      setContiguous: p(
        "INSERT INTO origins (space, origin, contiguous) VALUES (?, ?, ?) ON CONFLICT (space, origin) DO UPDATE SET contiguous = excluded.contiguous",
      ),
      clock: p("SELECT origin, contiguous FROM origins WHERE space = ? AND contiguous > 0 ORDER BY origin"),
      sizes: p("SELECT length(bytes) AS n FROM records WHERE space = ? AND position > ? ORDER BY position LIMIT ?"),
      read: p("SELECT bytes FROM records WHERE space = ? AND position > ? AND position <= ? ORDER BY position"),
      seen: p(
        "INSERT INTO devices (space, device, first_seen, last_seen) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (space, device) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
      ),
      devices: p("SELECT device, first_seen, last_seen FROM devices WHERE space = ? ORDER BY first_seen, device"),
    };
  }

  #log(space: string): SpaceLog | undefined {
    const row = this.#q.space.get(space);
    if (row === undefined) return undefined;
    return { log: toHex(row.log as Uint8Array), head: row.head as number, bytes: row.bytes as number };
  }

  open(space: string): SpaceLog {
    return guarded(() => {
      const found = this.#log(space);
      if (found !== undefined) return found;
      this.#q.newSpace.run(space, fromHex(newLogId()));
      return this.#log(space)!;
    });
  }

  clock(space: string): Clock {
    return guarded(() => this.#q.clock.all(space).map((row) => [toHex(row.origin as Uint8Array), row.contiguous as number]));
  }

  push(space: string, records: readonly StoredRecord[], quotaBytes: number): PushOutcome {
    return guarded(() => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const outcome = this.#pushIn(space, records, quotaBytes);
        this.#db.exec(outcome.ok ? "COMMIT" : "ROLLBACK");
        return outcome;
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  pushAll(space: string, pushes: readonly (readonly StoredRecord[])[], quotaBytes: number): PushOutcome[] {
    return guarded(() => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const outcomes = pushes.map((records) => {
          this.#db.exec("SAVEPOINT push");
          const outcome = this.#pushIn(space, records, quotaBytes);
          this.#db.exec(outcome.ok ? "RELEASE push" : "ROLLBACK TO push; RELEASE push");
          return outcome;
        });
        this.#db.exec("COMMIT");
        return outcomes;
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  #pushIn(space: string, records: readonly StoredRecord[], quotaBytes: number): PushOutcome {
    this.#q.newSpace.run(space, fromHex(newLogId()));
    const log = this.#log(space)!;
    const plan = newRecords(records, (origin, seq) => this.#q.held.get(space, fromHex(origin), seq)?.bytes as Uint8Array | undefined);
    if (!("fresh" in plan)) return { ok: false, reason: "mismatch", ...plan };
    if (log.bytes + plan.bytes > quotaBytes) return { ok: false, reason: "quota", bytes: log.bytes, quotaBytes };
    let head = log.head;
    for (const record of plan.fresh) this.#q.insert.run(space, fromHex(record.origin), record.seq, ++head, record.bytes);
    for (const origin of new Set(plan.fresh.map((r) => r.origin))) {
      const key = fromHex(origin);
      const from = (this.#q.contiguous.get(space, key)?.contiguous as number | undefined) ?? 0;
      let n = from;
      while (this.#q.has.get(space, key, n + 1) !== undefined) n++;
      if (n !== from) this.#q.setContiguous.run(space, key, n);
    }
    this.#q.setSpace.run(head, log.bytes + plan.bytes, space);
    return { ok: true, stored: plan.fresh.length, head, clock: this.clock(space) };
  }

  sizes(space: string, after: number, limit: number): number[] {
    return guarded(() => this.#q.sizes.all(space, after, limit).map((row) => row.n as number));
  }

  read(space: string, after: number, count: number): Uint8Array[] {
    return guarded(() => this.#q.read.all(space, after, after + count).map((row) => row.bytes as Uint8Array));
  }

  seen(space: string, device: string, at: number): void {
    guarded(() => this.#q.seen.run(space, fromHex(device), at, at));
  }

  devices(space: string): DeviceEntry[] {
    return guarded(() =>
      this.#q.devices.all(space).map((row) => ({
        id: toHex(row.device as Uint8Array),
        firstSeen: row.first_seen as number,
        lastSeen: row.last_seen as number,
      })),
    );
  }

  close(): void {
    this.#db.close();
  }
}

/** Runs a store call, turning SQLite's "busy" into a retryable `ERR_BUSY` (503). */
function guarded<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    const e = error as { code?: unknown; errcode?: unknown; message?: unknown };
    const busy = e?.code === "SQLITE_BUSY" || e?.errcode === 5 || (typeof e?.message === "string" && /database is locked/.test(e.message));
    if (busy) throw new SyncError("ERR_BUSY", "the relay's storage is busy; try again", { retryable: true, cause: error });
    throw error;
  }
}
