// The relay's exchanges, through a real relay process (the CLI) on a temporary SQLite file, over
// real HTTP and real WebSockets: Hello/Push/Pull, the page bounds, the empty caught-up page,
// idempotent re-push, ERR_RECORD_MISMATCH storing nothing, Notify and Ping on sockets, and the
// devices list. Each test uses its own space.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { encodeMessage } from "../../dist/relay/index.js";
import { assertRefused, connect, ids, inspect, post, record, startRelay, tempDir, token, unhex } from "./harness.mjs";

const A = ids[0xa1];
const B = ids[0xb2];
let dir, db, relay;

before(async () => {
  dir = tempDir();
  db = join(dir.path, "relay.db");
  relay = await startRelay(db);
});
after(async () => {
  await relay?.stop();
  dir?.remove();
});

const hello = (space, device = A) => ({ kind: "Hello", device, space, clock: [] });
const pull = (after, maxRecords = 1000, maxBytes = 900_000) => ({ kind: "Pull", after, maxRecords, maxBytes });
/** The first record of the golden `push` vector: origin 11, seq 3. */
const golden = unhex("95c4101111111111111111111111111111111103cf019ab697e800000081c4102222222222222222222222222222222205c4029190");

async function pushAll(space, bearer, records) {
  for (let i = 0; i < records.length; i += 1000) {
    const answer = await post(relay.url, { kind: "Push", records: records.slice(i, i + 1000) }, bearer);
    assert.equal(answer.status, 200, JSON.stringify(answer.error));
  }
}

test("hello, push and pull over HTTP: the relay's clock counts only contiguous records, positions follow the pushes", { timeout: 30_000 }, async () => {
  const bearer = await token("round-trip", A);
  const welcome = (await post(relay.url, hello("round-trip"), bearer)).message;
  assert.equal(welcome.kind, "Welcome");
  assert.deepEqual(welcome.versions, [1]);
  assert.match(welcome.log, /^[0-9a-f]{32}$/);
  assert.deepEqual([welcome.head, welcome.clock], [0, []]);

  const pushed = await post(relay.url, { kind: "Push", records: [record(A, 1), record(A, 2), golden] }, bearer);
  assert.equal(pushed.status, 200);
  assert.equal(pushed.headers.get("content-type"), "application/octet-stream");
  // Origin 11 has only its seq 3: not in the clock until 1 and 2 arrive.
  assert.deepEqual(pushed.message, { kind: "Pushed", clock: [[A, 2]] });
  const filled = await post(relay.url, { kind: "Push", records: [record(0x11, 2), record(0x11, 1)] }, bearer);
  assert.deepEqual(filled.message.clock, [[ids[0x11], 3], [A, 2]]);

  const page = (await post(relay.url, pull(0), bearer)).message;
  assert.deepEqual(
    page.records.map((r) => [...r]),
    [record(A, 1), record(A, 2), golden, record(0x11, 2), record(0x11, 1)].map((r) => [...r]),
  );
  assert.deepEqual([page.next, page.remaining, page.caughtUp], [5, 0, true]);
  const rest = (await post(relay.url, pull(2), bearer)).message;
  assert.deepEqual([rest.records.length, rest.next, rest.caughtUp], [3, 5, true]);

  const again = (await post(relay.url, hello("round-trip"), bearer)).message;
  assert.deepEqual([again.log, again.head, again.clock], [welcome.log, 5, [[ids[0x11], 3], [A, 2]]]);

  const file = await inspect(db);
  const rows = file.all("SELECT hex(origin) AS o, seq, position FROM records WHERE space = 'round-trip' ORDER BY position");
  file.close();
  assert.deepEqual(
    rows.map((r) => [r.o.toLowerCase(), r.seq, r.position]),
    [[A, 1, 1], [A, 2, 2], [ids[0x11], 3, 3], [ids[0x11], 2, 4], [ids[0x11], 1, 5]],
  );
});

test("pages hold at most 1,000 records, and say how many remain", { timeout: 60_000 }, async () => {
  const bearer = await token("many", A);
  await pushAll("many", bearer, Array.from({ length: 2500 }, (_, i) => record(A, i + 1)));
  const seen = [];
  for (let after = 0, caughtUp = false; !caughtUp; ) {
    const page = (await post(relay.url, pull(after, 5000, 10_000_000), bearer)).message;
    seen.push([page.records.length, page.next, page.remaining, page.caughtUp]);
    ({ next: after, caughtUp } = page);
  }
  assert.deepEqual(seen, [
    [1000, 1000, 1500, false],
    [1000, 2000, 500, false],
    [500, 2500, 0, true],
  ]);
  const few = (await post(relay.url, pull(10, 7), bearer)).message;
  assert.deepEqual([few.records.length, few.next, few.remaining], [7, 17, 2483]);
  const none = (await post(relay.url, pull(10, 0), bearer)).message;
  assert.equal(none.records.length, 1, "a page with records holds at least one");
});

