// Catch-up through a real relay process: a device offline while another made 10,000 changes
// (10,000 commits, so 10,000 change records) pulls them in pages, with progress events. The relay
// killed in the middle of one is in kill.test.mjs.
//   node --test tests/net/catchup.test.mjs

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cleanup, count, database, relay, shutdown, sync, transport, until, writer } from "./harness.mjs";

const N = 10_000;
let server;
before(async () => {
  server = await relay();
});
after(async () => {
  await cleanup();
  await server?.close();
});

/** Checks the progress events of one catch-up of `N` records: increasing, up to N of N, in pages. */
function assertProgress(progress) {
  assert.ok(progress.length >= 10, `${progress.length} progress events`);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].received > progress[i - 1].received, "received increases");
  assert.deepEqual(progress.at(-1), { received: N, total: N });
  assert.ok(progress.every((p) => p.total === N), "the total is known from the first page");
}

for (const kind of ["http", "websocket"]) {
  test(`a device offline for 10,000 changes catches up in pages over ${kind}, with progress`, { timeout: 120_000 }, async () => {
    const space = `catchup-${kind}`;
    const b = await database();
    // B is known to the relay (it synced once), then goes away while A writes.
    const first = sync(b, { transport: transport(kind, server, space, b), intervalMs: 0 });
    await first.loop.syncNow();
    await first.loop.stop();
    const { a, sa } = await writer(server, space, N, kind);
    const began = performance.now();
    const sb = sync(b, { transport: transport(kind, server, space, b), intervalMs: 0 });
    try {
      await until(() => sb.loop.status.state === "idle" && sb.loop.status.lastSyncAt !== null, { timeoutMs: 90_000, what: "the catch-up" });
      console.log(`catch-up of ${N} records over ${kind}: ${(performance.now() - began).toFixed(0)} ms, ${sb.progress.length} progress events`);
      assert.equal(await count(b), N);
      assert.equal(sb.loop.status.received, N);
      assert.equal(sb.loop.status.lastError, null);
      assertProgress(sb.progress);
      assert.ok(sb.statuses.some((s) => s.state === "syncing"));
      assert.deepEqual(await b.conflicts(), []);
    } finally {
      await shutdown([sa, sb], [a, b]);
    }
  });
}
