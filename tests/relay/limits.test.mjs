// The relay's abuse limits, each on a real relay process started with the CLI flag that sets it
// low: the per-device request rate (429 with Retry-After), the per-space storage quota (413,
// nothing stored), WebSockets per device, and keep-alive (the relay pings a quiet socket and
// closes a silent one).

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { assertRefused, connect, ids, inspect, post, record, startRelay, storedRecords, tempDir, token } from "./harness.mjs";

const A = ids[0xa1];
const B = ids[0xb2];
const dir = tempDir();
const relays = [];
after(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  dir.remove();
});

async function relayWith(name, args) {
  const db = join(dir.path, `${name}.db`);
  const relay = await startRelay(db, { args });
  relays.push(relay);
  return { relay, db };
}

const hello = (device, space = "s") => ({ kind: "Hello", device, space, clock: [] });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("a device over its rate gets 429 with Retry-After and retryAfterMs, storing nothing; other devices do not", { timeout: 30_000 }, async () => {
  // One request a second, bursts of 5: of 12 pushes sent at once, at most 5 (plus one a second
  // of elapsed time) are served, whatever the machine's load.
  const { relay, db } = await relayWith("rate", ["--rate", "1", "--burst", "5"]);
  const [ta, tb] = await Promise.all([token("s", A), token("s", B)]);
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) => post(relay.url, { kind: "Push", records: [record(A, i + 1)] }, ta)),
  );
  const served = answers.filter((a) => a.status === 200).length;
  assert.ok(served >= 5 && served <= 5 + Math.ceil((Date.now() - started) / 1000), `${served} served`);
  const limited = answers.filter((a) => a.status !== 200);
  assert.ok(limited.length > 0);
  for (const answer of limited) {
    assertRefused(answer, 429, "ERR_RATE_LIMITED");
    assert.ok(answer.error.retryAfterMs > 0 && answer.error.retryAfterMs <= 1000, `${answer.error.retryAfterMs}`);
    assert.equal(answer.headers.get("retry-after"), "1");
  }
  assert.equal(await storedRecords(db), served, "a refused push stores nothing");
  assert.equal((await post(relay.url, hello(B), tb)).status, 200, "another device has its own bucket");

  const socket = await connect(relay.url, tb);
  for (let i = 0; i < 12; i++) socket.send({ kind: "Ping", nonce: i });
  const replies = [];
  for (let i = 0; i < 12; i++) replies.push(await socket.next());
  assert.ok(replies.some((m) => m.kind === "Error" && m.code === "ERR_RATE_LIMITED" && m.retryAfterMs > 0), JSON.stringify(replies));
  await socket.close();

  await sleep(1100); // a whole token's refill time after the last request
  assert.equal((await post(relay.url, hello(A), ta)).status, 200, "served again once the wait is over");
});

test("a push that would take the space past its quota is 413 and stores nothing", { timeout: 30_000 }, async () => {
  const { relay, db } = await relayWith("quota", ["--quota", "1000"]);
  const bearer = await token("s", A);
  const r = (seq) => record(A, seq, 400 - 25);
  assert.equal(r(1).length, 400);
  assertRefused(await post(relay.url, { kind: "Push", records: [r(1), r(2), r(3)] }, bearer), 413, "ERR_TOO_LARGE");
  assert.equal(await storedRecords(db), 0);
  assert.equal((await post(relay.url, { kind: "Push", records: [r(1), r(2)] }, bearer)).status, 200);
  assert.equal((await post(relay.url, { kind: "Push", records: [r(1), r(2)] }, bearer)).status, 200, "records already held cost nothing");
  assertRefused(await post(relay.url, { kind: "Push", records: [r(3)] }, bearer), 413, "ERR_TOO_LARGE");
  const other = await token("t", A);
  assert.equal((await post(relay.url, { kind: "Push", records: [r(1), r(2)] }, other)).status, 200, "the quota is per space");
  const file = await inspect(db);
  const spaces = file.all("SELECT space, head, bytes FROM spaces ORDER BY space");
  file.close();
  assert.deepEqual(spaces.map((s) => [s.space, s.head, s.bytes]), [["s", 2, 800], ["t", 2, 800]]);
});

test("a device has at most --max-connections WebSockets; a further one gets an Error and close 1008", { timeout: 30_000 }, async () => {
  const { relay } = await relayWith("connections", ["--max-connections", "2"]);
  const bearer = await token("s", A);
  const first = await connect(relay.url, bearer);
  const second = await connect(relay.url, bearer);
  const third = await connect(relay.url, bearer);
  const refusal = await third.next();
  assert.deepEqual([refusal.kind, refusal.code], ["Error", "ERR_RATE_LIMITED"]);
  assert.equal(await third.closed, 1008);
  const other = await connect(relay.url, await token("s", B));
  other.send(hello(B));
  assert.equal((await other.next()).kind, "Welcome", "another device is not counted");
  await first.close();
  await sleep(100);
  const again = await connect(relay.url, bearer);
  again.send(hello(A));
  assert.equal((await again.next()).kind, "Welcome", "a closed socket gives its slot back");
  second.send(hello(A));
  assert.equal((await second.next()).kind, "Welcome");
  await Promise.all([second.close(), again.close(), other.close()]);
});

test("--max-message-bytes: a larger body is 413, a larger frame an ERR_TOO_LARGE Error; a frame over 16 MiB closes the socket", { timeout: 30_000 }, async () => {
  const { relay, db } = await relayWith("size", ["--max-message-bytes", "4096"]);
  const bearer = await token("s", A);
  const big = { kind: "Push", records: [record(A, 1, 5000)] };
  assertRefused(await post(relay.url, big, bearer), 413, "ERR_TOO_LARGE");
  const socket = await connect(relay.url, bearer);
  socket.send(big);
  const refusal = await socket.next();
  assert.deepEqual([refusal.kind, refusal.code], ["Error", "ERR_TOO_LARGE"]);
  socket.send({ kind: "Push", records: [record(A, 1, 1000)] });
  assert.equal((await socket.next()).kind, "Pushed", "the socket still serves");
  socket.ws.send(new Uint8Array(16 * 1024 * 1024 + 2048));
  // 1009 from ws, or 1006 when the relay cut the connection while the client was still sending.
  assert.ok([1009, 1006].includes(await socket.closed));
  assert.equal(await storedRecords(db), 1);
});

test("the relay pings a quiet socket and closes one that stays silent", { timeout: 30_000 }, async () => {
  const { relay } = await relayWith("keepalive", ["--ping-interval", "200", "--idle-timeout", "700"]);
  const bearer = await token("s", A);
  const silent = await connect(relay.url, bearer);
  const ping = await silent.next(2000);
  assert.equal(ping.kind, "Ping");
  const started = Date.now();
  assert.equal(await silent.closed, 1001);
  assert.ok(Date.now() - started < 2000);

  const answering = await connect(relay.url, bearer);
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    const message = await answering.next(1000);
    assert.equal(message.kind, "Ping");
    answering.send({ kind: "Pong", nonce: message.nonce });
  }
  answering.send(hello(A));
  let reply = await answering.next();
  while (reply.kind === "Ping") reply = await answering.next();
  assert.equal(reply.kind, "Welcome", "a socket that answers pings stays open");
  await answering.close();
});
