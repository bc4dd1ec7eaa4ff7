// Change capture through the packaged API: enableSync and its errors, the change log, the vector
// clock and the device id.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase } from "sqlite-sync-wasm";
import { rejectsWith } from "./helpers.mjs";

async function todos() {
  const db = await openDatabase();
  await db.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0)");
  await db.enableSync("todos");
  return db;
}

test("deviceId is 32 lowercase hex characters, stable, and differs between databases", async () => {
  const [a, b] = [await openDatabase(), await openDatabase()];
  assert.match(a.deviceId, /^[0-9a-f]{32}$/);
  assert.equal(a.deviceId, a.deviceId);
  assert.notEqual(a.deviceId, b.deviceId);
  await Promise.all([a.close(), b.close()]);
});

test("INSERT, UPDATE and DELETE on a synced table are captured, one record per transaction", async () => {
  const db = await todos();
  await db.exec("INSERT INTO todos (id, title) VALUES (1, 'milk')");
  await db.exec("UPDATE todos SET done = 1 WHERE id = 1");
  await db.exec("DELETE FROM todos WHERE id = 1");

  const log = await db.changeLog();
  assert.equal(log.length, 3);
  assert.deepEqual(log.map((r) => r.seq), [1, 2, 3]);
  for (const record of log) {
    assert.equal(record.origin, db.deviceId);
    assert.match(record.hlc, /^\d+$/);
    assert.equal(typeof record.committedAt, "number");
    assert.equal(typeof record.clock, "object");
    assert.equal(record.changes.length, 1);
  }
  const [insert, update, remove] = log.map((r) => r.changes[0]);
  assert.deepEqual(insert, {
    table: "todos",
    op: "insert",
    primaryKey: { id: 1 },
    columns: { id: { new: 1 }, title: { new: "milk" }, done: { new: 0 } },
  });
  assert.deepEqual(update, {
    table: "todos",
    op: "update",
    primaryKey: { id: 1 },
    columns: { done: { old: 0, new: 1 } },
  });
  assert.equal(remove.op, "delete");
  assert.deepEqual(remove.primaryKey, { id: 1 });
  assert.deepEqual(remove.columns.title, { old: "milk" });
  await db.close();
});

test("several writes in one exec form one record; unsynced tables are not captured", async () => {
  const db = await todos();
  await db.exec("CREATE TABLE scratch (id INTEGER PRIMARY KEY, x)");
  await db.exec("INSERT INTO scratch (x) VALUES (1)");
  await db.exec("INSERT INTO todos (title) VALUES ('a'), ('b')");
  const log = await db.changeLog();
  assert.equal(log.length, 1);
  assert.deepEqual(log[0].changes.map((c) => [c.table, c.op, c.primaryKey.id]), [
    ["todos", "insert", 1],
    ["todos", "insert", 2],
  ]);
  await db.close();
});

test("composite primary keys, blobs and bigints appear as values in the change log", async () => {
  const db = await openDatabase();
  await db.exec("CREATE TABLE kv (ns TEXT, k BLOB, v, PRIMARY KEY (ns, k)) WITHOUT ROWID");
  await db.enableSync("kv", { conflictStrategy: "lww" });
  await db.exec("INSERT INTO kv VALUES (?, ?, ?)", ["n", new Uint8Array([1, 2]), 2n ** 60n]);
  const [change] = (await db.changeLog())[0].changes;
  assert.deepEqual(change.primaryKey, { ns: "n", k: new Uint8Array([1, 2]) });
  assert.equal(change.columns.v.new, 2n ** 60n);
  await db.close();
});

test("vectorClock starts empty and counts this device's records", async () => {
  const db = await todos();
  const empty = await db.vectorClock();
  assert.deepEqual(empty, {});
  assert.equal(Object.getPrototypeOf(empty), Object.prototype);
  await db.exec("INSERT INTO todos (title) VALUES ('a')");
  assert.deepEqual(await db.vectorClock(), { [db.deviceId]: 1 });
  await db.exec("INSERT INTO todos (title) VALUES ('b')");
  await db.exec("CREATE TABLE other (id INTEGER PRIMARY KEY)");
  await db.exec("INSERT INTO other DEFAULT VALUES");
  assert.deepEqual(await db.vectorClock(), { [db.deviceId]: 2 });
  await db.close();
});

test("syncedTables and disableSync", async () => {
  const db = await todos();
  await db.exec("CREATE TABLE b_notes (id TEXT PRIMARY KEY, body TEXT)");
  await db.enableSync("b_notes", { conflictStrategy: "field-merge" });
  assert.deepEqual(await db.syncedTables(), ["b_notes", "todos"]);
  await db.disableSync("todos");
  assert.deepEqual(await db.syncedTables(), ["b_notes"]);
  await db.exec("INSERT INTO todos (title) VALUES ('not captured')");
  assert.deepEqual(await db.changeLog(), []);
  await rejectsWith(db.disableSync("todos"), "ERR_TABLE_NOT_SYNCED");
  await db.close();
});

test("enableSync refuses what it cannot capture, with a code for each reason", async () => {
  const db = await openDatabase();
  await db.exec("CREATE TABLE nopk (a, b); CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE VIEW v AS SELECT 1 AS x");
  await rejectsWith(db.enableSync("missing"), "ERR_TABLE_NOT_FOUND");
  await rejectsWith(db.enableSync("nopk"), "ERR_NO_PRIMARY_KEY");
  await rejectsWith(db.enableSync("_sync_log"), "ERR_RESERVED_TABLE");
  await rejectsWith(db.enableSync("sqlite_schema"), "ERR_RESERVED_TABLE");
  await rejectsWith(db.enableSync("v"), "ERR_NOT_A_TABLE");
  await rejectsWith(db.enableSync("t", { conflictStrategy: "bogus" }), "ERR_INVALID_ARGUMENT");
  await rejectsWith(db.enableSync(17), "ERR_INVALID_ARGUMENT");
  assert.deepEqual(await db.syncedTables(), []);
  await db.close();
});
