// The relay in Deno, unchanged: createRelay over the memory store answers Hello, Push and Pull
// through its fetch handler, and the SQLite store opens a file on Deno's node:sqlite. Run with
// `deno run --allow-read --allow-write tests/smoke/relay-deno.mjs`; prints "relay deno smoke ok".

import assert from "node:assert/strict";
import { createMemoryStore, createRelay, createToken, decodeMessage, encodeMessage } from "../../dist/relay/index.js";
// The store's own module: the entry "relay/node" also holds the Node server (and so `ws`).
import { openSqliteStore } from "../../dist/relay/node/sqlite-store.js";

const secret = "deno-smoke-secret-0123456789abcdef-0123";
const device = "ab".repeat(16);
const record = Uint8Array.from([0x95, 0xc4, 0x10, ...new Array(16).fill(0xab), 1, 1, 0x80, 0xc4, 1, 9]);
const dir = Deno.makeTempDirSync();
const sqlite = await openSqliteStore(`${dir}/relay.db`);
assert.equal(sqlite.driver, "node:sqlite");

for (const store of [createMemoryStore(), sqlite]) {
  const relay = createRelay({ secret, store });
  const bearer = await createToken({ secret, space: "s", deviceId: device });
  const send = async (message) => {
    const request = new Request("http://relay/v1/sync", { method: "POST", body: encodeMessage(message), headers: { authorization: `Bearer ${bearer}` } });
    const response = await relay.fetch(request);
    assert.equal(response.status, 200);
    return decodeMessage(new Uint8Array(await response.arrayBuffer()));
  };
  assert.equal((await send({ kind: "Hello", device, space: "s", clock: [] })).kind, "Welcome");
  assert.deepEqual(await send({ kind: "Push", records: [record] }), { kind: "Pushed", clock: [[device, 1]] });
  const page = await send({ kind: "Pull", after: 0, maxRecords: 10, maxBytes: 1000 });
  assert.deepEqual([[...page.records[0]], page.next, page.caughtUp], [[...record], 1, true]);
  const refused = await relay.fetch(new Request("http://relay/v1/sync", { method: "POST", body: new Uint8Array([1]) }));
  assert.equal(refused.status, 401);
  await relay.close();
  await store.close();
}
Deno.removeSync(dir, { recursive: true });
console.log("relay deno smoke ok");
