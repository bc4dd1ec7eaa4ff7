// `net.catchup_100k` of `npm run bench`: a new device catching up with `rows` changes through a
// relay over HTTP, against importing the same changes as one bundle file. Device A holds `rows`
// row changes as rows/100 transactions of 100 INSERTs (so rows/100 change records) and pushes them
// to one relay process (CLI, SQLite file, default limits) in one untimed round first. Timed, via
// the relay: from `startSync` on a new in-memory database B (`HttpTransport`, no interval) until
// its first round has ended (Hello, nothing to push, Pull pages of at most 1,000 records / 900 KB,
// each imported as it arrives) and, should that round not have brought everything, `syncNow()`
// rounds until B holds every row. Baseline: a new database C importing `A.generateBundle()` (the
// bundle is made untimed in each round; its time is printed). Both end checked against A (the row
// checksum and the vector clock). A warm-up round, then `rounds` rounds, the order alternating.

import { HttpTransport, startSync } from "sqlite-sync-wasm";
import { expect, replica, state, timed } from "./sync.mjs";
import { deadline, token, withRelay } from "./net-relay.mjs";
import { collectGarbage } from "./workloads.mjs";

const NAME = "net.catchup_100k";
const PER_TRANSACTION = 100;
const SPACE = "catch-up";
/** The longest one side of a round (or A's push) may take. */
const SIDE_MS = 300_000;
/** The most `syncNow()` rounds after the first one before the catch-up counts as failed. */
const MAX_ROUNDS = 10;
const FILL_RANGE =
  "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
  "INSERT INTO todos (id, title, done, updated_at) SELECT i, 'todo ' || i, 0, i FROM n";

const count = async (db) => (await db.query("SELECT count(*) AS n FROM todos"))[0].n;

function transport(url, bearer) {
  return new HttpTransport({ url, space: SPACE, token: bearer });
}

/** A with `rows` rows in transactions of 100, pushed to the relay. */
async function source(url, rows) {
  const a = await replica();
  try {
    await fill(a, rows);
    const sync = startSync(a, { transport: transport(url, await token(SPACE, a.deviceId)), intervalMs: 0, debounceMs: 0 });
    try {
      await deadline(sync.syncNow(), SIDE_MS, `${NAME}: A's push`);
      expect(NAME, "A's records the relay has not acknowledged", sync.status.pending, 0);
    } finally {
      await sync.stop();
    }
    return a;
  } catch (error) {
    await a.close();
    throw error;
  }
}

async function fill(a, rows) {
  for (let first = 1; first <= rows; first += PER_TRANSACTION) {
    const last = Math.min(rows, first + PER_TRANSACTION - 1);
    await a.transaction((tx) => tx.exec(FILL_RANGE, [first, last]));
  }
}

/** The first round of `sync` that ends (idle after a round, or failed). */
function firstRound(sync) {
  return new Promise((resolve, reject) => {
    const off = sync.on("status", (status) => {
      if (status.state === "idle" && status.lastSyncAt !== null) resolve();
      else if (status.state === "error" || status.state === "offline") reject(status.lastError);
      else return;
      off();
    });
  });
}

/** A new B catching up through the relay; its milliseconds, rounds and pages. */
async function viaRelay(url, rows, wanted) {
  const b = await replica();
  try {
    const bearer = await token(SPACE, b.deviceId);
    collectGarbage();
    const start = performance.now();
    const sync = startSync(b, { transport: transport(url, bearer), intervalMs: 0, debounceMs: 0 });
    let pages = 0;
    sync.on("progress", () => pages++);
    let rounds = 1;
    try {
      await firstRound(sync);
      for (; (await count(b)) < rows && rounds <= MAX_ROUNDS; rounds++) await sync.syncNow();
    } finally {
      await sync.stop();
    }
    const ms = performance.now() - start;
    expect(NAME, "B's rows and clock equal A's", await state(b), wanted);
    return { ms, rounds, pages };
  } finally {
    await b.close();
  }
}

/** A new C importing A's bundle; its import milliseconds and the bundle's generation and size. */
async function viaFile(a, wanted) {
  const [generateMs, bundle] = await timed(() => a.generateBundle());
  const c = await replica();
  try {
    collectGarbage();
    const [ms] = await timed(() => c.importBundle(bundle));
    expect(NAME, "C's rows and clock equal A's", await state(c), wanted);
    return { ms, generateMs, bytes: bundle.length };
  } finally {
    await c.close();
  }
}

export async function catchupFigure({ rounds, rows, progress, median }) {
  const runs = { relay: [], file: [] };
  await withRelay([], async ({ url }) => {
    progress(`${NAME}: A's ${rows} rows, pushed to the relay`);
    const a = await source(url, rows);
    try {
      const wanted = await state(a);
      for (let round = 0; round <= rounds; round++) {
        const pair = [
          ["relay", () => viaRelay(url, rows, wanted)],
          ["file", () => viaFile(a, wanted)],
        ];
        for (const [key, run] of round % 2 ? pair.reverse() : pair) {
          progress(`${round === 0 ? "warm-up" : `round ${round}/${rounds}`}: ${NAME} (${key})`);
          const result = await deadline(run(), SIDE_MS, `${NAME} (${key})`);
          if (round > 0) runs[key].push(result);
        }
      }
    } finally {
      await a.close();
    }
  });
  const med = (key, field) => median(runs[key].map((r) => r[field]));
  const relayMs = med("relay", "ms");
  const fileMs = med("file", "ms");
  return {
    name: NAME,
    unit: "ms",
    value: relayMs,
    baseline: fileMs,
    how:
      `a new in-memory device pulling ${rows} row changes (${Math.ceil(rows / PER_TRANSACTION)} records of ` +
      `${PER_TRANSACTION} INSERTs) from one relay process over HTTP, startSync until it holds them ` +
      `all (${med("relay", "rounds")} round(s), ${med("relay", "pages")} pages ` +
      `with records); baseline: importBundle of the same changes as one bundle ` +
      `(${(med("file", "bytes") / 1e6).toFixed(1)} MB, its generateBundle ${med("file", "generateMs").toFixed(0)} ms ` +
      `more, not counted) into a new database; ratio = relay ÷ file import; median of ${rounds}; target <= 1.5`,
  };
}
