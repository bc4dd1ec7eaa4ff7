// The sync workloads of `npm run bench`, through the public API on in-memory databases: moving a
// table between replicas as a bundle in this (warmed-up) process, importing a bundle again, and a
// two-way exchange in which both replicas edited the same rows. Each run times only the sync calls
// (set-up is untimed) and throws if the replicas do not end as the figure claims. The first sync in
// a fresh process is in first-sync.mjs, many small records in records.mjs, the session-extension
// baseline in session.mjs; rounds, medians and the report are in run.mjs.

import { openDatabase } from "sqlite-sync-wasm";
import { collectGarbage, FILL, SCHEMA } from "./workloads.mjs";

/** One row of sums that differs when any row of `todos` differs in a way these figures could cause. */
export const CHECKSUM =
  "SELECT count(*) AS count, sum(id) AS ids, sum(length(title)) AS titles, sum(unicode(title)) AS initials, " +
  "sum(done) AS done, sum(updated_at) AS updated FROM todos";
const ALL = "SELECT id, title, done, updated_at FROM todos ORDER BY id";
const EDIT = "UPDATE todos SET title = ?, updated_at = ? WHERE id = ?";
/** A device id no replica has: a bundle for it holds every change (like one with no peer). */
const UNKNOWN_PEER = "0123456789abcdef0123456789abcdef";

export async function replica() {
  const db = await openDatabase({ storage: "memory" });
  await db.exec(SCHEMA);
  await db.enableSync("todos");
  return db;
}

/** A synced replica whose `rows` rows were inserted in one transaction (one change record). */
async function filledReplica(rows) {
  const db = await replica();
  await db.transaction((tx) => tx.exec(FILL, [rows]));
  return db;
}

/** `JSON.stringify` that also writes bigints (a sum of millisecond timestamps exceeds 2^53). */
export function stringify(value) {
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
}

/** The checksum row and the vector clock, as one comparable string. */
export async function state(db) {
  const [sums] = await db.query(CHECKSUM);
  return stringify({ sums, clock: await db.vectorClock() });
}

async function rowsOf(db, sql = ALL, params) {
  return JSON.stringify(await db.query(sql, params));
}

export function expect(figure, what, actual, wanted) {
  if (actual !== wanted) throw new Error(`${figure}: ${what} ${actual}, expected ${wanted}`);
}

/** Times one call; returns [milliseconds, value]. */
export async function timed(call) {
  const start = performance.now();
  const value = await call();
  return [performance.now() - start, value];
}

/**
 * Replica A with `rows` rows → `generateBundle` → `importBundle` into an empty replica B; then the same bundle into B again (skipped), then a new bundle of the same records
 * (all duplicates), and last B's acknowledgement into A (`deferredMs`: A brings its merge state
 * up to date with its own rows, the work capture deferred). Returns the milliseconds of each step
 * and the bundle size. `deep` compares every row.
 */
