// Catch-up through a real relay process: a device offline while another made 10,000 changes
// pulls them in pages with progress events; and the relay killed with SIGKILL in the middle of
// that catch-up, then restarted on the same file and port: the loop resumes by itself (offline,
// then idle), nothing is lost and nothing is applied twice.
//   node --test tests/net/catchup.test.mjs

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cleanup, count, database, insertMany, relay, shutdown, spaceRecords, sync, transport, until } from "./harness.mjs";

const N = 10_000;
let server;
before(async () => {
  server = await relay();
});
after(async () => {
  await cleanup();
  await server?.close();
});

/** A device that pushes `N` rows to `space` (in one round) and stops. */
async function writer(space, kind = "http") {
  const a = await database();
  const sa = sync(a, { transport: transport(kind, server, space, a), intervalMs: 0, debounceMs: 60_000 });
  await sa.loop.syncNow();
  await insertMany(a, "a", N, "a title long enough to make the pages weigh something ".repeat(2));
  const pushed = await sa.loop.syncNow();
  assert.equal(pushed.sent, N);
  assert.equal(sa.loop.status.pending, 0);
  return { a, sa };
}

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
    const { a, sa } = await writer(space, kind);
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

test("the relay killed with SIGKILL during a catch-up and restarted on its file: the loop resumes, nothing lost or applied twice", { timeout: 120_000 }, async () => {
  const space = "killed";
  const { a, sa } = await writer(space);
  const b = await database();
  const sb = sync(b, { transport: transport("http", server, space, b), intervalMs: 200 });
  try {
    // Kill it at the first page B imports.
    await until(() => sb.progress.length > 0, { everyMs: 1, timeoutMs: 30_000, what: "the first page" });
    await server.kill();
    const killedAt = sb.progress.at(-1).received;
    await until(() => sb.loop.status.state === "offline" || sb.loop.status.state === "error", { timeoutMs: 20_000, what: "B noticing the relay is gone" });
    const failed = sb.loop.status;
    assert.equal(failed.lastError?.code, "ERR_NETWORK", String(failed.lastError));
    assert.equal(failed.lastError?.retryable, true);
    assert.ok(failed.nextRetryAt !== null && failed.nextRetryAt > Date.now() - 1000, "a retry is scheduled");
    const partial = await count(b);
    assert.ok(partial < N, `B had ${partial} rows when the relay died (killed at ${killedAt})`);

    await server.restart();
    await until(async () => sb.loop.status.state === "idle" && (await count(b)) === N, { timeoutMs: 60_000, what: "B resuming on its own" });
    assert.equal(await count(b), N, "nothing lost");
    assert.equal(sb.loop.status.received, N, "every record imported once");
    assert.deepEqual(await b.conflicts(), [], "nothing applied twice as a conflict");
    assert.equal((await b.query("SELECT count(DISTINCT id) AS n FROM todos"))[0].n, N);
    // The relay's file still holds each record once; A has nothing left to send.
    assert.equal(await spaceRecords(server.db, space), N);
    const again = await sa.loop.syncNow();
    assert.deepEqual([again.sent, again.received], [0, 0]);
    const states = sb.statuses.map((s) => s.state);
    assert.ok(states.lastIndexOf("idle") > states.indexOf("offline"), `states: ${states.join(" ")}`);
  } finally {
    await shutdown([sa, sb], [a, b]);
  }
});
