// `net.ws_commit_to_visible_p50` and `_p99` of `npm run bench`: from a commit on device A to the row
// being queryable on device B, both in-memory databases in this process, each syncing over its own
// WebSocket (`WebSocketTransport`, debounce 0, no interval) with one relay process (CLI, SQLite
// file, default limits). A sample: listen to B's `onChange` (querying B for the row on each event,
// no polling), then start the clock and commit one INSERT on A; it ends when B's query returns the
// row. A's commit starts A's round (Hello, Push, Pull); once the push is durable the relay sends B
// `Notify`, which starts B's round (Hello, Push, Pull, import). The status events of both loops
// give the breakdown printed in `how`. Baseline, the floor of the same path: a Ping → Pong round
// trip on a raw WebSocket (the `ws` package, the relay's own codec) of a third device to the same
// relay, one ping before each sample so both meet the same load. Between samples both loops go
// idle, then GAP_MS pass: each round is about three requests of one device, and the relay allows
// 100 a second. The first WARM_UP samples are not counted.

import WS from "ws";
import { decodeMessage, encodeMessage } from "sqlite-sync-wasm/relay";
import { openDatabase, startSync, WebSocketTransport } from "sqlite-sync-wasm";
import { deadline, ids, idle, token, WebSocketClass, withRelay } from "./net-relay.mjs";
import { INSERT, NOW, SCHEMA } from "./workloads.mjs";

const SAMPLES = 200;
const WARM_UP = 20;
const GAP_MS = 40;
const SAMPLE_MS = 10_000;
const SPACE = "live";

