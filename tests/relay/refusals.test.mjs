// Every refusal of the relay, against a real relay process on a temporary SQLite file: tokens
// (missing, expired, forged, too long-lived, other space, other device), bodies (truncated,
// random, oversized, unknown version), routes and methods, over HTTP (JSON error with its status)
// and over WebSocket (a protocol Error, close 1008 for a bad token). After each the relay still
// serves, and its file holds no record.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SignJWT } from "jose";
import { encodeMessage } from "../../dist/relay/index.js";
import { assertRefused, connect, ids, post, record, SECRET, startRelay, storedRecords, tempDir, token, unhex } from "./harness.mjs";

const A = ids[0xa1];
const B = ids[0xb2];
let dir, db, relay, good;

before(async () => {
  dir = tempDir();
  db = join(dir.path, "relay.db");
  relay = await startRelay(db);
  good = await token("s", A);
});
after(async () => {
  await relay?.stop();
  dir?.remove();
});

const hello = (device = A, space = "s") => ({ kind: "Hello", device, space, clock: [] });
const push = { kind: "Push", records: [record(A, 1), record(A, 2)] };

/** After a refusal: the relay answers a good request, and its file holds no record. */
async function stillServingAndEmpty() {
  const welcome = await post(relay.url, hello(), good);
  assert.equal(welcome.status, 200);
  assert.equal(welcome.message.head, 0);
  assert.equal(await storedRecords(db), 0);
}

const sign = (claims, { secret = SECRET, exp } = {}) => {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(secret));
};
const now = () => Math.floor(Date.now() / 1000);

test("tokens: missing, malformed, expired, forged, unsigned, too long-lived or without a device are 401", { timeout: 30_000 }, async () => {
  const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
  const body = Buffer.from(JSON.stringify({ sub: A, space: "s", exp: now() + 60 })).toString("base64url");
  const [signature] = good.split(".").slice(2);
  const cases = {
    missing: undefined,
    malformed: "not-a-jwt",
    expired: await sign({ sub: A, space: "s" }, { exp: now() - 120 }),
    forged: await sign({ sub: A, space: "s" }, { exp: now() + 600, secret: "another-secret-of-the-same-length-0123456789" }),
    tampered: `${good.split(".")[0]}.${body}.${signature}`,
    unsigned: `${header}.${body}.`,
    "no expiry": await sign({ sub: A, space: "s" }),
    "two days": await sign({ sub: A, space: "s" }, { exp: now() + 2 * 86_400 }),
    "no device": await sign({ sub: "alice", space: "s" }, { exp: now() + 600 }),
    "no space": await sign({ sub: A }, { exp: now() + 600 }),
  };
  for (const [name, bearer] of Object.entries(cases)) {
    for (const message of [hello(), push]) {
      const answer = await post(relay.url, message, bearer);
      assertRefused(answer, 401, "ERR_UNAUTHORIZED");
      assert.equal(answer.headers.get("www-authenticate"), "Bearer", name);
      if (bearer !== undefined) assert.ok(!answer.error.message.includes(bearer), `${name}: the token is echoed`);
    }
  }
  // Within the allowed clock skew an expired token still works.
  assert.equal((await post(relay.url, hello(), await sign({ sub: A, space: "s" }, { exp: now() - 5 }))).status, 200);
  await stillServingAndEmpty();
});

test("a token for another space, or a Hello from another device, is 403", { timeout: 30_000 }, async () => {
  assertRefused(await post(relay.url, hello(A, "s"), await token("other", A)), 403, "ERR_FORBIDDEN");
  assertRefused(await post(relay.url, hello(B, "s"), good), 403, "ERR_FORBIDDEN");
  // A Push or Pull goes to the token's own space: another space's data is out of reach.
  await post(relay.url, { kind: "Push", records: [record(B, 1)] }, await token("other", B));
  const page = await post(relay.url, { kind: "Pull", after: 0, maxRecords: 10, maxBytes: 10_000 }, good);
  assert.deepEqual(page.message.records, []);
  const file = await storedRecords(db);
  assert.equal(file, 1, "only the other space's own push");
});

test("bodies: empty, truncated, random, a message the relay does not take, an unknown version", { timeout: 60_000 }, async () => {
  const before = await storedRecords(db);
  const full = encodeMessage(push);
  const bodies = {
    empty: new Uint8Array(0),
    truncated: full.subarray(0, full.length - 3),
    "cut in the header": full.subarray(0, 2),
    "a byte more": Uint8Array.from([...full, 0]),
    ping: encodeMessage({ kind: "Ping", nonce: 1 }),
    page: encodeMessage({ kind: "Page", records: [], next: 0, remaining: 0, caughtUp: true }),
    "a record of 4 fields": unhex(`93010391c418${"94c410" + A}010080c400`),
  };
  let seed = 7;
  for (let i = 0; i < 30; i++) {
    bodies[`random ${i}`] = Uint8Array.from({ length: 1 + (i * 37) % 200 }, () => (seed = (seed * 48271) % 2147483647) & 0xff);
  }
  for (const [name, body] of Object.entries(bodies)) {
    const answer = await post(relay.url, body, good);
    assert.equal(answer.status, 400, `${name}: ${JSON.stringify(answer.error)}`);
    assert.equal(answer.error.code, "ERR_PROTOCOL", name);
  }
  const version = await post(relay.url, unhex("930208" + "2a"), good);
  assertRefused(version, 400, "ERR_PROTOCOL");
  assert.deepEqual(version.error.versions, [1]);
  assert.equal(await storedRecords(db), before);
});

