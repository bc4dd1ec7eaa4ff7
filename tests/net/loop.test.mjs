// The sync loop against a real relay process: a token refresh after a 401 (the token function's
// first token is forged, its second good), `stop()` during a catch-up (the round ends, no request
// follows), offline → online (the relay down: "offline" with a retry scheduled and spaced by the
// back-off; the relay up on that port: "idle" and synced without anyone asking), and `pending`
// counting local records the relay has not acknowledged.
//   node --test tests/net/loop.test.mjs

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SignJWT } from "jose";
import { cleanup, count, countingFetch, database, insertMany, relay, SECRET, shutdown, spaceRecords, sync, token, tokens, transport, until } from "./harness.mjs";

/** A token of `space` for `device` that expired two minutes ago (beyond the relay's clock skew). */
const expiredToken = (space, device) =>
  new SignJWT({ sub: device, space })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 120)
    .sign(new TextEncoder().encode(SECRET));

let server;
before(async () => {
  server = await relay();
});
after(async () => {
  await cleanup();
  await server?.close();
});

for (const kind of ["http", "websocket"]) {
  test(`token refresh over ${kind}: a forged first token, a good second one, one round that succeeds`, { timeout: 30_000 }, async () => {
    const space = `refresh-${kind}`;
    const db = await database();
    await db.exec("INSERT INTO todos VALUES ('1', 'one', 'a')");
    const forged = await token(space, db.deviceId, 3600, "not-the-relay-secret-0123456789abcdef-0123456789");
    const fn = tokens(space, db, { first: forged });
    const s = sync(db, { transport: transport(kind, server, space, db, { token: fn }), intervalMs: 0 });
    try {
      const result = await s.loop.syncNow();
      assert.equal(fn.calls, 2, "asked once more after ERR_UNAUTHORIZED");
      assert.equal(s.loop.status.state, "idle");
      assert.equal(s.loop.status.lastError, null);
      // The first round (started by startSync) or this one pushed the row; the relay holds it.
      assert.ok(result.sent <= 1);
      assert.equal(s.loop.status.sent, 1);
      assert.equal(await spaceRecords(server.db, space), 1);
    } finally {
      await shutdown([s], [db]);
    }
  });
}

test("an expired token that stays expired: the round fails with ERR_UNAUTHORIZED after one refresh", { timeout: 30_000 }, async () => {
  const space = "expired";
  const db = await database();
  const expired = await expiredToken(space, db.deviceId);
  const fn = async () => {
    fn.calls += 1;
    return expired;
  };
  fn.calls = 0;
  const s = sync(db, { transport: transport("http", server, space, db, { token: fn }), intervalMs: 0 });
  try {
    await assert.rejects(s.loop.syncNow(), (e) => e.code === "ERR_UNAUTHORIZED" && e.retryable === false);
    assert.equal(fn.calls, 2, "one round: its connect and one refresh");
    assert.equal(s.loop.status.state, "error");
    assert.equal(s.loop.status.lastError.code, "ERR_UNAUTHORIZED");
    assert.ok(!String(s.loop.status.lastError.message).includes(expired), "the token is not echoed");
  } finally {
    await shutdown([s], [db]);
  }
});

test("stop() during a catch-up: the round ends, then no request follows and no round starts", { timeout: 90_000 }, async () => {
  const space = "stop";
  const a = await database();
  const sa = sync(a, { transport: transport("http", server, space, a), intervalMs: 0 });
  await insertMany(a, "a", 10_000);
  await until(async () => (await spaceRecords(server.db, space)) === 10_000, { timeoutMs: 60_000, what: "A's push" });
  const b = await database();
  const fetch = countingFetch();
  const sb = sync(b, { transport: transport("http", server, space, b, { fetch }), intervalMs: 50, debounceMs: 5 });
  try {
    await until(() => sb.progress.length > 0, { everyMs: 1, timeoutMs: 30_000, what: "the first page" });
    await sb.loop.stop();
    const requests = fetch.calls;
    assert.equal(sb.loop.status.state, "stopped");
    assert.equal(await count(b), 10_000, "the running round ended (caught up) before stop resolved");
    await b.exec("INSERT INTO todos VALUES ('after-stop', 'x', 'b')");
    await assert.rejects(sb.loop.syncNow(), (e) => e.code === "ERR_CLOSED");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(fetch.calls, requests, "no request after stop() resolved");
    assert.equal(sb.statuses.at(-1).state, "stopped");
    assert.equal(await spaceRecords(server.db, space), 10_000);
  } finally {
    await shutdown([sa, sb], [a, b]);
  }
});

test("offline → online: the relay down, then up on the same port; pending counts what it lacks", { timeout: 90_000 }, async () => {
  const space = "offline";
  const down = await relay();
  await down.stop();
  const db = await database();
  for (let i = 0; i < 3; i++) await db.exec("INSERT INTO todos VALUES (?, 'offline', 'a')", [String(i)]);
  const fetch = countingFetch();
  const s = sync(db, { transport: transport("http", down, space, db, { fetch }), intervalMs: 100, debounceMs: 5 });
  try {
    await until(() => s.loop.status.state === "offline", { what: "offline" });
    await until(() => s.loop.status.pending === 3, { what: "pending 3" });
    const status = s.loop.status;
    assert.equal(status.lastError?.code, "ERR_NETWORK");
    assert.ok(status.nextRetryAt !== null, "a retry is scheduled");
    assert.ok(status.nextRetryAt - Date.now() <= 30_000, "within the back-off's cap");
    // A commit while offline does not start a round before the retry.
    await db.exec("INSERT INTO todos VALUES ('3', 'offline', 'a')");
    await new Promise((resolve) => setTimeout(resolve, 4000));
    // The back-off spaces the attempts (0.5 s doubling with full jitter): far fewer than the 40
    // the 100 ms interval would make in 4 s, and the scheduled delays grow.
    const attempts = fetch.times.length;
    assert.ok(attempts >= 2 && attempts <= 12, `${attempts} attempts in about 4 s`);
    // Each failure's delay is below its ceiling, 500 ms doubling (full jitter), at most 30 s.
    const delays = [];
    s.statuses.forEach((x, i) => {
      const previous = s.statuses[i - 1];
      if (x.state === "offline" && x.nextRetryAt !== null && x.nextRetryAt !== previous?.nextRetryAt) delays.push(x.nextRetryAt - s.times[i]);
    });
    assert.ok(delays.length >= 2, `delays ${delays}`);
    delays.forEach((d, i) => assert.ok(d >= -5 && d <= Math.min(30_000, 500 * 2 ** i) + 5, `failure ${i + 1}: a delay of ${d} ms (${delays})`));
    console.log(`back-off delays while the relay was down: ${delays.join(", ")} ms`);
    assert.equal(s.loop.status.pending, 4);

    await down.restart();
    await until(() => s.loop.status.state === "idle", { timeoutMs: 40_000, what: "idle after the relay came back" });
    assert.equal(s.loop.status.pending, 0);
    assert.equal(s.loop.status.sent, 4);
    assert.equal(s.loop.status.lastError, null);
    assert.equal(s.loop.status.nextRetryAt, null);
    assert.equal(await spaceRecords(down.db, space), 4);
  } finally {
    await shutdown([s], [db]);
    await down.close();
  }
});
