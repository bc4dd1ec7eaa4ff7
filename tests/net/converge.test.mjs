// Two in-process devices sync through a real relay process (the CLI, a SQLite file, 127.0.0.1):
// over HTTP, and over a WebSocket (the `ws` package's class, and the runtime's global one where it
// has one), concurrent edits of one row surface the same conflict id on both, a resolution on one
// closes it on both, and both end with the same rows. Over a WebSocket a commit on one device
// reaches the other without it asking (the relay's Notify starts its round).
//   node --test tests/net/converge.test.mjs

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cleanup, WEBSOCKETS, count, database, relay, rows, shutdown, sync, transport, until } from "./harness.mjs";

let server;
before(async () => {
  server = await relay();
});
after(async () => {
  await cleanup();
  await server?.close();
});

/** Two devices of `space`, each syncing over `kind`, only when asked (no interval, no debounce round soon). */
async function pair(kind, space, WebSocket) {
  const a = await database();
  const b = await database();
  const options = (db) => ({ transport: transport(kind, server, space, db, WebSocket ? { WebSocket } : {}), intervalMs: 0, debounceMs: 60_000 });
  return { a, b, sa: sync(a, options(a)), sb: sync(b, options(b)) };
}

const cases = [["http", undefined], ...WEBSOCKETS.map(([name, WebSocket]) => [`websocket (${name})`, WebSocket])];

for (const [name, WebSocket] of cases) {
  const kind = name === "http" ? "http" : "websocket";
  test(`two devices converge over ${name}: one conflict id on both, closed on both by one resolution`, { timeout: 60_000 }, async () => {
    const space = `converge-${name.replace(/\W+/g, "-")}`;
    const { a, b, sa, sb } = await pair(kind, space, WebSocket);
    try {
      await sa.loop.syncNow();
      await sb.loop.syncNow();
      await a.exec("INSERT INTO todos VALUES ('1', 'first', 'a')");
      await a.exec("INSERT INTO todos VALUES ('2', 'second', 'a')");
      const pushed = await sa.loop.syncNow();
      assert.equal(pushed.sent, 2, JSON.stringify({ pushed, statuses: sa.statuses }));
      await sb.loop.syncNow();
      // (Over a WebSocket the relay's Notify may have started B's round already: count since startSync.)
      assert.equal(sb.loop.status.received, 2);
      assert.deepEqual(await rows(b), await rows(a));

      // Concurrent edits of row 1, neither device having seen the other's.
      await a.exec("UPDATE todos SET title = 'by a' WHERE id = '1'");
      await b.exec("UPDATE todos SET title = 'by b' WHERE id = '1'");
      await b.exec("INSERT INTO todos VALUES ('3', 'third', 'b')");
      await sa.loop.syncNow();
      // (Over a WebSocket the relay's Notify may have started these rounds already.)
      await sb.loop.syncNow();
      await sa.loop.syncNow();
      const [ca, cb] = [await a.conflicts(), await b.conflicts()];
      assert.equal(ca.length, 1);
      assert.deepEqual(cb.map((c) => c.id), ca.map((c) => c.id), "the same conflict id on both devices");
      assert.deepEqual(ca[0].primaryKey, { id: "1" });
      assert.deepEqual(await rows(b), await rows(a), "the same provisional winner on both");

      await a.resolveConflict(ca[0].id, { values: { id: "1", title: "agreed", by: "a" } });
      await sa.loop.syncNow();
      await sb.loop.syncNow();
      assert.deepEqual(await a.conflicts(), []);
      assert.deepEqual(await b.conflicts(), [], "the resolution closed it on the other device");
      assert.deepEqual(await rows(a), [
        { id: "1", title: "agreed", by: "a" },
        { id: "2", title: "second", by: "a" },
        { id: "3", title: "third", by: "b" },
      ]);
      assert.deepEqual(await rows(b), await rows(a));
      for (const s of [sa, sb]) {
        assert.equal(s.loop.status.state, "idle");
        assert.equal(s.loop.status.pending, 0);
        assert.equal(s.loop.status.lastError, null);
      }
    } finally {
      await shutdown([sa, sb], [a, b]);
    }
    assert.equal(sa.loop.status.state, "stopped");
  });
}

for (const [name, WebSocket] of WEBSOCKETS) {
  test(`live push over a WebSocket (${name}): a commit on A is queryable on B without B asking`, { timeout: 30_000 }, async () => {
    const space = `live-${name.replace(/\W+/g, "-")}`;
    const a = await database();
    const b = await database();
    const options = (db) => ({ transport: transport("websocket", server, space, db, { WebSocket }), intervalMs: 0, debounceMs: 5 });
    const sa = sync(a, options(a));
    const sb = sync(b, options(b));
    try {
      // Both connected and idle after their first round (started by startSync itself).
      await until(() => sa.loop.status.lastSyncAt !== null && sb.loop.status.lastSyncAt !== null, { what: "the first rounds" });
      const latencies = [];
      for (let i = 0; i < 5; i++) {
        const began = performance.now();
        await a.exec("INSERT INTO todos VALUES (?, 'live', 'a')", [`live-${i}`]);
        await until(async () => (await count(b)) === i + 1, { timeoutMs: 5000, everyMs: 2, what: `row ${i} on B` });
        latencies.push(performance.now() - began);
      }
      console.log(`commit on A → queryable on B over ${name}: ${latencies.map((ms) => ms.toFixed(1)).join(", ")} ms`);
      assert.deepEqual(await rows(b), await rows(a));
      await until(() => sb.loop.status.received === 5 && sb.loop.status.state === "idle", { what: "B's status" });
    } finally {
      await shutdown([sa, sb], [a, b]);
    }
  });
}

// A device's own records come back in its pulls and count in `received` (RoundReport.received is
// "records pulled", src/engine/sync.rs), where api.md says "pulled and imported": #10.
test("a round that pushes two records receives none of its own back", { timeout: 30_000 }, async () => {
  const a = await database();
  const sa = sync(a, { transport: transport("http", server, "own-records", a), intervalMs: 0, debounceMs: 60_000 });
  try {
    await sa.loop.syncNow();
    await a.exec("INSERT INTO todos VALUES ('1', 'one', 'a'), ('2', 'two', 'a')");
    await a.exec("INSERT INTO todos VALUES ('3', 'three', 'a')");
    assert.deepEqual(await sa.loop.syncNow(), { sent: 2, received: 0, conflicts: 0 });
  } finally {
    await shutdown([sa], [a]);
  }
});