test("pages stay within 900 KB (and max_bytes) of message, one larger record travelling alone", { timeout: 60_000 }, async () => {
  const bearer = await token("big", A);
  const records = Array.from({ length: 20 }, (_, i) => record(A, i + 1, 100_000, i));
  records.push(record(A, 21, 1_500_000));
  await pushAll("big", bearer, records);
  const sizes = [];
  for (let after = 0, caughtUp = false; !caughtUp; ) {
    const answer = await post(relay.url, pull(after, 1000, 50_000_000), bearer);
    const bytes = encodeMessage(answer.message).length;
    const { records: got, next } = answer.message;
    if (got.length > 1) assert.ok(bytes <= 900_000, `a page of ${bytes} bytes`);
    if (next < records.length) {
      const withNext = bytes + records[next].length + 5;
      assert.ok(got.length === 1000 || withNext > 900_000, "the page could have taken one more record");
    }
    sizes.push(got.length);
    ({ next: after, caughtUp } = answer.message);
  }
  assert.deepEqual(sizes, [8, 8, 4, 1]);
  const small = (await post(relay.url, pull(0, 1000, 250_000), bearer)).message;
  assert.equal(small.records.length, 2);
  const tiny = (await post(relay.url, pull(0, 1000, 1), bearer)).message;
  assert.deepEqual([tiny.records.length, tiny.next, tiny.caughtUp], [1, 1, false]);
});

test("with nothing after the cursor the relay answers an empty, caught-up page", { timeout: 30_000 }, async () => {
  const bearer = await token("empty", A);
  assert.deepEqual((await post(relay.url, pull(0), bearer)).message, { kind: "Page", records: [], next: 0, remaining: 0, caughtUp: true });
  await pushAll("empty", bearer, [record(A, 1)]);
  assert.deepEqual((await post(relay.url, pull(1), bearer)).message, { kind: "Page", records: [], next: 1, remaining: 0, caughtUp: true });
  assert.deepEqual((await post(relay.url, pull(999), bearer)).message, { kind: "Page", records: [], next: 999, remaining: 0, caughtUp: true });
});

test("pushing records again stores nothing twice; other bytes for a held (origin, seq) store nothing at all", { timeout: 30_000 }, async () => {
  const bearer = await token("again", A);
  const first = await post(relay.url, { kind: "Push", records: [record(A, 1), record(A, 2)] }, bearer);
  const second = await post(relay.url, { kind: "Push", records: [record(A, 2), record(A, 1), record(A, 2)] }, bearer);
  assert.deepEqual(second.message, first.message);
  const mismatch = await post(relay.url, { kind: "Push", records: [record(A, 3), record(A, 2, 4, 9)] }, bearer);
  assertRefused(mismatch, 400, "ERR_RECORD_MISMATCH");
  const twice = await post(relay.url, { kind: "Push", records: [record(A, 4), record(A, 4, 4, 9)] }, bearer);
  assertRefused(twice, 400, "ERR_RECORD_MISMATCH");
  const socket = await connect(relay.url, bearer);
  socket.send({ kind: "Push", records: [record(A, 5), record(A, 1, 5)] });
  const refused = await socket.next();
  assert.deepEqual([refused.kind, refused.code, refused.retryAfterMs], ["Error", "ERR_RECORD_MISMATCH", null]);
  await socket.close();

  const file = await inspect(db);
  const rows = file.all("SELECT seq, position, hex(bytes) AS b FROM records WHERE space = 'again' ORDER BY position");
  const [space] = file.all("SELECT head, bytes FROM spaces WHERE space = 'again'");
  file.close();
  assert.deepEqual(rows.map((r) => [r.seq, r.position]), [[1, 1], [2, 2]]);
  assert.equal(rows[1].b.toLowerCase(), Buffer.from(record(A, 2)).toString("hex"));
  assert.deepEqual([space.head, space.bytes], [2, record(A, 1).length + record(A, 2).length]);
});

