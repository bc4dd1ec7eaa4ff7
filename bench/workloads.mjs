// The capture workloads of `npm run bench`: what each figure times, and the checks that prove the
// timed work really happened (rows changed, and for the synced variant, changes captured).
// `sync.first_index_100k` is measured here too: after the synced run of `capture.insert_100k`, the
// first call that reads the merge state (`conflicts()`) brings it up to date with those inserts,
// the work capture defers off the write path; the baseline is the timed inserts of that same run.
//
// Each run opens a fresh in-memory database through the public API, creates the `todos` table and
// does the untimed set-up (pre-fill, then `enableSync` for the synced variant, which records the
// existing rows) before the clock starts. The baseline is the same build with no `enableSync` call.
// The table, the fill statement and `collectGarbage` are shared with the sync figures (sync.mjs).

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { openDatabase } from "sqlite-sync-wasm";

export const SCHEMA =
  "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0, updated_at INTEGER)";
export const FILL =
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) " +
  "INSERT INTO todos (id, title, done, updated_at) SELECT i, 'todo ' || i, 0, i FROM n";
export const NOW = 1_700_000_000_000;
/** The title of row `i` in the first-sync figure: 30 characters (for ids up to 999,999). */
export const title30 = (i) => `Call the plumber about #${String(i).padStart(6, "0")}`;
export const INSERT = "INSERT INTO todos (id, title, done, updated_at) VALUES (?, ?, ?, ?)";
const UPDATE = "UPDATE todos SET done = 1, updated_at = ? WHERE id = ?";
const DELETE = "DELETE FROM todos WHERE id = ?";
const ALL_ROWS = "SELECT count(*) AS count FROM todos";

// A full garbage collection before each timed part, so no run pays for an earlier run's garbage.
setFlagsFromString("--expose-gc");
export const collectGarbage = runInNewContext("gc");

/**
 * The timed workloads. `statements(rows)` is how many single-row statements one run executes;
 * `prefill` says whether the table holds that many rows before the clock starts; `records` is how
 * many change records the synced variant must add (one per committed transaction); `check` is a
 * count query whose result after the run must be `expected(n)`. `firstIndex` marks the workload
 * after whose synced run the first merge-state read is timed (`sync.first_index_100k`).
 */
export const workloads = [
  {
    name: "capture.insert_100k",
    firstIndex: true,
    statements: (rows) => rows,
    prefill: false,
    records: () => 1,
    check: ALL_ROWS,
    expected: (n) => n,
    run: (db, n) =>
      db.transaction(async (tx) => {
        for (let i = 1; i <= n; i++) await tx.exec(INSERT, [i, `todo ${i}`, 0, NOW + i]);
      }),
  },
  {
    name: "capture.update_100k",
    statements: (rows) => rows,
    prefill: true,
    records: () => 1,
    check: "SELECT count(*) AS count FROM todos WHERE done = 1",
    expected: (n) => n,
    run: (db, n) =>
      db.transaction(async (tx) => {
        for (let i = 1; i <= n; i++) await tx.exec(UPDATE, [NOW + i, i]);
      }),
  },
  {
    name: "capture.delete_100k",
    statements: (rows) => rows,
    prefill: true,
    records: () => 1,
    check: ALL_ROWS,
    expected: () => 0,
    run: (db, n) =>
      db.transaction(async (tx) => {
        for (let i = 1; i <= n; i++) await tx.exec(DELETE, [i]);
      }),
  },
  {
    name: "capture.autocommit_1k",
    statements: (rows) => Math.max(1, Math.round(rows / 100)),
    prefill: false,
    records: (n) => n,
    check: ALL_ROWS,
    expected: (n) => n,
    run: async (db, n) => {
      for (let i = 1; i <= n; i++) await db.exec(INSERT, [i, `todo ${i}`, 0, NOW + i]);
    },
  },
];

/**
 * Runs `workload` once on a fresh database, with capture on or off, and returns the timed
 * milliseconds as `ms`; for a synced `firstIndex` workload also `indexMs`, the first
 * `conflicts()` after the run (which brings the merge state up to date with every captured change),
 * and `againMs`, a second `conflicts()` (nothing left to do). `deep` also reads the change log to
 * count the captured row changes (slow; the warm-up round uses it). Throws if the run did not do
 * what the figure claims.
 */
export async function runOnce(workload, { rows, synced, deep }) {
  const n = workload.statements(rows);
  const db = await openDatabase({ storage: "memory" });
  try {
    await db.exec(SCHEMA);
    if (workload.prefill) await db.exec(FILL, [n]);
    if (synced) await db.enableSync("todos");
    const seqBefore = (await db.vectorClock())[db.deviceId] ?? 0;
    collectGarbage();

    const start = performance.now();
    await workload.run(db, n);
    const ms = performance.now() - start;

    const [{ count }] = await db.query(workload.check);
    expect(workload, synced, workload.check, count, workload.expected(n));
    const added = ((await db.vectorClock())[db.deviceId] ?? 0) - seqBefore;
    expect(workload, synced, "change records added", added, synced ? workload.records(n) : 0);
    const result = { ms };
    if (workload.firstIndex && synced) {
      collectGarbage();
      let start = performance.now();
      const conflicts = await db.conflicts();
      result.indexMs = performance.now() - start;
      start = performance.now();
      await db.conflicts();
      result.againMs = performance.now() - start;
      expect(workload, synced, "conflicts after local inserts", conflicts.length, 0);
    }
    if (deep && synced) {
      const log = await db.changeLog();
      const captured = log.slice(-added).reduce((sum, record) => sum + record.changes.length, 0);
      expect(workload, synced, "row changes captured", captured, n);
    }
    return result;
  } finally {
    await db.close();
  }
}

function expect(workload, synced, what, actual, wanted) {
  if (actual !== wanted) {
    const variant = synced ? "synced" : "baseline";
    throw new Error(`${workload.name} (${variant}): ${what} ${actual}, expected ${wanted}`);
  }
}