export async function exportImport(rows, { deep }) {
  const a = await filledReplica(rows);
  const b = await replica();
  try {
    collectGarbage();
    const [generateMs, bundle] = await timed(() => a.generateBundle());
    const [importMs, first] = await timed(() => b.importBundle(bundle));
    const name = "sync.export_import";
    expect(name, "rows applied", first.applied, rows);
    expect(name, "conflicts", first.conflicts, 0);
    expect(name, "B's row count", (await b.query(CHECKSUM))[0].count, rows);
    expect(name, "B's checksum", await state(b), await state(a));
    if (deep) expect(name, "B's rows equal A's", await rowsOf(b) === (await rowsOf(a)), true);

    const before = await state(b);
    collectGarbage();
    const [reimportMs, again] = await timed(() => b.importBundle(bundle));
    expect("sync.reimport", "skipped", again.skipped, true);
    expect("sync.reimport", "rows applied", again.applied, 0);
    expect("sync.reimport", "B's rows and clock unchanged", await state(b) === before, true);

    const overlap = await a.generateBundle({ peerId: UNKNOWN_PEER });
    expect("sync.reimport_overlap", "a bundle different from the first", Buffer.compare(overlap, bundle) !== 0, true);
    collectGarbage();
    const [overlapMs, dup] = await timed(() => b.importBundle(overlap));
    expect("sync.reimport_overlap", "skipped", dup.skipped, false);
    expect("sync.reimport_overlap", "duplicates", dup.duplicates, rows);
    expect("sync.reimport_overlap", "rows applied", dup.applied, 0);
    expect("sync.reimport_overlap", "B's rows and clock unchanged", await state(b) === before, true);

    const ack = await b.generateBundle({ peerId: a.deviceId });
    collectGarbage();
    const [deferredMs, acked] = await timed(() => a.importBundle(ack));
    expect("sync.export_import_warm", "rows applied by the acknowledgement", acked.applied, 0);
    return { generateMs, importMs, reimportMs, overlapMs, deferredMs, bytes: bundle.length };
  } finally {
    await a.close();
    await b.close();
  }
}

/** How many rows the conflict figure edits (1%), and the id step between them. */
export function editedRows(rows) {
  const edits = Math.max(1, Math.round(rows / 100));
  return { edits, step: Math.floor(rows / edits) };
}

async function edit(db, rows, side) {
  const { edits, step } = editedRows(rows);
  await db.transaction(async (tx) => {
    for (let k = 1; k <= edits; k++) {
      const id = k * step;
      await tx.exec(EDIT, [`${side} edited ${id}`, side === "a" ? 2 * rows + id : 3 * rows + id, id]);
    }
  });
}

/**
 * A and B share `rows` rows and have synced both ways; then A edits 1% of them, and with `both`
 * B edits the same rows to other values. Timed: A → B (bundle for B, imported), then B → A.
 * Returns the milliseconds and the conflicts each replica lists (checked: `edits` with `both`,
 * else 0), after checking that both replicas show the same rows.
 */
export async function exchange(rows, { both }) {
  const a = await filledReplica(rows);
  const b = await replica();
  const name = both ? "sync.conflicts_1pct" : "sync.conflicts_1pct (baseline)";
  try {
    await b.importBundle(await a.generateBundle());
    // B sends one change back, so each side knows what the other has (as after earlier syncs)
    // and the timed bundles carry only the edits.
    await b.exec("UPDATE todos SET done = 1 WHERE id = 1");
    await a.importBundle(await b.generateBundle({ peerId: a.deviceId }));
    await edit(a, rows, "a");
    if (both) await edit(b, rows, "b");
    collectGarbage();

    const [ms] = await timed(async () => {
      const toB = await a.generateBundle({ peerId: b.deviceId });
      if (toB !== null) await b.importBundle(toB);
      const toA = await b.generateBundle({ peerId: a.deviceId });
      if (toA !== null) await a.importBundle(toA);
    });

    const { edits, step } = editedRows(rows);
    const wanted = both ? edits : 0;
    const conflicts = (await a.conflicts()).length;
    expect(name, "conflicts on A", conflicts, wanted);
    expect(name, "conflicts on B", (await b.conflicts()).length, wanted);
    expect(name, "A's and B's checksums equal", await state(a) === (await state(b)), true);
    const edited = "SELECT id, title, done, updated_at FROM todos WHERE id % ? = 0 AND id <= ? ORDER BY id";
    const onA = await rowsOf(a, edited, [step, edits * step]);
    expect(name, "edited rows equal on A and B", onA === (await rowsOf(b, edited, [step, edits * step])), true);
    const [{ kept }] = await a.query(
      "SELECT count(*) AS kept FROM todos WHERE id % ? = 0 AND id <= ? AND title LIKE '_ edited %'",
      [step, edits * step],
    );
    expect(name, "edited rows showing an edit", kept, edits);
    return { ms, conflicts };
  } finally {
    await a.close();
    await b.close();
  }
}