/** A synced in-memory replica of `todos`, syncing with the relay over its own WebSocket. */
async function device(ws) {
  const db = await openDatabase({ storage: "memory" });
  await db.exec(SCHEMA);
  await db.enableSync("todos");
  try {
    const transport = new WebSocketTransport({ url: ws, space: SPACE, token: await token(SPACE, db.deviceId), WebSocket: WebSocketClass });
    return { db, sync: startSync(db, { transport, debounceMs: 0, intervalMs: 0 }) };
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** A raw WebSocket of its own device and space: `ping(nonce)` resolves with the round trip in ms. */
async function pinger(ws) {
  const space = "ping";
  const socket = new WS(`${ws}/v1/sync`, ["sqlite-sync.v1", `bearer.${await token(space, ids[0xee])}`]);
  socket.binaryType = "arraybuffer";
  let waiting;
  socket.on("message", (data) => waiting?.(decodeMessage(new Uint8Array(data))));
  const opened = new Promise((resolve, reject) => (socket.once("open", resolve), socket.once("error", reject)));
  const ask = (message, wanted) =>
    deadline(
      new Promise((resolve) => {
        waiting = (reply) => {
          if (!wanted(reply)) return; // the relay's own Ping (every ~20 s) is not the answer
          waiting = undefined;
          resolve(performance.now());
        };
        socket.send(encodeMessage(message));
      }),
      SAMPLE_MS,
      `the answer to ${message.kind}`,
    );
  try {
    await deadline(opened, SAMPLE_MS, "the ping socket");
    await ask({ kind: "Hello", device: ids[0xee], space, clock: [] }, (reply) => reply.kind === "Welcome");
  } catch (error) {
    socket.terminate();
    throw error;
  }
  return {
    ping: async (nonce) => {
      const start = performance.now();
      return (await ask({ kind: "Ping", nonce }, (reply) => reply.kind === "Pong" && reply.nonce === nonce)) - start;
    },
    close: () => socket.terminate(),
  };
}

/** When `db` first returns row `id` (performance.now()), checked on each of its change events. */
function visible(db, id) {
  let off;
  const seen = new Promise((resolve, reject) => {
    let done = false;
    const check = () =>
      db.query("SELECT id FROM todos WHERE id = ?", [id]).then((rows) => {
        if (rows.length === 0 || done) return;
        done = true;
        resolve(performance.now());
      }, reject);
    off = db.onChange(check);
  });
  return deadline(seen, SAMPLE_MS, `row ${id} on B`).finally(() => off());
}

/** The first `state` status of `sync` from now on, as performance.now() (the `stop` function ends it). */
function marks(sync) {
  const at = {};
  const stop = sync.on("status", ({ state }) => {
    const now = performance.now();
    if (state === "syncing") at.start ??= now;
    else if (state === "idle" && at.start !== undefined) at.end ??= now;
  });
  return { at, stop };
}

/** One sample: commit row `id` on A, wait until B sees it; the times of each step from the commit. */
async function sample(a, b, id) {
  const markA = marks(a.sync);
  const markB = marks(b.sync);
  try {
    const seen = visible(b.db, id);
    const start = performance.now();
    await a.db.exec(INSERT, [id, `todo ${id}`, 0, NOW + id]);
    const end = await seen;
    await Promise.all([idle(a.sync), idle(b.sync)]);
    const from = (t) => (t === undefined ? NaN : t - start);
    return { ms: end - start, aStart: from(markA.at.start), aEnd: from(markA.at.end), bStart: from(markB.at.start) };
  } finally {
    markA.stop();
    markB.stop();
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value at quantile `q` of `values` (nearest rank). */
function quantile(values, q) {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Both figures: WARM_UP + SAMPLES samples, each after one ping. */
export async function liveFigures({ progress, median }) {
  const runs = { ms: [], rtt: [], aStart: [], aRound: [], bStart: [], bVisible: [] };
  await withRelay([], async ({ ws }) => {
    const pings = await pinger(ws);
    const devices = [];
    try {
      devices.push(await device(ws), await device(ws));
      const [a, b] = devices;
      await Promise.all([a.sync.syncNow(), b.sync.syncNow()].map((p) => deadline(p, SAMPLE_MS, "the first rounds")));
      for (let i = 1; i <= WARM_UP + SAMPLES; i++) {
        if (i % 20 === 1) progress(`net.ws_commit_to_visible: sample ${i}/${WARM_UP + SAMPLES}${i <= WARM_UP ? " (warm-up)" : ""}`);
        await pause(GAP_MS);
        const rtt = await pings.ping(i);
        const s = await sample(a, b, i);
        if (i <= WARM_UP) continue;
        runs.rtt.push(rtt);
        runs.ms.push(s.ms);
        runs.aStart.push(s.aStart);
        runs.aRound.push(s.aEnd - s.aStart);
        runs.bStart.push(s.bStart);
        runs.bVisible.push(s.ms - s.bStart);
      }
    } finally {
      pings.close();
      await Promise.allSettled(devices.map((d) => deadline(d.sync.stop(), SAMPLE_MS, "stopping a sync loop")));
      await Promise.allSettled(devices.map((d) => d.db.close()));
    }
  });
  const ms = (values) => median(values.filter((v) => !Number.isNaN(v))).toFixed(2);
  const how =
    `commit of one INSERT on A until B's query returns the row, A and B in this process, each its own ` +
    `WebSocket to one relay process (CLI, SQLite file, synchronous = FULL) on loopback; ${SAMPLES} samples ` +
    `after ${WARM_UP} warm-up ones, ${GAP_MS} ms apart; baseline: median Ping -> Pong round trip on a raw ` +
    `WebSocket to the same relay, one before each sample (its p99 ${quantile(runs.rtt, 0.99).toFixed(2)} ms); ` +
    `medians of the steps from the commit: A's round starts ${ms(runs.aStart)} ms, A's round (Hello, Push, ` +
    `Pull) takes ${ms(runs.aRound)} ms, B's round (on Notify) starts ${ms(runs.bStart)} ms, B sees the row ` +
    `${ms(runs.bVisible)} ms after its round started; target p50 <= 10 ms`;
  const baseline = median(runs.rtt);
  return [
    { name: "net.ws_commit_to_visible_p50", unit: "ms", value: median(runs.ms), baseline, how },
    { name: "net.ws_commit_to_visible_p99", unit: "ms", value: quantile(runs.ms, 0.99), baseline, how: `the same ${SAMPLES} samples` },
  ];
}
