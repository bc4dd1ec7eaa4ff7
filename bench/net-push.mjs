// `net.relay_push_50` of `npm run bench`: what one relay process stores with 50 clients pushing at
// once. The clients speak the raw protocol over HTTP from this process (fetch; the relay's codec):
// each is its own device with its own token, says Hello, then pushes its 200 records (canonical
// bytes, the relay tests' `record()`) in batches of 20, each push waiting for the previous one's
// acknowledgement (sent once durable), all 50 clients at the same time. The baseline is one client
// pushing the same 10,000 records in the same 500 batches alone, into a space of its own. Each
// round uses new spaces, so nothing pushed is already held; after each side a Hello checks that the
// relay's log holds all 10,000 and its clock every origin's 200. Tokens are minted before the
// clock starts. The relay runs with its per-device rate raised (RATE): the lone client sends 501
// requests in a few seconds, beyond the default 100 a second with bursts of 200 (the 50 clients
// send 11 each, well within it).

import { deadline, ids, post, record, token, withRelay } from "./net-relay.mjs";

const CLIENTS = 50;
const PER_CLIENT = 200;
const BATCH = 20;
/** Bytes of change set per record: about one row change of the `todos` workload. */
const CHANGE_BYTES = 64;
const RATE = 100_000;
/** The longest one side of a round may take. */
const SIDE_MS = 120_000;

/** Client `c`'s device id (also the origin of its records). */
const device = (c) => ids[c + 1];

/** Client `c`'s batches: its records 1..PER_CLIENT in pushes of BATCH. */
function batches(c) {
  const out = [];
  for (let seq = 1; seq <= PER_CLIENT; seq += BATCH) {
    out.push(Array.from({ length: BATCH }, (_, i) => record(device(c), seq + i, CHANGE_BYTES, c)));
  }
  return out;
}

async function send(url, message, bearer) {
  const answer = await post(url, message, bearer);
  if (answer.status !== 200) throw new Error(`net.relay_push_50: ${message.kind} refused: ${answer.status} ${JSON.stringify(answer.error)}`);
  return answer.message;
}

/** Hello, then `pushes` one after the other; throws unless each is acknowledged. */
async function client(url, space, id, bearer, pushes) {
  await send(url, { kind: "Hello", device: id, space, clock: [] }, bearer);
  for (const records of pushes) {
    const answer = await send(url, { kind: "Push", records }, bearer);
    if (answer.kind !== "Pushed") throw new Error(`net.relay_push_50: a push was answered ${answer.kind}`);
  }
}

/** Checks that the relay's log of `space` holds every record of every client. */
async function check(url, space, id, bearer) {
  const welcome = await send(url, { kind: "Hello", device: id, space, clock: [] }, bearer);
  const full = welcome.clock.length === CLIENTS && welcome.clock.every(([, n]) => n === PER_CLIENT);
  if (welcome.head !== CLIENTS * PER_CLIENT || !full) {
    throw new Error(`net.relay_push_50: the relay holds ${welcome.head} records of ${space}, expected ${CLIENTS * PER_CLIENT}`);
  }
}

/** The 50 clients at once into a new space; returns the milliseconds until all are acknowledged. */
async function concurrent(url, space, work) {
  const bearers = await Promise.all(work.map((_, c) => token(space, device(c))));
  const start = performance.now();
  await Promise.all(work.map((pushes, c) => client(url, space, device(c), bearers[c], pushes)));
  const ms = performance.now() - start;
  await check(url, space, device(0), bearers[0]);
  return ms;
}

/** One client pushing every batch of the 50 alone into a new space; returns its milliseconds. */
async function alone(url, space, work) {
  const bearer = await token(space, device(0));
  const start = performance.now();
  await client(url, space, device(0), bearer, work.flat());
  const ms = performance.now() - start;
  await check(url, space, device(0), bearer);
  return ms;
}

/**
 * The figure: a warm-up round, then `rounds` rounds of both sides in alternating order, each side
 * bounded by SIDE_MS; the median of each side's rounds.
 */
export async function pushFigure({ rounds, progress, median }) {
  const work = Array.from({ length: CLIENTS }, (_, c) => batches(c));
  const total = CLIENTS * PER_CLIENT;
  const times = { concurrent: [], alone: [] };
  await withRelay(["--rate", String(RATE), "--burst", String(RATE)], async ({ url }) => {
    for (let round = 0; round <= rounds; round++) {
      const pair = [
        ["concurrent", () => concurrent(url, `push50-${round}`, work)],
        ["alone", () => alone(url, `push1-${round}`, work)],
      ];
      for (const [key, run] of round % 2 ? pair.reverse() : pair) {
        progress(`${round === 0 ? "warm-up" : `round ${round}/${rounds}`}: net.relay_push_50 (${key})`);
        const ms = await deadline(run(), SIDE_MS, `net.relay_push_50 (${key})`);
        if (round > 0) times[key].push(ms);
      }
    }
  });
  const ms = { concurrent: median(times.concurrent), alone: median(times.alone) };
  const pushes = (total / BATCH / (ms.concurrent / 1000)).toFixed(0);
  return {
    name: "net.relay_push_50",
    unit: "changes/s",
    value: total / (ms.concurrent / 1000),
    baseline: total / (ms.alone / 1000),
    how:
      `${CLIENTS} clients (raw protocol over HTTP from the bench process, each its own device and token) ` +
      `each say Hello and push ${PER_CLIENT} records (${CHANGE_BYTES} B change sets) in pushes of ${BATCH}, ` +
      `one after the other, all clients at once, into one relay process (CLI, SQLite file, per-device ` +
      `rate raised to ${RATE}/s): ${total} records in ${ms.concurrent.toFixed(0)} ms until the last push was ` +
      `acknowledged (durable); baseline: one client pushing the same ${total / BATCH} pushes alone ` +
      `(${ms.alone.toFixed(0)} ms), so ratio = concurrency gain; ${pushes} durable pushes/s together vs ` +
      `${(total / BATCH / (ms.alone / 1000)).toFixed(0)}/s alone (synchronous = FULL: one fsync per ` +
      `commit; pushes to a space that arrive together share one commit); clients and relay share the 2 cores; ` +
      `median of ${rounds}; target >= 10,000 changes/s`,
  };
}
