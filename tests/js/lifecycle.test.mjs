// openDatabase options, SyncError, the error-code list, close() and Symbol.asyncDispose.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase, SYNC_ERROR_CODES, SyncError } from "sqlite-sync-wasm";
import { toSyncError } from "../../dist/errors.js";
import { errorCodes } from "../../dist/generated/sqlite_sync_wasm.js";
import { ready } from "../../dist/init.js";
import { changePool } from "../../dist/worker/gate.js";
import { deferred, rejectsWith } from "./helpers.mjs";

test("SYNC_ERROR_CODES equals the wasm module's errorCodes(), in order", async () => {
  // Loads the wasm module in this realm (on a page, openDatabase would load it in the worker).
  await ready();
  assert.deepEqual([...SYNC_ERROR_CODES], errorCodes());
});

test("errors are SyncError instances with code, retryable and SQLite's message", async () => {
  const db = await openDatabase();
  const error = await rejectsWith(db.query("SELEC 1"), "ERR_SQL");
  assert.ok(error instanceof Error);
  assert.equal(error.name, "SyncError");
  assert.equal(error.retryable, false);
  assert.match(error.message, /near "SELEC": syntax error/);
  assert.ok(SYNC_ERROR_CODES.includes(error.code));
  await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  await db.exec("INSERT INTO t VALUES (1)");
  const unique = await rejectsWith(db.exec("INSERT INTO t VALUES (1)"), "ERR_SQL");
  assert.equal(unique.sqliteCode, 1555, "SQLITE_CONSTRAINT_PRIMARYKEY");
  assert.match(unique.message, /UNIQUE constraint failed: t\.id/);
  const missing = await rejectsWith(db.query("SELECT * FROM nowhere"), "ERR_SQL");
  assert.equal(missing.sqliteCode, 1, "SQLITE_ERROR");
  await db.close();
});

test("SyncError can be constructed by users", () => {
  const cause = new Error("inner");
  const error = new SyncError("ERR_BUSY", "try later", { retryable: true, cause });
  assert.deepEqual([error.name, error.code, error.retryable, error.cause], ["SyncError", "ERR_BUSY", true, cause]);
  const plain = new SyncError("ERR_SQL", "x");
  assert.equal(plain.retryable, false);
  assert.equal("sqliteCode" in plain, false);
});

test("toSyncError keeps coded errors and turns anything else into ERR_INTERNAL", () => {
  const coded = Object.assign(new Error("database is busy"), { name: "SyncError", code: "ERR_BUSY", retryable: true });
  const converted = toSyncError(coded);
  assert.ok(converted instanceof SyncError);
  assert.deepEqual([converted.code, converted.retryable, converted.message], ["ERR_BUSY", true, "database is busy"]);
  assert.equal(toSyncError(converted), converted);

  const trap = new TypeError("null pointer passed to rust");
  const internal = toSyncError(trap);
  assert.deepEqual([internal.code, internal.retryable, internal.cause], ["ERR_INTERNAL", false, trap]);
  assert.match(internal.message, /TypeError: null pointer passed to rust/);
  assert.equal(toSyncError("a string").code, "ERR_INTERNAL");
});

test('storage "opfs" and "idb" are unavailable in Node', async () => {
  await rejectsWith(openDatabase({ storage: "opfs" }), "ERR_STORAGE_UNAVAILABLE");
  await rejectsWith(openDatabase({ storage: "idb" }), "ERR_STORAGE_UNAVAILABLE");
});

test("openDatabase validates its options", async () => {
  await rejectsWith(openDatabase({ storage: "tape" }), "ERR_INVALID_ARGUMENT");
  await rejectsWith(openDatabase("memory"), "ERR_INVALID_ARGUMENT");
  await rejectsWith(openDatabase({ storage: 5 }), "ERR_INVALID_ARGUMENT");
  await rejectsWith(openDatabase({ onWarning: "console" }), "ERR_INVALID_ARGUMENT");
  const db = await openDatabase({ name: "named.db", storage: "memory" });
  assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
  await db.close();
});

test("every method rejects with ERR_CLOSED after close(); close() is idempotent", async () => {
  const db = await openDatabase();
  await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  await db.enableSync("t");
  const deviceId = db.deviceId;
  await db.close();
  await db.close();
  const calls = {
    exec: () => db.exec("SELECT 1"),
    query: () => db.query("SELECT 1"),
    transaction: () => db.transaction(() => 1),
    enableSync: () => db.enableSync("t"),
    disableSync: () => db.disableSync("t"),
    syncedTables: () => db.syncedTables(),
    vectorClock: () => db.vectorClock(),
    changeLog: () => db.changeLog(),
  };
  for (const [name, call] of Object.entries(calls)) {
    const error = await rejectsWith(call(), "ERR_CLOSED");
    assert.equal(error.retryable, false, name);
  }
  assert.equal(db.deviceId, deviceId, "deviceId stays readable");
});

test("Symbol.asyncDispose closes the database", async () => {
  const db = await openDatabase();
  assert.equal(typeof db[Symbol.asyncDispose], "function");
  await db[Symbol.asyncDispose]();
  await rejectsWith(db.query("SELECT 1"), "ERR_CLOSED");
});

test("databases are independent", async () => {
  const [a, b] = [await openDatabase(), await openDatabase()];
  await a.exec("CREATE TABLE t (x)");
  await rejectsWith(b.query("SELECT * FROM t"), "ERR_SQL");
  await a.close();
  assert.deepEqual(await b.query("SELECT 2 AS two"), [{ two: 2 }]);
  await b.close();
});

test("an in-process database does not wait while an OPFS pool changes", async () => {
  // The OPFS worker holds its databases' calls during a pool change; other storage has nothing to wait for.
  const db = await openDatabase({ storage: "memory" });
  const change = deferred();
  const changing = changePool(() => change.promise);
  await new Promise((resolve) => setTimeout(resolve, 0)); // the change is running now
  const late = new Promise((resolve) => setTimeout(() => resolve("held"), 1000));
  assert.deepEqual(await Promise.race([db.query("SELECT 1 AS one"), late]), [{ one: 1 }]);
  await db.transaction(async (tx) => tx.exec("CREATE TABLE t (x)"));
  change.resolve();
  await changing;
  await db.close();
});
