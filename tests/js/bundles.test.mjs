// Sync through the packaged API: bundles between replicas, import results, conflicts, resolution
// (choices and app resolvers), and bundles that must be refused without changing anything.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase, SyncError } from "sqlite-sync-wasm";
import { rejectsWith } from "./helpers.mjs";

const SCHEMA = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0)";

async function replica(options) {
  const db = await openDatabase();
  await db.exec(SCHEMA);
  await db.enableSync("todos", options);
  return db;
}

/** Sends everything `from` has that `to` lacks; returns the import result (or null). */
async function send(from, to) {
  const bundle = await from.generateBundle({ peerId: to.deviceId });
  return bundle === null ? null : to.importBundle(bundle);
}

const rows = (db) => db.query("SELECT * FROM todos ORDER BY id");

test("two replicas exchange bundles and end with the same rows", async () => {
  const [a, b] = [await replica(), await replica()];
  await a.exec("INSERT INTO todos (id, title) VALUES (1, 'milk'), (2, 'bread')");
  const bundle = await a.generateBundle({ peerId: b.deviceId });
  assert.ok(bundle instanceof Uint8Array);
  const result = await b.importBundle(bundle);
  assert.equal(result.sourceDeviceId, a.deviceId);
  assert.match(result.bundleId, /^[0-9a-f]{32}$/);
  assert.deepEqual(
    { total: result.total, applied: result.applied, duplicates: result.duplicates, conflicts: result.conflicts, skipped: result.skipped },
    { total: 2, applied: 2, duplicates: 0, conflicts: 0, skipped: false },
  );
  await b.exec("UPDATE todos SET done = 1 WHERE id = 2");
  await send(b, a);
  assert.deepEqual(await rows(a), await rows(b));
  assert.deepEqual(await a.vectorClock(), await b.vectorClock());
  const ack = await send(a, b);
  assert.equal(ack.total, 0, "a acknowledges b's change with a bundle that carries none");
  assert.equal(await a.generateBundle({ peerId: b.deviceId }), null, "b has everything a has");
  assert.equal(await b.generateBundle({ peerId: a.deviceId }), null, "and knows a has everything b has");
  await Promise.all([a.close(), b.close()]);
});

test("importing the same bundle again is skipped and changes nothing", async () => {
  const [a, b] = [await replica(), await replica()];
  await a.exec("INSERT INTO todos (id, title) VALUES (1, 'milk')");
  const bundle = await a.generateBundle();
  await b.importBundle(bundle);
  const before = [await rows(b), await b.changeLog(), await b.vectorClock()];
  const again = await b.importBundle(bundle);
  assert.equal(again.skipped, true);
  assert.equal(again.applied, 0);
  assert.deepEqual([await rows(b), await b.changeLog(), await b.vectorClock()], before);
  const overlapping = await b.importBundle(await a.generateBundle());
  assert.deepEqual([overlapping.skipped, overlapping.duplicates, overlapping.applied], [false, 1, 0]);
  await Promise.all([a.close(), b.close()]);
});

test("concurrent edits surface the same conflict on both sides until one side resolves it", async () => {
  const [a, b] = [await replica(), await replica()];
  await a.exec("INSERT INTO todos (id, title) VALUES (1, 'milk')");
  await send(a, b);
  await a.exec("UPDATE todos SET title = 'oat milk' WHERE id = 1");
  await b.exec("UPDATE todos SET title = 'soy milk' WHERE id = 1");
  const atB = await send(a, b);
  const atA = await send(b, a);
  assert.equal(atA.conflicts, 1);
  assert.deepEqual(atA.newConflicts, atB.newConflicts);
  const [ca] = await a.conflicts();
  const [cb] = await b.conflicts();
  assert.equal(ca.id, cb.id);
  assert.equal(ca.table, "todos");
  assert.deepEqual(ca.primaryKey, { id: 1 });
  assert.equal(ca.local.title, "oat milk");
  assert.equal(ca.remote.title, "soy milk");
  assert.equal(cb.local.title, "soy milk");
  assert.equal(typeof ca.detectedAt, "number");
  assert.deepEqual(await rows(a), await rows(b), "both show the same provisional winner");

  await b.resolveConflict(cb.id, { values: { title: "almond milk" } });
  assert.deepEqual(await b.conflicts(), []);
  await send(b, a);
  assert.deepEqual(await a.conflicts(), []);
  assert.deepEqual(await rows(a), [{ id: 1, title: "almond milk", done: 0 }]);
  assert.deepEqual(await rows(a), await rows(b));
  await rejectsWith(a.resolveConflict(ca.id, "local"), "ERR_CONFLICT_NOT_FOUND");
  await Promise.all([a.close(), b.close()]);
});

