// The OPFS figures' code that runs inside Chromium (bench/opfs.mjs drives it): on the bench page
// (bench/opfs.html, as `window.bench`) and in the bench's own dedicated worker
// (bench/opfs-worker.mjs). Every function checks that the timed work really happened and throws
// otherwise; the Node side turns a throw into a failed bench.

import { openDatabase } from "../dist/load/web.js";

// The same table and statements as the Node figures (workloads.mjs, which needs Node built-ins).
const SCHEMA =
  "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0, updated_at INTEGER)";
const FILL =
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
  "INSERT INTO todos (id, title, done, updated_at) SELECT i, 'todo ' || i, 0, i FROM n";
const INSERT = "INSERT INTO todos (id, title, done, updated_at) VALUES (?, ?, ?, ?)";
const COUNT = "SELECT count(*) AS count FROM todos";
const NOW = 1_700_000_000_000;

/** A full garbage collection before a timed part (Chromium runs with --js-flags=--expose-gc). */
const collectGarbage = () => globalThis.gc?.();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function expect(figure, what, actual, wanted) {
  if (actual !== wanted) throw new Error(`${figure}: ${what} ${actual}, expected ${wanted}`);
}

/** This database's own change counter (0 before its first change record). */
async function ownSeq(db) {
  return (await db.vectorClock())[db.deviceId] ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Page: the origin's OPFS storage and the bench worker.

/**
 * Deletes everything in the origin's OPFS (the sahpool's directory with all its slot files), so
 * the next pool starts empty. Only works while no context holds the pool's access handles: a
 * handle that is still being released makes `removeEntry` fail, so it is retried for a while.
 */
export async function wipe() {
  const root = await navigator.storage.getDirectory();
  const deadline = performance.now() + 10_000;
  for (;;) {
    try {
      const names = [];
      for await (const name of root.keys()) names.push(name);
      for (const name of names) await root.removeEntry(name, { recursive: true });
      const left = [];
      for await (const name of root.keys()) left.push(name);
      if (left.length === 0) return;
      throw new Error(`still there: ${left.join(", ")}`);
    } catch (e) {
      if (performance.now() > deadline) throw new Error(`cannot empty the origin's OPFS: ${e}`);
      await sleep(20);
    }
  }
}

/** Sends one request to the bench worker; resolves with its answer. */
function ask(worker, message) {
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.ok ? resolve(data.value) : reject(new Error(data.error)));
    worker.onerror = (event) => reject(new Error(`bench worker: ${event.message || "failed to load"}`));
    worker.postMessage(message);
  });
}

/**
 * One round of `opfs.insert_100k`, driven from the page: empties OPFS, starts a fresh module
 * dedicated worker (which opens its databases in-process), warms it up with one untimed run of
 * each variant on databases of their own, then times the two variants in `order` (each on a new,
 * empty database). `deep` also counts the captured row changes in the warm-up run.
 * Returns the timed milliseconds per variant.
 */
