// A space's device list through the package's client: two databases sync with the real relay
// (the CLI, a SQLite file), then `transport.devices()` on either lists both, each with when the
// relay first and last saw it; another space's list does not hold them; a bad token is refused.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { HttpTransport, openDatabase, startSync, SyncError, WebSocketTransport } from "../../dist/load/node.js";
import { startRelay, tempDir, token } from "./harness.mjs";

let relay;
let dir;

before(async () => {
  dir = tempDir();
  relay = await startRelay(`${dir.path}/relay.db`);
});

after(async () => {
  await relay?.stop();
  dir?.remove();
});

test("a device lists the devices its space's relay has seen", { timeout: 60_000 }, async () => {
  const [a, b] = [await openDatabase(), await openDatabase()];
  const started = Date.now();
  for (const db of [a, b]) {
    const sync = startSync(db, { transport: new HttpTransport({ url: relay.url, space: "team", token: () => token("team", db.deviceId) }), intervalMs: 0 });
    await sync.syncNow();
    await sync.stop();
  }
  const ws = new WebSocketTransport({ url: relay.url.replace("http", "ws"), space: "team", token: () => token("team", a.deviceId) });
  const listed = await ws.devices();
  assert.deepEqual(listed.map((d) => d.id).sort(), [a.deviceId, b.deviceId].sort());
  for (const device of listed) {
    assert.ok(device.firstSeen >= started - 1_000 && device.firstSeen <= device.lastSeen && device.lastSeen <= Date.now());
  }
  const elsewhere = new HttpTransport({ url: relay.url, space: "other", token: () => token("other", a.deviceId) });
  // Asking is a request like any other: the asker is seen in that space, and B, never there, is not.
  assert.deepEqual((await elsewhere.devices()).map((d) => d.id), [a.deviceId]);
  const forged = new HttpTransport({ url: relay.url, space: "team", token: "not-a-token" });
  await assert.rejects(forged.devices(), (e) => e instanceof SyncError && e.code === "ERR_UNAUTHORIZED" && !e.message.includes("not-a-token"));
  await a.close();
  await b.close();
});