test("a body over 16 MiB is 413 and stored nowhere", { timeout: 60_000 }, async () => {
  const before = await storedRecords(db);
  const huge = new Uint8Array(16 * 1024 * 1024 + 1);
  huge.set(encodeMessage(push));
  assertRefused(await post(relay.url, huge, good), 413, "ERR_TOO_LARGE");
  // A push that fits the limit, of a record too large for any page (as the Rust Batch counts it).
  const big = { kind: "Push", records: [record(A, 1, 16 * 1024 * 1024 - 47)] };
  assert.ok(encodeMessage(big).length <= 16 * 1024 * 1024);
  assertRefused(await post(relay.url, encodeMessage(big), good), 413, "ERR_TOO_LARGE");
  assert.equal(await storedRecords(db), before);
  assert.equal((await post(relay.url, hello(), good)).status, 200);
});

test("unknown routes are 404, wrong methods 405 with Allow, GET /v1/sync without an upgrade 400", { timeout: 30_000 }, async () => {
  const call = async (path, method = "GET", body) => {
    const response = await fetch(`${relay.url}${path}`, { method, body, headers: { authorization: `Bearer ${good}` } });
    return { status: response.status, allow: response.headers.get("allow"), error: (await response.json()).error };
  };
  for (const path of ["/", "/v1", "/v2/sync", "/v1/sync/more", "/v1/SYNC", "/v1/devices/x"]) {
    const answer = await call(path);
    assert.deepEqual([answer.status, answer.error.code], [404, "ERR_PROTOCOL"], path);
  }
  for (const [path, method, allow] of [
    ["/v1/sync", "PUT", "GET, POST"],
    ["/v1/sync", "DELETE", "GET, POST"],
    ["/v1/devices", "POST", "GET"],
    ["/v1/health", "PATCH", "GET"],
  ]) {
    const answer = await call(path, method, method === "DELETE" ? undefined : "x");
    assert.deepEqual([answer.status, answer.error.code, answer.allow], [405, "ERR_PROTOCOL", allow], `${method} ${path}`);
  }
  const get = await call("/v1/sync");
  assert.deepEqual([get.status, get.error.code], [400, "ERR_PROTOCOL"]);
  const preflight = await fetch(`${relay.url}/v1/sync`, { method: "OPTIONS" });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.match(preflight.headers.get("access-control-allow-headers"), /Authorization/);
  assert.equal((await post(relay.url, hello(), good)).status, 200);
});

test("over a WebSocket: a bad token gets one Error and close 1008; bad messages an Error each, the socket kept", { timeout: 30_000 }, async () => {
  const before = await storedRecords(db);
  const expired = await sign({ sub: A, space: "s" }, { exp: now() - 120 });
  for (const bearer of [undefined, "not-a-jwt", expired]) {
    const socket = await connect(relay.url, bearer);
    const refusal = await socket.next();
    assert.deepEqual([refusal.kind, refusal.code], ["Error", "ERR_UNAUTHORIZED"]);
    assert.equal(await socket.closed, 1008);
  }
  const socket = await connect(relay.url, good);
  const answers = [];
  const ask = async (frame) => {
    socket.ws.send(frame);
    answers.push(await socket.next());
  };
  await ask(encodeMessage(hello(B)));
  await ask(encodeMessage(hello(A, "other")));
  await ask("a text frame");
  await ask(unhex("9301"));
  await ask(unhex("930208" + "2a"));
  await ask(encodeMessage({ kind: "Welcome", versions: [1], log: ids[1], head: 0, clock: [] }));
  assert.deepEqual(
    answers.map((m) => [m.kind, m.code, m.versions]),
    [
      ["Error", "ERR_FORBIDDEN", []],
      ["Error", "ERR_FORBIDDEN", []],
      ["Error", "ERR_PROTOCOL", []],
      ["Error", "ERR_PROTOCOL", []],
      ["Error", "ERR_PROTOCOL", [1]],
      ["Error", "ERR_PROTOCOL", []],
    ],
  );
  socket.send(hello());
  assert.equal((await socket.next()).kind, "Welcome", "the socket still serves");
  await socket.close();
  const other = await connect(relay.url, good, ["another.protocol", `bearer.${good}`]).catch((error) => error);
  assert.ok(other instanceof Error, "a client that does not offer sqlite-sync.v1 gets no socket");
  assert.equal(await storedRecords(db), before);
});
