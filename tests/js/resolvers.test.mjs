// Conflict resolvers (setConflictResolver) after an import: a resolver answering every conflict,
// several conflicts on one row (the first resolution closes the others), conflicts that close
// while the loop runs (skipped, never an error), and resolvers that throw or answer nonsense.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase } from "sqlite-sync-wasm";
import { rejectsWith } from "./helpers.mjs";

const SCHEMA = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0)";

async function replica() {
  const db = await openDatabase();
  await db.exec(SCHEMA);
  await db.enableSync("todos");
  return db;
}

const bundleFor = (from, to) => from.generateBundle({ peerId: to.deviceId });
const rows = (db) => db.query("SELECT * FROM todos ORDER BY id");

/**
 * Two replicas that both edited rows 1..n after sharing them: the bundle from `a` makes n
 * conflicts at `b`. Returns both and that bundle (not imported yet).
 */
async function conflicting(n) {
  const [a, b] = [await replica(), await replica()];
  await a.transaction(async (tx) => {
    for (let id = 1; id <= n; id++) await tx.exec("INSERT INTO todos (id, title) VALUES (?, 'start')", [id]);
  });
  await b.importBundle(await bundleFor(a, b));
  await a.exec("UPDATE todos SET title = 'from a'");
  await b.exec("UPDATE todos SET title = 'from b'");
  return { a, b, bundle: await bundleFor(a, b) };
}

/** A resolver that records what it was offered, and checks each offer is open at that moment. */
function recording(db, answer) {
  const offered = [];
  const resolver = async (conflict) => {
    const open = await db.conflicts();
    assert.ok(open.some((c) => c.id === conflict.id), `conflict ${conflict.id} was offered while closed`);
    offered.push(conflict);
    return typeof answer === "function" ? answer(conflict) : answer;
  };
  return { offered, resolver };
}

test("a resolver answering every one of several conflicts: importBundle resolves and closes them all", async () => {
  const { a, b, bundle } = await conflicting(5);
  const { offered, resolver } = recording(b, (conflict) => (conflict.primaryKey.id % 2 === 0 ? "local" : "remote"));
  await b.setConflictResolver("todos", resolver);
  const result = await b.importBundle(bundle);
  assert.equal(result.newConflicts.length, 5);
  assert.equal(offered.length, 5);
  assert.deepEqual(offered.map((c) => c.id).sort(), [...result.newConflicts].sort());
  assert.deepEqual(await b.conflicts(), []);
  assert.deepEqual(
    (await rows(b)).map((r) => r.title),
    ["from a", "from b", "from a", "from b", "from a"],
  );
  await a.importBundle(await bundleFor(b, a));
  assert.deepEqual(await a.conflicts(), []);
  assert.deepEqual(await rows(a), await rows(b));
  await Promise.all([a.close(), b.close()]);
});

test("several conflicts of one row: the first resolution closes the row, the others are skipped", async () => {
  const [a, b, c] = [await replica(), await replica(), await replica()];
  await a.exec("INSERT INTO todos (id, title) VALUES (1, 'start'), (2, 'untouched')");
  const first = await a.generateBundle();
  await b.importBundle(first);
  await c.importBundle(first);
  await a.exec("UPDATE todos SET title = 'a' WHERE id = 1");
  await b.exec("UPDATE todos SET title = 'b' WHERE id = 1");
  await c.exec("UPDATE todos SET title = 'c' WHERE id = 1");
  await b.importBundle(await bundleFor(a, b));
  // b's bundle carries both a's and b's edits: c learns of two concurrent versions of row 1 at once.
  const { offered, resolver } = recording(c, "local");
  await c.setConflictResolver("todos", resolver);
  const result = await c.importBundle(await bundleFor(b, c));
  assert.ok(result.newConflicts.length >= 1);
  assert.ok(offered.length >= 1 && offered.length <= result.newConflicts.length);
  assert.deepEqual(await c.conflicts(), []);
  assert.deepEqual(await rows(c), [
    { id: 1, title: "c", done: 0 },
    { id: 2, title: "untouched", done: 0 },
  ]);
  // The resolution reaches the others and closes the row's conflicts there too.
  await b.importBundle(await bundleFor(c, b));
  await a.importBundle(await bundleFor(b, a));
  for (const db of [a, b]) {
    assert.deepEqual(await db.conflicts(), []);
    assert.deepEqual(await rows(db), await rows(c));
  }
  await Promise.all([a.close(), b.close(), c.close()]);
});