test("a registered resolver settles new conflicts of its table after the import", async () => {
  const [a, b] = [await replica(), await replica()];
  await a.exec("INSERT INTO todos (id, title) VALUES (1, 'x')");
  await send(a, b);
  await a.exec("UPDATE todos SET title = 'from a' WHERE id = 1");
  await b.exec("UPDATE todos SET title = 'from b' WHERE id = 1");
  const seen = [];
  await b.setConflictResolver("todos", (conflict) => {
    seen.push(conflict);
    return "local";
  });
  await send(a, b);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].remote.title, "from a");
  assert.deepEqual(await b.conflicts(), []);
  assert.equal((await rows(b))[0].title, "from b");
  await send(b, a);
  assert.deepEqual(await rows(a), await rows(b));
  await b.setConflictResolver("todos", null);
  await rejectsWith(b.setConflictResolver("todos", 42), "ERR_INVALID_ARGUMENT");
  await Promise.all([a.close(), b.close()]);
});

test("lww resolves automatically and field-merge keeps edits of different columns", async () => {
  for (const conflictStrategy of ["lww", "field-merge"]) {
    const [a, b] = [await replica({ conflictStrategy }), await replica({ conflictStrategy })];
    await a.exec("INSERT INTO todos (id, title) VALUES (1, 'x')");
    await send(a, b);
    await a.exec("UPDATE todos SET title = 'renamed' WHERE id = 1");
    await b.exec("UPDATE todos SET done = 1 WHERE id = 1");
    await send(a, b);
    await send(b, a);
    assert.deepEqual(await a.conflicts(), [], conflictStrategy);
    assert.deepEqual(await rows(a), [{ id: 1, title: "renamed", done: 1 }], conflictStrategy);
    assert.deepEqual(await rows(a), await rows(b));
    await Promise.all([a.close(), b.close()]);
  }
});

test("bad bundles are refused with a specific code and change nothing", async () => {
  const [a, b] = [await replica(), await replica()];
  await a.exec("INSERT INTO todos (id, title) VALUES (1, 'milk')");
  const bundle = await a.generateBundle();
  const before = [await rows(b), await b.changeLog(), await b.vectorClock()];
  const flipped = bundle.slice();
  flipped[40] ^= 1;
  const newer = bundle.slice();
  newer[7] = 9;
  const cases = [
    [new Uint8Array(), "ERR_BUNDLE_MALFORMED"],
    [bundle.slice(0, bundle.length - 5), "ERR_BUNDLE_MALFORMED"],
    [new TextEncoder().encode("definitely not a bundle, just some text here"), "ERR_BUNDLE_MALFORMED"],
    [flipped, "ERR_BUNDLE_TAMPERED"],
    [newer, "ERR_BUNDLE_VERSION"],
  ];
  for (const [bytes, code] of cases) await rejectsWith(b.importBundle(bytes), code);
  await rejectsWith(b.importBundle("not bytes"), "ERR_INVALID_ARGUMENT");
  const other = await openDatabase();
  await other.exec(SCHEMA);
  await rejectsWith(other.importBundle(bundle), "ERR_TABLE_NOT_SYNCED");
  assert.deepEqual([await rows(b), await b.changeLog(), await b.vectorClock()], before);
  await rejectsWith(a.generateBundle({ peerId: "nope" }), "ERR_INVALID_ARGUMENT");
  const error = await b.importBundle(flipped).catch((e) => e);
  assert.ok(error instanceof SyncError);
  assert.equal(error.retryable, false);
  await Promise.all([a.close(), b.close(), other.close()]);
});
