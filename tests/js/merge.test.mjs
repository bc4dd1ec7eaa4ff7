// Merging through the packaged API: a conflict lists every concurrent version, the README's
// resolution loop and a resolver that answers every conflict both work, records that wait for a
// predecessor can be listed and dropped, bundles can carry only what no earlier bundle carried,
// and a huge crafted bundle is refused without exhausting the wasm instance's memory.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase } from "sqlite-sync-wasm";
import { rejectsWith } from "./helpers.mjs";

const SCHEMA = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT)";

async function replica() {
  const db = await openDatabase({ storage: "memory" });
  await db.exec(SCHEMA);
  await db.enableSync("todos");
  return db;
}

async function send(from, to) {
  const bundle = await from.generateBundle({ peerId: to.deviceId });
  return bundle === null ? null : to.importBundle(bundle);
}

/** Three replicas that each edited row 1 concurrently; the first has received the others' edits. */
async function threeVersions() {
  const dbs = [await replica(), await replica(), await replica()];
  await dbs[0].exec("INSERT INTO todos VALUES (1, 'base')");
  await send(dbs[0], dbs[1]);
  await send(dbs[0], dbs[2]);
  for (const [i, db] of dbs.entries()) await db.exec("UPDATE todos SET title = ? WHERE id = 1", [`v${i}`]);
  await send(dbs[1], dbs[0]);
  await send(dbs[2], dbs[0]);
  return dbs;
}

test("a conflict lists every concurrent version, and the README loop resolves it", async () => {
  const dbs = await threeVersions();
  const [conflict, ...more] = await dbs[0].conflicts();
  assert.equal(more.length, 0, "one conflict per row");
  assert.equal(conflict.versions.length, 3);
  assert.deepEqual(
    conflict.versions.map((v) => v.row.title).sort(),
    ["v0", "v1", "v2"],
  );
  assert.deepEqual(conflict.local, { id: 1, title: "v0" });
  assert.ok(conflict.versions.some((v) => v.deviceId === dbs[1].deviceId));
  for (const c of await dbs[0].conflicts()) await dbs[0].resolveConflict(c.id, "local");
  assert.deepEqual(await dbs[0].conflicts(), []);
  for (const db of dbs.slice(1)) await send(dbs[0], db);
  for (const db of dbs) {
    assert.deepEqual(await db.query("SELECT * FROM todos"), [{ id: 1, title: "v0" }]);
    assert.deepEqual(await db.conflicts(), []);
    await db.close();
  }
});

test("a resolver that answers every conflict leaves importBundle resolved and nothing open", async () => {
  const dbs = await threeVersions();
  const target = await replica();
  await target.setConflictResolver("todos", (conflict) => ({ values: { title: `kept ${conflict.versions.length}` } }));
  await send(dbs[0], target);
  for (const db of dbs.slice(1)) {
    const result = await send(db, target);
    assert.equal(typeof result.applied, "number");
  }
  assert.deepEqual(await target.conflicts(), []);
  assert.match((await target.query("SELECT title FROM todos"))[0].title, /^kept /);
  await Promise.all([...dbs, target].map((db) => db.close()));
});

test("a change whose predecessor was lost waits, is listed, can be dropped, and comes again", async () => {
  const [a, b] = [await replica(), await replica()];
  await a.exec("INSERT INTO todos VALUES (1, 'lost on the way')");
  const lost = await a.generateBundle({ peerId: b.deviceId, unsentOnly: true });
  assert.ok(lost);
  await a.exec("INSERT INTO todos VALUES (2, 'arrives first')");
  const second = await a.generateBundle({ peerId: b.deviceId, unsentOnly: true });
  const result = await b.importBundle(second);
  assert.equal(result.pending, 1);
  const [waiting, ...others] = await b.pendingChanges();
  assert.equal(others.length, 0);
  assert.deepEqual([waiting.origin, waiting.seq, waiting.rows], [a.deviceId, 2, 1]);
  assert.deepEqual(waiting.waitsFor, { origin: a.deviceId, seq: 1 });
  assert.equal(await b.discardPendingChanges(a.deviceId), 1);
  assert.deepEqual(await b.pendingChanges(), []);
  await rejectsWith(b.discardPendingChanges(42), "ERR_INVALID_ARGUMENT");
  await send(a, b);
  assert.equal((await b.query("SELECT count(*) AS n FROM todos"))[0].n, 2);
  await Promise.all([a.close(), b.close()]);
});

/** Concatenates byte arrays. */
function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A format-1 bundle (digest: SHA-256 of all before it) from `source`, one record of `changes`. */
async function bundleV1(source, changes) {
  const id = (bytes) => concat([new Uint8Array([0xc4, 16]), bytes]);
  const length = new Uint8Array(5);
  length[0] = 0xc6;
  new DataView(length.buffer).setUint32(1, changes.length);
  const content = concat([
    new TextEncoder().encode("SQSYNC"),
    new Uint8Array([0, 1, 0, 0, 0x96]),
    id(new Uint8Array(16).fill(1)),
    id(source),
    new Uint8Array([0x00, 0x00, 0x80, 0x91, 0x95]),
    id(source),
    new Uint8Array([0x01, 0x01, 0x80]),
    length,
    changes,
  ]);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", content));
  return concat([content, digest]);
}

test("a 128 MiB bundle declaring millions of rows is refused and the database keeps working", async () => {
  const db = await openDatabase({ storage: "memory" });
  await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
  await db.enableSync("t");
  const rows = Math.floor((128 << 20) / 5);
  const changes = new Uint8Array(16 + rows * 5);
  const head = [0x91, 0x91, 0x94, 0xa1, 0x74, 0x92, 0xa2, 0x69, 0x64, 0xa1, 0x76, 0x91, 0x00, 0xdd];
  changes.set(head, 0);
  new DataView(changes.buffer).setUint32(head.length, rows);
  let at = head.length + 4;
  for (let i = 0; i < rows; i += 1, at += 5) {
    // [0, [1, nil]]: an insert; the last row is of an unknown kind, so the import is refused at the end.
    changes[at] = 0x92;
    changes[at + 1] = i + 1 === rows ? 0x07 : 0x00;
    changes[at + 2] = 0x92;
    changes[at + 3] = 0x01;
    changes[at + 4] = 0xc0;
  }
  const bundle = await bundleV1(new Uint8Array(16).fill(7), changes.subarray(0, at));
  assert.ok(bundle.length > 128 << 20);
  await rejectsWith(db.importBundle(bundle), "ERR_BUNDLE_MALFORMED");
  await db.exec("INSERT INTO t VALUES (1, 'still fine')");
  assert.deepEqual(await db.query("SELECT * FROM t"), [{ id: 1, v: "still fine" }]);
  await db.close();
});