export async function insertRound({ rows, order, deep }) {
  await wipe();
  const worker = new Worker(new URL("./opfs-worker.mjs", import.meta.url), { type: "module", name: "bench" });
  try {
    await ask(worker, { op: "ping" });
    for (const synced of order) {
      await ask(worker, { op: "insert", name: `warm-${synced ? "synced" : "plain"}.db`, synced, rows, deep });
    }
    const ms = {};
    for (const synced of order) {
      const name = `insert-${synced ? "synced" : "plain"}.db`;
      ms[synced ? "synced" : "plain"] = await ask(worker, { op: "insert", name, synced, rows, deep: false });
    }
    return ms;
  } finally {
    worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// Worker: the timed transaction of `opfs.insert_100k`.

/**
 * In a dedicated worker: opens `name` on OPFS in this worker (it must be new: creating the table
 * fails otherwise), enables sync or not, then times `rows` single-row INSERTs in one
 * `db.transaction`. Checks the row count and the change records (one when synced, none
 * otherwise; with `deep`, also that the record holds `rows` row changes). Returns milliseconds.
 */
export async function insertRun({ name, synced, rows, deep }) {
  const figure = `opfs.insert_100k (${synced ? "synced" : "baseline"}, ${name})`;
  const db = await openDatabase({ storage: "opfs", name });
  try {
    await db.exec(SCHEMA);
    if (synced) await db.enableSync("todos");
    const seqBefore = await ownSeq(db);
    collectGarbage();

    const start = performance.now();
    await db.transaction(async (tx) => {
      for (let i = 1; i <= rows; i++) await tx.exec(INSERT, [i, `todo ${i}`, 0, NOW + i]);
    });
    const ms = performance.now() - start;

    expect(figure, "rows", (await db.query(COUNT))[0].count, rows);
    const added = (await ownSeq(db)) - seqBefore;
    expect(figure, "change records added", added, synced ? 1 : 0);
    if (deep && synced) {
      const log = await db.changeLog();
      expect(figure, "row changes captured", log.at(-1).changes.length, rows);
    }
    return ms;
  } finally {
    await db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Page: `opfs.autocommit_1k`, through the main-thread proxy (the package's worker).

/** The two databases of the autocommit figure, open for the whole figure. */
let autocommit;

export async function autocommitOpen() {
  autocommit = {
    synced: await openDatabase({ storage: "opfs", name: "autocommit-synced.db" }),
    plain: await openDatabase({ storage: "opfs", name: "autocommit-plain.db" }),
  };
}

export async function autocommitClose() {
  for (const db of Object.values(autocommit ?? {})) await db.close();
  autocommit = undefined;
}

/**
 * One run of `opfs.autocommit_1k`: recreates `todos` empty in both databases (dropping a synced
 * table stops its capture, so the synced one enables it again), then times `n` single-row
 * INSERTs into each, each write its own transaction, issued from the page one at a time and
 * alternating between the two databases (the variant in `order[0]` first in every pair), so
 * that load on the machine falls on both alike. Checks the row counts and the change records (one
 * per write when synced, none otherwise). Returns each variant's sorted per-write latencies (ms).
 */
export async function autocommitRun({ order, n }) {
  const variants = order.map((synced) => ({
    synced,
    figure: `opfs.autocommit_1k (${synced ? "synced" : "baseline"})`,
    db: autocommit[synced ? "synced" : "plain"],
    latencies: new Float64Array(n),
  }));
  for (const { synced, figure, db } of variants) {
    await db.exec("DROP TABLE IF EXISTS todos");
    await db.exec(SCHEMA);
    if (synced) await db.enableSync("todos");
    expect(figure, "synced tables", JSON.stringify(await db.syncedTables()), synced ? '["todos"]' : "[]");
  }
  const seqBefore = await Promise.all(variants.map(({ db }) => ownSeq(db)));
  collectGarbage();

  for (let i = 1; i <= n; i++) {
    for (const { db, latencies } of variants) {
      const start = performance.now();
      await db.exec(INSERT, [i, `todo ${i}`, 0, NOW + i]);
      latencies[i - 1] = performance.now() - start;
    }
  }

  const result = {};
  for (const [k, { synced, figure, db, latencies }] of variants.entries()) {
    expect(figure, "rows", (await db.query(COUNT))[0].count, n);
    expect(figure, "change records added", (await ownSeq(db)) - seqBefore[k], synced ? n : 0);
    result[synced ? "synced" : "plain"] = [...latencies.sort()];
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Page: `opfs.open_100k`, through the main-thread proxy.

/** Creates the synced database `name` holding `rows` rows (one transaction), then closes it. */
export async function openSetup({ name, rows }) {
  const db = await openDatabase({ storage: "opfs", name });
  try {
    await db.exec(SCHEMA);
    await db.enableSync("todos");
    if (rows > 0) await db.transaction((tx) => tx.exec(FILL, [rows]));
    expect(`opfs.open_100k (set-up of ${name})`, "rows", (await db.query(COUNT))[0].count, rows);
  } finally {
    await db.close();
  }
}

/**
 * On a freshly loaded page with no database open (so the package worker is not running): times
 * `openDatabase` of the existing `name` and its first query, `SELECT count(*) FROM todos`, which
 * must give `rows`. Closes it again (ending the package worker). Returns the milliseconds.
 */
export async function openOnce({ name, rows }) {
  await sleep(100); // let the page finish loading
  collectGarbage();
  const start = performance.now();
  const db = await openDatabase({ storage: "opfs", name });
  const opened = performance.now();
  const [{ count }] = await db.query(COUNT);
  const end = performance.now();
  try {
    expect(`opfs.open_100k (${name})`, "rows", count, rows);
  } finally {
    await db.close();
  }
  return { ms: end - start, openMs: opened - start, queryMs: end - opened };
}
