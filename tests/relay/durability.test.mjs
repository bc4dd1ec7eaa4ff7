// A relay restarted on its SQLite file loses nothing: after a clean stop (SIGTERM: sockets closed
// with 1012, exit 0) it has the same log id, records and positions; after SIGKILL in the middle of
// many concurrent pushes, every push it had acknowledged is there, byte for byte, and its log is
// whole (positions 1..head, each record once).

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { connect, hex, ids, inspect, post, record, startRelay, tempDir, token } from "./harness.mjs";

const A = ids[0xa1];
const dir = tempDir();
after(() => dir.remove());

const hello = (space = "s", device = A) => ({ kind: "Hello", device, space, clock: [] });

/** Every record of a space, pulled from the start. */
async function pullAll(url, bearer) {
  const records = [];
  for (let after = 0, caughtUp = false; !caughtUp; ) {
    const page = (await post(url, { kind: "Pull", after, maxRecords: 1000, maxBytes: 900_000 }, bearer)).message;
    records.push(...page.records.map(hex));
    ({ next: after, caughtUp } = page);
  }
  return records;
}

test("a relay stopped with SIGTERM closes its sockets with 1012, and restarted on its file keeps log, records and positions", { timeout: 60_000 }, async () => {
  const db = join(dir.path, "restart.db");
  const bearer = await token("s", A);
  const first = await startRelay(db);
  const records = Array.from({ length: 1500 }, (_, i) => record(i % 2 ? A : ids[0x11], Math.floor(i / 2) + 1, 50));
  for (let i = 0; i < records.length; i += 1000) {
    assert.equal((await post(first.url, { kind: "Push", records: records.slice(i, i + 1000) }, bearer)).status, 200);
  }
  const welcome = (await post(first.url, hello(), bearer)).message;
  const before = await pullAll(first.url, bearer);
  const socket = await connect(first.url, bearer);
  const [closeCode, exit] = await Promise.all([socket.closed, first.stop("SIGTERM")]);
  assert.equal(closeCode, 1012);
  assert.deepEqual(exit, { code: 0, signal: null });

  const second = await startRelay(db);
  try {
    const again = (await post(second.url, hello(), bearer)).message;
    assert.deepEqual([again.log, again.head, again.clock], [welcome.log, 1500, welcome.clock]);
    assert.deepEqual(await pullAll(second.url, bearer), before);
    assert.deepEqual(before, records.map(hex));
  } finally {
    await second.stop();
  }
});

test("SIGKILL in the middle of concurrent pushes loses no acknowledged record", { timeout: 120_000 }, async () => {
  const db = join(dir.path, "killed.db");
  const relay = await startRelay(db);
  const pushers = 12;
  const acked = [];
  const failed = [];
  let stop = false;
  const run = async (n) => {
    const origin = ids[n + 1];
    const bearer = await token("s", origin);
    for (let seq = 1; !stop; seq += 50) {
      const batch = Array.from({ length: 50 }, (_, i) => record(origin, seq + i, 200 + n, n));
      let answer;
      try {
        answer = await post(relay.url, { kind: "Push", records: batch }, bearer);
      } catch (error) {
        failed.push(error);
        return;
      }
      assert.equal(answer.status, 200, JSON.stringify(answer.error));
      acked.push(...batch.map(hex));
    }
  };
  const running = Array.from({ length: pushers }, (_, n) => run(n));
  while (acked.length < 3000) await new Promise((resolve) => setTimeout(resolve, 10));
  relay.child.kill("SIGKILL");
  stop = true;
  await Promise.all(running);
  await relay.exited;
  assert.ok(failed.length > 0, "some pushes were cut by the kill");

  const restarted = await startRelay(db);
  try {
    const bearer = await token("s", A);
    const held = await pullAll(restarted.url, bearer);
    const set = new Set(held);
    assert.equal(set.size, held.length, "no record twice in the log");
    const missing = acked.filter((r) => !set.has(r));
    assert.deepEqual(missing, [], `${missing.length} acknowledged records lost`);
    const welcome = (await post(restarted.url, hello(), bearer)).message;
    assert.equal(welcome.head, held.length);
    const file = await inspect(db);
    const [{ n, lo, hi }] = file.all("SELECT count(*) AS n, min(position) AS lo, max(position) AS hi FROM records WHERE space = 's'");
    const [check] = file.all("PRAGMA quick_check");
    file.close();
    assert.deepEqual([n, lo, hi], [held.length, 1, held.length]);
    assert.equal(check.quick_check, "ok");
    // Pushes resume where they were.
    const again = await post(restarted.url, { kind: "Push", records: [record(ids[1], 1, 200, 0)] }, await token("s", ids[1]));
    assert.equal(again.status, 200);
  } finally {
    await restarted.stop();
  }
});