test("over a WebSocket: one answer per message in order, Pong for Ping, Notify to the space's other sockets", { timeout: 30_000 }, async () => {
  const [ta, tb, tc] = await Promise.all([token("live", A), token("live", B), token("elsewhere", B)]);
  const a = await connect(relay.url, ta);
  const b = await connect(relay.url, tb);
  const other = await connect(relay.url, tc);
  assert.equal(a.ws.protocol, "sqlite-sync.v1");
  a.send(hello("live"));
  a.send({ kind: "Ping", nonce: 2 ** 53 - 1 });
  a.send({ kind: "Push", records: [record(A, 1), record(A, 2)] });
  a.send(pull(0));
  assert.equal((await a.next()).kind, "Welcome");
  assert.deepEqual(await a.next(), { kind: "Pong", nonce: 2 ** 53 - 1 });
  assert.deepEqual(await a.next(), { kind: "Pushed", clock: [[A, 2]] });
  assert.deepEqual((await a.next()).next, 2);
  assert.deepEqual(await b.next(), { kind: "Notify", head: 2 });

  // A push that stores nothing new tells no one; an HTTP push tells every socket of the space.
  a.send({ kind: "Push", records: [record(A, 1)] });
  assert.equal((await a.next()).kind, "Pushed");
  await post(relay.url, { kind: "Push", records: [record(B, 1)] }, tb);
  assert.deepEqual(await a.next(), { kind: "Notify", head: 3 });
  assert.deepEqual(await b.next(), { kind: "Notify", head: 3 });
  other.send({ kind: "Ping", nonce: 1 });
  assert.deepEqual(await other.next(), { kind: "Pong", nonce: 1 }, "a socket of another space heard nothing before its Pong");
  await Promise.all([a.close(), b.close(), other.close()]);
});

test("GET /v1/devices lists the space's devices with first and last seen", { timeout: 30_000 }, async () => {
  const start = Date.now();
  const [ta, tb, tx] = await Promise.all([token("devices", A), token("devices", B), token("devices-other", ids[0xcc])]);
  await post(relay.url, hello("devices", A), ta);
  await post(relay.url, hello("devices", B), tb);
  await post(relay.url, hello("devices-other", ids[0xcc]), tx);
  const response = await fetch(`${relay.url}/v1/devices`, { headers: { authorization: `Bearer ${ta}` } });
  assert.equal(response.status, 200);
  const { devices } = await response.json();
  assert.deepEqual(devices.map((d) => d.id).sort(), [A, B]);
  for (const d of devices) assert.ok(d.firstSeen >= start - 1000 && d.firstSeen <= d.lastSeen && d.lastSeen <= Date.now());
  const refused = await fetch(`${relay.url}/v1/devices`);
  assert.equal(refused.status, 401);
  assert.equal((await refused.json()).error.code, "ERR_UNAUTHORIZED");
});

test("GET /v1/health answers without a token", async () => {
  const response = await fetch(`${relay.url}/v1/health`);
  assert.deepEqual([response.status, await response.json()], [200, { ok: true, versions: [1] }]);
});

test("pushes that arrive together are stored together, each all or nothing: one mismatch refuses only its own push", { timeout: 30_000 }, async () => {
  const space = "together";
  const devices = Array.from({ length: 20 }, (_, i) => ids[0x20 + i]);
  const bearers = await Promise.all(devices.map((device) => token(space, device)));
  // Twenty devices push three records each at once; a twenty-first push names device 0's first
  // record with other bytes. Whichever of the two pushes the relay takes first is stored whole and
  // the other is refused whole; every other push is stored.
  const pushes = devices.map((device, i) => post(relay.url, { kind: "Push", records: [1, 2, 3].map((seq) => record(device, seq)) }, bearers[i]));
  const clash = post(relay.url, { kind: "Push", records: [record(devices[0], 1, 4, 9), record(ids[0x99], 1)] }, bearers[0]);
  const answers = await Promise.all([...pushes, clash]);
  const refused = answers.filter((a) => a.status !== 200);
  assert.equal(refused.length, 1, JSON.stringify(refused.map((a) => a.error)));
  assertRefused(refused[0], 400, "ERR_RECORD_MISMATCH");
  const welcome = (await post(relay.url, hello(space, devices[1]), bearers[1])).message;
  const clashStored = answers.at(-1).status === 200;
  assert.equal(welcome.head, clashStored ? 19 * 3 + 2 : 20 * 3);
  const holds = new Map(welcome.clock);
  for (const device of devices.slice(1)) assert.equal(holds.get(device), 3);
  assert.equal(holds.get(devices[0]), clashStored ? 1 : 3);
  assert.equal(holds.get(ids[0x99]), clashStored ? 1 : undefined);
});
