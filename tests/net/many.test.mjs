// 50 in-process devices × 200 changes each through one real relay process, over HTTP, each loop
// left to its own schedule (a debounced round after the commits, then its interval): all 50 end
// with the same 10,000 rows, every device's records acknowledged, and the relay's file holds each of
// the 10,000 records once. Bounded in count (50 × 200) and in time (the test's timeout).
//   node --test tests/net/many.test.mjs

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cleanup, count, database, relay, shutdown, spaceRecords, sync, transport, until } from "./harness.mjs";

const DEVICES = 50;
const EACH = 200;
let server;
before(async () => {
  server = await relay();
});
after(async () => {
  await cleanup();
  await server?.close();
});

test(`${DEVICES} devices × ${EACH} changes converge through one relay`, { timeout: 150_000 }, async () => {
  const space = "fifty";
  const dbs = await Promise.all(Array.from({ length: DEVICES }, () => database()));
  const loops = dbs.map((db) => sync(db, { transport: transport("http", server, space, db), intervalMs: 1000, debounceMs: 100 }));
  const began = performance.now();
  try {
    // Every device commits its 200 rows one statement at a time, all at once: the debounce
    // batches each device's commits into few rounds.
    await Promise.all(
      dbs.map(async (db, d) => {
        for (let i = 0; i < EACH; i++) await db.exec("INSERT INTO todos VALUES (?, 'many', ?)", [`${d}-${i}`, String(d)]);
      }),
    );
    await until(async () => (await Promise.all(dbs.map(count))).every((n) => n === DEVICES * EACH), {
      timeoutMs: 120_000,
      everyMs: 250,
      what: "all devices holding every row",
    });
    console.log(`${DEVICES} × ${EACH} converged in ${(performance.now() - began).toFixed(0)} ms`);
    await until(() => loops.every((l) => l.loop.status.pending === 0), { timeoutMs: 20_000, what: "every device's records acknowledged" });
    // A round that fails after its push was stored (a dropped keep-alive connection under this
    // load) does not count that push in `sent`, and a device's own records come back in its
    // pulls: so `sent` is at most 200 and `received` between the others' 9,800 and all 10,000.
    const counts = loops.map((l) => [l.loop.status.sent, l.loop.status.received]);
    console.log(`devices whose status.sent < ${EACH}: ${counts.filter(([sent]) => sent < EACH).length}; received: ${[...new Set(counts.map((c) => c[1]))]}`);
    for (const [d, [sent, received]] of counts.entries()) {
      assert.ok(sent <= EACH, `device ${d} sent ${sent}`);
      assert.ok(received >= (DEVICES - 1) * EACH && received <= DEVICES * EACH, `device ${d} received ${received}`);
    }
    assert.equal(await spaceRecords(server.db, space), DEVICES * EACH);
    const first = await dbs[0].query("SELECT id, by FROM todos ORDER BY id");
    const last = await dbs[DEVICES - 1].query("SELECT id, by FROM todos ORDER BY id");
    assert.deepEqual(last, first);
  } finally {
    await shutdown(loops, dbs);
  }
});
