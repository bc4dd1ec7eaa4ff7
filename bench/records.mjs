// `sync.import_100k_records` of `npm run bench`: a bundle of `rows` single-row records from one
// origin (a source replica that made `rows` autocommit INSERTs), imported into an empty replica,
// against a bundle of the same rows as one record (the same INSERTs in one transaction), imported
// into another empty replica; ratio = many records ÷ one record. Only `importBundle` is timed.
//
// An import that grows faster than its bundle could make this figure run for minutes, so the
// warm-up round doubles the number of records from rows/16 to rows (the source grows by autocommit
// INSERTs and each step's bundle holds every record so far) and imports each bundle once; before
// importing the next, twice as large, it predicts that import's time from the last growth (at
// least linear). When the prediction exceeds BUDGET_MS the doubling stops: the figure is then measured at the
// last size that fitted, says so in its text and JSON (`records`, `capped: true`), and a note goes
// to stderr. An import that is linear in the records stays well inside the budget at 100,000.

import { expect, replica, state, timed } from "./sync.mjs";
import { collectGarbage, INSERT, NOW } from "./workloads.mjs";

/** The longest predicted import of the many-record bundle that the figure runs (milliseconds). */
export const BUDGET_MS = 5_000;

const NAME = "sync.import_100k_records";

/** Row `i` of both sources. */
const row = (i) => [i, `todo ${i}`, 0, NOW + i];

/**
 * Imports the many-record `bundle` (`records` rows) into an empty replica and returns the
 * milliseconds; checks that the replica ends with the rows and clock of the source (`source`).
 */
async function importOnce(bundle, records, source) {
  const db = await replica();
  try {
    collectGarbage();
    const [ms, result] = await timed(() => db.importBundle(bundle));
    expect(NAME, "rows applied", result.applied, records);
    expect(NAME, "rows and clock equal the source's", await state(db), source);
    return ms;
  } finally {
    await db.close();
  }
}

/**
 * The warm-up: grows the many-record source by doubling and imports each size once, stopping where
 * the next import is predicted to exceed the budget. Returns the chosen size, its bundle and the
 * source's state, and the sizes and times of the steps.
 */
async function chooseSize(rows, progress) {
  const sizes = [...new Set([16, 8, 4, 2, 1].map((part) => Math.max(1, Math.round(rows / part))))];
  const source = await replica();
  try {
    const steps = [];
    for (let i = 0, written = 0; ; i++) {
      const records = sizes[i];
      progress(`warm-up: ${NAME} (${records} records)`);
      for (; written < records; written++) await source.exec(INSERT, row(written + 1));
      const chosen = { records, bundle: await source.generateBundle(), state: await state(source), steps };
      const ms = await importOnce(chosen.bundle, records, chosen.state);
      steps.push({ records, ms });
      const next = sizes[i + 1];
      if (next === undefined) return { ...chosen, capped: false };
      const last = steps.at(-2);
      const growth = last ? Math.max(1, Math.log(ms / last.ms) / Math.log(records / last.records)) : 1;
      const predicted = ms * (next / records) ** growth;
      if (predicted > BUDGET_MS) return { ...chosen, capped: true, predicted, growth };
    }
  } finally {
    await source.close();
  }
}

/** The same rows as one record: the source's INSERTs in one transaction. */
async function oneRecordBundle(records) {
  const source = await replica();
  try {
    await source.transaction(async (tx) => {
      for (let i = 1; i <= records; i++) await tx.exec(INSERT, row(i));
    });
    return { bundle: await source.generateBundle(), state: await state(source) };
  } finally {
    await source.close();
  }
}

/** Imports the one-record bundle into an empty replica; returns the milliseconds. */
async function importOne(one, records) {
  const db = await replica();
  try {
    collectGarbage();
    const [ms, result] = await timed(() => db.importBundle(one.bundle));
    expect(NAME, "rows applied (one record)", result.applied, records);
    expect(NAME, "rows and clock equal the source's (one record)", await state(db), one.state);
    return ms;
  } finally {
    await db.close();
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const seconds = (ms) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 0);

/** The figure: a warm-up that chooses the size, then `rounds` interleaved pairs of imports. */
export async function recordsFigure({ rounds, rows, progress = () => {} }) {
  const many = await chooseSize(rows, progress);
  const { records } = many;
  const one = await oneRecordBundle(records);
  await importOne(one, records);
  const times = { many: [], one: [] };
  for (let round = 1; round <= rounds; round++) {
    const pair = [
      ["many", () => importOnce(many.bundle, records, many.state)],
      ["one", () => importOne(one, records)],
    ];
    for (const [key, run] of round % 2 ? pair.reverse() : pair) {
      progress(`round ${round}/${rounds}: ${NAME} (${key === "many" ? `${records} records` : "one record"})`);
      times[key].push(await run());
    }
  }
  const value = median(times.many);
  const baseline = median(times.one);
  const steps = many.steps.map((s) => `${s.records}: ${seconds(s.ms)} s`).join(", ");
  let how =
    `${records} single-row records (bundle ${many.bundle.length} B) vs the same rows as one record ` +
    `(${one.bundle.length} B), each into an empty replica; median of ${rounds}; warm-up imports ${steps}`;
  const extra = { records };
  if (many.capped) {
    const note =
      `CAPPED at ${records} of ${rows} records: the next doubling was predicted to take ` +
      `${seconds(many.predicted)} s (growth ~n^${many.growth.toFixed(2)}), over the ${BUDGET_MS / 1000} s budget; ` +
      `at that growth ${rows} records would take ${seconds(many.steps.at(-1).ms * (rows / records) ** many.growth)} s ` +
      `(more if it steepens)`;
    how = `${note}; ${how}`;
    extra.capped = true;
    console.error(`bench: ${NAME}: ${note}`);
  }
  return { name: NAME, unit: "ms", value, baseline, extra, how };
}