test("a conflict closed while the loop runs (by a resolver's own writes) is skipped, not an error", async () => {
  const { a, b, bundle } = await conflicting(4);
  // The first resolver call closes every other conflict: one by resolving it, one by writing
  // its row, one it leaves alone (the loop must still offer that one).
  let first = true;
  const { offered, resolver } = recording(b, async (conflict) => {
    if (!first) return "remote";
    first = false;
    const others = (await b.conflicts()).filter((c) => c.id !== conflict.id);
    await b.resolveConflict(others[0].id, "local");
    await b.exec("UPDATE todos SET done = 1 WHERE id = ?", [others[1].primaryKey.id]);
    return "local";
  });
  await b.setConflictResolver("todos", resolver);
  const result = await b.importBundle(bundle);
  assert.equal(result.newConflicts.length, 4);
  assert.equal(offered.length, 2, "the first conflict and the one left open");
  assert.deepEqual(await b.conflicts(), []);
  await a.importBundle(await bundleFor(b, a));
  assert.deepEqual(await rows(a), await rows(b));
  await Promise.all([a.close(), b.close()]);
});

test("a resolver that closes its own conflict and still answers: the answer is skipped", async () => {
  const { a, b, bundle } = await conflicting(2);
  await b.setConflictResolver("todos", async (conflict) => {
    await b.resolveConflict(conflict.id, "remote");
    return "local";
  });
  await b.importBundle(bundle);
  assert.deepEqual(await b.conflicts(), []);
  assert.deepEqual((await rows(b)).map((r) => r.title), ["from a", "from a"]);
  await Promise.all([a.close(), b.close()]);
});

test("a resolver that throws, or answers nonsense, makes importBundle reject; the import stays applied", async () => {
  for (const [answer, check] of [
    [() => {
      throw new RangeError("resolver failed");
    }, (e) => e instanceof RangeError && e.message === "resolver failed"],
    [async () => Promise.reject(new Error("async failure")), (e) => e.message === "async failure"],
  ]) {
    const { a, b, bundle } = await conflicting(2);
    await b.setConflictResolver("todos", answer);
    await assert.rejects(b.importBundle(bundle), check);
    assert.equal((await b.conflicts()).length, 2, "the import was applied, its conflicts are open");
    assert.equal((await b.vectorClock())[a.deviceId], 2);
    await Promise.all([a.close(), b.close()]);
  }
  const { a, b, bundle } = await conflicting(2);
  await b.setConflictResolver("todos", () => "both");
  await rejectsWith(b.importBundle(bundle), "ERR_INVALID_ARGUMENT");
  assert.equal((await b.conflicts()).length, 2);
  await Promise.all([a.close(), b.close()]);
});

test("resolvers only see new conflicts of their own table, and undefined leaves a conflict open", async () => {
  const { a, b, bundle } = await conflicting(3);
  const { offered, resolver } = recording(b, (conflict) => (conflict.primaryKey.id === 2 ? undefined : "local"));
  await b.setConflictResolver("elsewhere", () => {
    throw new Error("never called");
  });
  await b.setConflictResolver("todos", resolver);
  await b.importBundle(bundle);
  assert.equal(offered.length, 3);
  const open = await b.conflicts();
  assert.deepEqual(open.map((c) => c.primaryKey), [{ id: 2 }]);
  // A later import offers only its own new conflicts, not the one left open.
  offered.length = 0;
  await a.exec("INSERT INTO todos (id, title) VALUES (9, 'new')");
  await b.importBundle(await bundleFor(a, b));
  assert.equal(offered.length, 0);
  assert.equal((await b.conflicts()).length, 1);
  await Promise.all([a.close(), b.close()]);
});
