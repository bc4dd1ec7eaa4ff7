// The relay process killed with SIGKILL in the middle of a sync, then started again on the same
// file and port: the loops resume by themselves (offline with a retry scheduled, then idle),
// nothing is lost and nothing is applied twice. Once while a device catches up on 10,000 records
// (over HTTP and over a WebSocket), once while a device pushes 10,000 records over HTTP.
//   node --test tests/net/kill.test.mjs

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cleanup, count, database, insertMany, relay, shutdown, spaceRecords, sync, transport, until, writer } from "./harness.mjs";

const N = 10_000;
let server;
before(async () => {
  server = await relay();
});
after(async () => {
  await cleanup();
  await server?.close();
});

/** Waits for `s` to notice the relay is gone: offline, ERR_NETWORK (retryable), a retry scheduled. */
async function noticed(s) {
  await until(() => s.loop.status.state === "offline" || s.loop.status.state === "error", { timeoutMs: 20_000, what: "noticing the relay is gone" });
  const failed = s.loop.status;
  assert.equal(failed.state, "offline");
  assert.equal(failed.lastError?.code, "ERR_NETWORK", String(failed.lastError));
  assert.equal(failed.lastError?.retryable, true);
  assert.ok(failed.nextRetryAt !== null && failed.nextRetryAt > Date.now() - 1000, "a retry is scheduled");
}

/** Nothing lost, nothing twice: `db` holds the N distinct rows, no conflict. */
async function complete(db) {
  assert.equal(await count(db), N, "nothing lost");
  assert.equal((await db.query("SELECT count(DISTINCT id) AS n FROM todos"))[0].n, N);
  assert.deepEqual(await db.conflicts(), [], "nothing applied twice as a conflict");
}

const resumed = (s) => {
  const states = s.statuses.map((x) => x.state);
  assert.ok(states.lastIndexOf("idle") > states.indexOf("offline"), `states: ${states.join(" ")}`);
};

for (const kind of ["http", "websocket"]) {
  test(`SIGKILL during a catch-up over ${kind}, restart on the same file: the loop resumes, nothing lost or applied twice`, { timeout: 120_000 }, async () => {
    const space = `killed-catchup-${kind}`;
    const { a, sa } = await writer(server, space, N);
    const b = await database();
    const sb = sync(b, { transport: transport(kind, server, space, b), intervalMs: 200 });
    try {
      // Killed at the first page B imports.
      await until(() => sb.progress.length > 0, { everyMs: 1, timeoutMs: 30_000, what: "the first page" });
      await server.kill();
      await noticed(sb);
      const partial = await count(b);
      assert.ok(partial < N, `B had ${partial} rows when the relay died`);

      await server.restart();
      await until(async () => sb.loop.status.state === "idle" && (await count(b)) === N, { timeoutMs: 60_000, what: "B resuming on its own" });
      await complete(b);
      assert.equal(sb.loop.status.received, N, "every record imported once");
      assert.equal(await spaceRecords(server.db, space), N, "the relay's file holds each record once");
      resumed(sb);
      const again = await sa.loop.syncNow();
      assert.equal(again.sent, 0, "A has nothing left to send");
    } finally {
      await shutdown([sa, sb], [a, b]);
    }
  });
}

test("SIGKILL while a device pushes 10,000 records over HTTP, restart on the same file: the push resumes, each record stored once", { timeout: 120_000 }, async () => {
  const space = "killed-push";
  const a = await database();
  await insertMany(a, "a", N, "a title long enough to make the pages weigh something ".repeat(2));
  const sa = sync(a, { transport: transport("http", server, space, a), intervalMs: 200 });
  let b, sb;
  try {
    // Killed once the relay's file holds A's first page.
    await until(async () => (await spaceRecords(server.db, space)) > 0, { everyMs: 1, timeoutMs: 30_000, what: "A's first page stored" });
    await server.kill();
    const stored = await spaceRecords(server.db, space);
    assert.ok(stored < N, `the relay held ${stored} records when it died`);
    await noticed(sa);
    assert.ok(sa.loop.status.pending > 0, "A knows what the relay lacks");

    await server.restart();
    await until(() => sa.loop.status.state === "idle" && sa.loop.status.pending === 0, { timeoutMs: 60_000, what: "A resuming on its own" });
    assert.equal(await spaceRecords(server.db, space), N, "every record stored, each once");
    resumed(sa);
    // A new device pulls exactly the N records.
    b = await database();
    sb = sync(b, { transport: transport("http", server, space, b), intervalMs: 0 });
    const pulled = await sb.loop.syncNow();
    assert.equal(pulled.received, N);
    await complete(b);
    assert.deepEqual(await b.query("SELECT id FROM todos ORDER BY id LIMIT 1"), [{ id: "a-00000" }]);
  } finally {
    await shutdown([sa, ...(sb ? [sb] : [])], [a, ...(b ? [b] : [])]);
  }
});

// A round that fails after some of its pushes were acknowledged still counts them in `status.sent`.
// The one push the relay may have stored without its answer reaching A (killed between its commit
// and its reply) is never pushed again and cannot be counted: at most one push (1,000 records).
test("status.sent counts the records a failed round pushed before the relay died", { timeout: 120_000 }, async () => {
  const space = "killed-push-sent";
  const a = await database();
  await insertMany(a, "a", N);
  const sa = sync(a, { transport: transport("http", server, space, a), intervalMs: 200 });
  try {
    await until(async () => (await spaceRecords(server.db, space)) > 0, { everyMs: 1, timeoutMs: 30_000, what: "A's first page stored" });
    await server.kill();
    await noticed(sa);
    await server.restart();
    await until(() => sa.loop.status.state === "idle" && sa.loop.status.pending === 0, { timeoutMs: 60_000, what: "A resuming on its own" });
    assert.equal(await spaceRecords(server.db, space), N);
    const sent = sa.loop.status.sent;
    assert.ok(sent >= N - 1_000 && sent <= N, `status.sent ${sent}`);
  } finally {
    await shutdown([sa], [a]);
  }
});
