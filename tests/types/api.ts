// Type tests for the public declarations: every line must compile, and every `@ts-expect-error`
// must really be an error (tsc fails on an unused one). Run by `tsc -p tests/types`; never executed.

import {
  HttpTransport,
  openDatabase,
  startSync,
  SYNC_ERROR_CODES,
  SyncError,
  WebSocketTransport,
  type ChangeRecord,
  type ColumnValue,
  type Conflict,
  type ConflictChoice,
  type Database,
  type DeviceInfo,
  type ExecResult,
  type ImportResult,
  type RoundResult,
  type Row,
  type SqlValue,
  type StartSyncOptions,
  type Sync,
  type SyncErrorCode,
  type SyncProgress,
  type SyncStatus,
  type Transaction,
  type VectorClock,
} from "sqlite-sync-wasm";
// @ts-expect-error the wasm handle is internal
import { DatabaseHandle } from "sqlite-sync-wasm";

export async function usage(): Promise<void> {
  const db: Database = await openDatabase({ name: "app.db", storage: "memory" });
  await openDatabase();
  // @ts-expect-error storage kinds are a closed set
  await openDatabase({ storage: "disk" });

  const id: string = db.deviceId;
  // @ts-expect-error deviceId is read-only
  db.deviceId = id;

  const values: SqlValue[] = [null, 1, 2n, "s", true, new Uint8Array()];
  const result: ExecResult = await db.exec("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", values);
  const changes: number = result.changes + result.lastInsertRowid;
  await db.exec("SELECT :a, :b", { a: 1, b: "x" });
  // @ts-expect-error a Date is not an SqlValue
  await db.exec("SELECT ?", [new Date()]);
  // @ts-expect-error sql is a string
  await db.query(1);

  const rows: Row[] = await db.query("SELECT * FROM t");
  const cell: ColumnValue | undefined = rows[0]?.["x"];
  // @ts-expect-error values read back are never booleans
  const flag: boolean | undefined = rows[0]?.["x"];

  const fromTx: number = await db.transaction(async (tx: Transaction) => {
    await tx.exec("DELETE FROM t");
    return (await tx.query("SELECT 1")).length;
  });
  // @ts-expect-error tx only runs statements
  await db.transaction((tx) => tx.enableSync("t"));

  await db.enableSync("t");
  await db.enableSync("t", { conflictStrategy: "field-merge" });
  // @ts-expect-error unknown conflict strategy
  await db.enableSync("t", { conflictStrategy: "newest" });
  // @ts-expect-error the options are an object, not the strategy itself
  await db.enableSync("t", "lww");
  await db.disableSync("t");
  const tables: string[] = await db.syncedTables();
  const clock: VectorClock = await db.vectorClock();
  const counter: number | undefined = clock[id];
  const log: ChangeRecord[] = await db.changeLog();
  const op: "insert" | "update" | "delete" | undefined = log[0]?.changes[0]?.op;

  const bundle: Uint8Array | null = await db.generateBundle({ peerId: id });
  // @ts-expect-error the options are an object, not the peer id itself
  await db.generateBundle(id);
  // @ts-expect-error peerId is a device id string
  await db.generateBundle({ peerId: 7 });
  if (bundle !== null) {
    const result: ImportResult = await db.importBundle(bundle);
    const applied: number = result.applied + result.duplicates + result.pending;
    void applied;
  }
  // @ts-expect-error bundles are bytes
  await db.importBundle("base64");
  const open: Conflict[] = await db.conflicts();
  const version: Row | null = open[0]?.local ?? null;
  await db.resolveConflict("id", "remote");
  await db.resolveConflict("id", { values: { title: "merged", done: 1 } });
  // @ts-expect-error only local, remote or values
  await db.resolveConflict("id", "newest");
  await db.setConflictResolver("t", (conflict: Conflict): ConflictChoice | undefined =>
    conflict.remote === null ? "local" : undefined,
  );
  await db.setConflictResolver("t", null);

  const code: SyncErrorCode = SYNC_ERROR_CODES[0];
  // @ts-expect-error error codes are a closed set
  const unknown: SyncErrorCode = "ERR_NOPE";
  const error = new SyncError("ERR_BUSY", "locked", { retryable: true });
  const retryable: boolean = error.retryable && error instanceof Error;
  const sqliteCode: number | undefined = error.sqliteCode;

  {
    await using scoped = await openDatabase();
    await scoped.query("SELECT 1");
  }

  const ws = new WebSocketTransport({
    url: "ws://127.0.0.1:8787",
    space: "team-42",
    token: async () => "jwt",
    WebSocket,
    pingIntervalMs: 15_000,
  });
  const http = new HttpTransport({ url: "http://127.0.0.1:8787", space: "team-42", token: "jwt", fetch, timeoutMs: 30_000 });
  // @ts-expect-error a transport needs its space
  new HttpTransport({ url: "http://127.0.0.1:8787", token: "jwt" });
  // @ts-expect-error the token is a string or a function returning one
  new HttpTransport({ url: "http://127.0.0.1:8787", space: "s", token: 42 });
  const syncOptions: StartSyncOptions = { transport: ws, intervalMs: 30_000, debounceMs: 50 };
  const sync: Sync = startSync(db, syncOptions);
  startSync(db, { transport: http });
  const listed: DeviceInfo[] = await ws.devices();
  const firstSeen: number = listed[0]!.firstSeen;
  void firstSeen;
  void (await http.devices());
  // @ts-expect-error startSync needs a transport
  startSync(db, { intervalMs: 1000 });
  const status: SyncStatus = sync.status;
  const state: "idle" | "syncing" | "offline" | "error" | "stopped" = status.state;
  const lastSyncAt: number | null = status.lastSyncAt;
  const lastCode: SyncErrorCode | undefined = status.lastError?.code;
  const counts: number = status.sent + status.received + status.pending;
  const nextRetryAt: number | null = status.nextRetryAt;
  const off: () => void = sync.on("status", (s: SyncStatus) => void s.state);
  sync.on("progress", (p: SyncProgress) => void (p.total === null ? p.received : p.received / p.total));
  // @ts-expect-error a status listener gets a SyncStatus, not progress
  sync.on("status", (p: SyncProgress) => void p);
  // @ts-expect-error only "status" and "progress"
  sync.on("round", () => undefined);
  off();
  const round: RoundResult = await sync.syncNow();
  const roundCounts: number = round.sent + round.received + round.conflicts;
  // @ts-expect-error status is read-only
  sync.status = status;
  await sync.stop();
  {
    await using scopedSync = startSync(db, { transport: http });
    void scopedSync.status;
  }
  await db.close();
  void [DatabaseHandle, changes, cell, flag, fromTx, tables, counter, op, code, unknown, retryable, sqliteCode, version];
  void [state, lastSyncAt, lastCode, counts, nextRetryAt, roundCounts];
}
