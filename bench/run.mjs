// `npm run bench`: the cost of change capture and the speed of sync, each figure measured against a
// baseline in the same run, plus the shipped wasm module's size.
//
//   node bench/run.mjs [--json] [--rounds N] [--rows N] [--no-browser] [--no-net] [--only GROUPS]
//
// Capture (workloads.mjs): one warm-up round (JIT tier-up, wasm memory growth; it also checks every
// captured row change), then N rounds (default 5). Each round runs every workload once without sync
// and once with, alternating which goes first from round to round, so a noisy shared machine slows
// both sides alike. After the synced inserts, the same run times the first merge-state read
// (`sync.first_index_100k`, printed next to `capture.insert_100k`). Sync (sync.mjs, baseline SQLite's
// session extension in session.mjs): the same way, with a default of 3 rounds as they are heavy;
// the first sync after `rows` local writes runs each round in two fresh Node processes, ours and
// the session extension's (first-sync.mjs), with a default of 5 rounds as a fresh process is
// noisier. Many small records (records.mjs): a warm-up that also bounds the run time, then 3
// rounds. OPFS (opfs.mjs, in headless Chromium, one browser launch; `--no-browser` skips them):
// writes with sync against without, and opening a full database against an empty one, also
// interleaved, with a default of 3 rounds as they are slow. Network (net.mjs; `--no-net` skips
// them): through a real relay process the bench starts (and stops) itself, the commit-to-visible
// latency over WebSockets (200 samples after a warm-up, against a Ping round trip), a catch-up over
// HTTP against a bundle import, and 50 clients pushing at once against one alone, the last two with
// a warm-up and a default of 3 rounds. `--only` runs only the named groups, comma-separated, of
// capture, sync, records, opfs, net and size. A figure is the median of its rounds;
// ratio = value / baseline unless the figure says otherwise. `--rows` scales the workloads for
// quick runs (default 100000; the autocommit figures run rows/100 statements, the conflict figure
// edits rows/100 rows, the catch-up pulls rows changes); the figure names stay the same.
// `--rounds` sets every figure's rounds.
// Output: one line per figure, or with `--json` one JSON object per line
// `{ name, value, unit, baseline, ratio }` (some figures add a field, such as `conflicts`) and
// nothing else on stdout.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { firstSync } from "./first-sync.mjs";
import { netFigures } from "./net.mjs";
import { opfsFigures } from "./opfs.mjs";
import { recordsFigure } from "./records.mjs";
import { sessionRoundTrip } from "./session.mjs";
import { editedRows, exchange, exportImport } from "./sync.mjs";
import { runOnce, workloads } from "./workloads.mjs";

const WASM = new URL("../dist/generated/sqlite_sync_wasm_bg.wasm", import.meta.url);

const USAGE = "usage: node bench/run.mjs [--json] [--rounds N] [--rows N] [--no-browser] [--no-net] [--only GROUPS]";
/** The groups of figures `--only` names. */
const GROUPS = ["capture", "sync", "records", "opfs", "net", "size"];

/** The command-line options; a bad one prints the usage and exits with status 2. */
function options() {
  try {
    return parseOptions();
  } catch (e) {
    console.error(`bench: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      json: { type: "boolean", default: false },
      rounds: { type: "string" },
      rows: { type: "string", default: "100000" },
      "no-browser": { type: "boolean", default: false },
      "no-net": { type: "boolean", default: false },
      only: { type: "string" },
    },
  });
  const only = values.only === undefined ? GROUPS : values.only.split(",");
  const unknown = only.filter((group) => !GROUPS.includes(group));
  if (unknown.length > 0) throw new Error(`--only takes groups of ${GROUPS.join(", ")}, not ${unknown.join(", ")}`);
  const count = (flag) => {
    if (values[flag] === undefined) return undefined;
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got ${values[flag]}`);
    return n;
  };
  const rounds = count("rounds");
  return {
    json: values.json,
    captureRounds: rounds ?? 5,
    syncRounds: rounds ?? 3,
    coldRounds: rounds ?? 5,
    recordsRounds: rounds ?? 3,
    opfsRounds: rounds ?? 3,
    netRounds: rounds ?? 3,
    rows: count("rows"),
    run: new Set(only.filter((group) => !(group === "opfs" && values["no-browser"]) && !(group === "net" && values["no-net"]))),
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Progress on stderr, only for a person watching (stdout stays the report). */
function progress(text) {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
}

async function captureFigures({ captureRounds: rounds, rows }) {
  const times = new Map(workloads.map((w) => [w.name, { baseline: [], synced: [], index: [], again: [] }]));
  for (let round = 0; round <= rounds; round++) {
    const warmUp = round === 0;
    const order = round % 2 ? [false, true] : [true, false];
    for (const workload of workloads) {
      for (const synced of order) {
        progress(`${warmUp ? "warm-up" : `round ${round}/${rounds}`}: ${workload.name}${synced ? "" : " (baseline)"}`);
        const { ms, indexMs, againMs } = await runOnce(workload, { rows, synced, deep: warmUp });
        if (warmUp) continue;
        const runs = times.get(workload.name);
        runs[synced ? "synced" : "baseline"].push(ms);
        if (indexMs !== undefined) {
          runs.index.push(indexMs);
          runs.again.push(againMs);
        }
      }
    }
  }
  progress("");
  return workloads.flatMap((w) => {
    const { baseline, synced, index, again } = times.get(w.name);
    const figure = { name: w.name, unit: "ms", value: median(synced), baseline: median(baseline), how: `median of ${rounds}` };
    if (!w.firstIndex) return [figure];
    const n = w.statements(rows);
    return [
      figure,
      {
        name: "sync.first_index_100k",
        unit: "ms",
        value: median(index),
        baseline: median(synced),
        how:
          `the first conflicts() after the ${n} synced inserts of ${w.name}, which brings the merge state ` +
          `up to date with them; baseline: those inserts (the synced run's timed part); a second ` +
          `conflicts() ${show(median(again), "ms")} ms; median of ${rounds}`,
      },
    ];
  });
}

/**
 * The first-sync figures: per round, one fresh Node process for our first sync and one for the
 * session extension's (first-sync.mjs), in alternating order. Round 0 is a warm-up (the first child
 * processes also read the modules from disk) and is not counted. Returns the cold figure and the
 * bundle size per row (the bundle of that first sync against the session changeset).
 */
async function coldFigures({ coldRounds: rounds, rows }) {
  const runs = { ours: [], session: [] };
  for (let round = 0; round <= rounds; round++) {
    const label = round === 0 ? "warm-up" : `round ${round}/${rounds}`;
    const pair = [
      ["ours", () => firstSync("ours", rows)],
      ["session", () => firstSync("session", rows)],
    ];
    for (const [key, run] of round % 2 ? pair.reverse() : pair) {
      progress(`${label}: first sync in a fresh process (${key})`);
      const result = await run();
      if (round > 0) runs[key].push(result);
    }
  }
  progress("");
  const med = (key, field) => median(runs[key].map((r) => r[field]));
  const ms = (key, field) => show(med(key, field), "ms");
  return {
    cold: {
      name: "sync.export_import_100k",
      unit: "rows/s",
      value: rows / (med("ours", "ms") / 1000),
      baseline: rows / (med("session", "ms") / 1000),
      how:
        `first sync in a fresh Node process after ${rows} local INSERTs (30-character titles) in one ` +
        `transaction, ${ms("ours", "ms")} ms in all; its steps, each its own median: the first ` +
        `generateBundle ${ms("ours", "generateMs")} (a second one in that process ${ms("ours", "againMs")}), ` +
        `importBundle into an empty replica ${ms("ours", "importMs")}, its acknowledgement ` +
        `${ms("ours", "ackGenerateMs")}, and importBundle of that with the deferred merge-state work ` +
        `${ms("ours", "deferredMs")} ms; SQLite session extension, also in a fresh process: changeset ` +
        `${ms("session", "changesetMs")} + apply ${ms("session", "applyMs")} ms, ${ms("session", "ms")} ms in all; ` +
        `median of ${rounds}; higher is better`,
    },
    bytes: {
      name: "sync.bytes_per_row",
      unit: "bytes/row",
      value: med("ours", "bytes") / rows,
      baseline: med("session", "bytes") / rows,
      how:
        "that first bundle vs the session changeset of the same rows (30-character titles, millisecond " +
        "timestamps); lower is better",
    },
  };
}

/**
 * The sync figures in this warmed-up process: per round, our export/import (then the two
 * re-imports and the acknowledgement) and the session extension's round trip, and the two-way
 * exchange with and without conflicting edits, each pair in alternating order. Round 0 is the
 * warm-up (it also compares every row of the replicas). `cold` (coldFigures) is listed first.
 */
async function syncFigures({ syncRounds: rounds, rows }, cold) {
  const runs = { ours: [], session: [], conflicted: [], calm: [] };
  for (let round = 0; round <= rounds; round++) {
    const label = round === 0 ? "warm-up" : `round ${round}/${rounds}`;
    const pairs = [
      [
        ["ours", () => exportImport(rows, { deep: round === 0 })],
        ["session", () => sessionRoundTrip(rows)],
      ],
      [
        ["conflicted", () => exchange(rows, { both: true })],
        ["calm", () => exchange(rows, { both: false })],
      ],
    ];
    for (const pair of pairs) {
      for (const [key, run] of round % 2 ? pair.reverse() : pair) {
        progress(`${label}: sync (${key})`);
        const result = await run();
        if (round > 0) runs[key].push(result);
      }
    }
  }
  progress("");
  const med = (key, field) => median(runs[key].map((r) => (typeof field === "function" ? field(r) : r[field])));
  const ours = med("ours", (r) => r.generateMs + r.importMs);
  const firstImport = med("ours", "importMs");
  const again = med("ours", "reimportMs");
  const overlap = med("ours", "overlapMs");
  const { edits } = editedRows(rows);
  const of = `median of ${rounds}`;
  return [
    cold.cold,
    {
      name: "sync.export_import_100k_warm",
      unit: "rows/s",
      value: rows / (ours / 1000),
      baseline: rows / (med("session", "ms") / 1000),
      how:
        `${rows} rows (\`todo N\` titles) in this process, warmed up; ours: generateBundle ` +
        `${show(med("ours", "generateMs"), "ms")} + importBundle ${show(firstImport, "ms")} ms (the ` +
        `deferred work, not counted here: ${show(med("ours", "deferredMs"), "ms")} ms); SQLite session ` +
        `extension: changeset ${show(med("session", "changesetMs"), "ms")} + apply ` +
        `${show(med("session", "applyMs"), "ms")} ms; ${of}; higher is better`,
    },
    {
      ...cold.bytes,
      how:
        `${cold.bytes.how}; the warm figure's \`todo N\` rows: ${show(med("ours", "bytes") / rows, "bytes/row")} ` +
        `vs ${show(med("session", "bytes") / rows, "bytes/row")} B`,
    },
    {
      name: "sync.conflicts_1pct",
      unit: "ms",
      value: med("conflicted", "ms"),
      baseline: med("calm", "ms"),
      extra: { conflicts: med("conflicted", "conflicts") },
      how:
        `both replicas edited the same ${edits} rows, ${med("conflicted", "conflicts")} conflicts on each; ` +
        `baseline: only A edited; two-way exchange; ${of}`,
    },
    {
      name: "sync.reimport_100k",
      unit: "x",
      value: firstImport / again,
      ratio: firstImport / again,
      baseline: again,
      baselineUnit: "ms",
      how:
        `first import ${show(firstImport, "ms")} ms / re-import of the same bundle (skipped); ` +
        `baseline = re-import ms; ${of}; target >= 10`,
    },
    {
      name: "sync.reimport_overlap_100k",
      unit: "x",
      value: firstImport / overlap,
      ratio: firstImport / overlap,
      baseline: overlap,
      baselineUnit: "ms",
      how:
        `first import ${show(firstImport, "ms")} ms / import of a new bundle of the same ${rows} records ` +
        `(all duplicates); baseline = that import's ms; ${of}`,
    },
  ];
}

function sizeFigure() {
  const raw = readFileSync(WASM);
  const gzip = gzipSync(raw, { level: 9 }).length;
  return { name: "wasm.size_gzip", unit: "bytes", value: gzip, baseline: raw.length, how: "gzip -9 vs raw" };
}

function round(value, places) {
  const scale = 10 ** places;
  return Math.round(value * scale) / scale;
}

/** Decimal places of a value in `unit`, in the JSON output. */
const PLACES = { ms: 2, "rows/s": 0, "changes/s": 0, "bytes/row": 2, x: 2, bytes: 0 };

function jsonLine({ name, value, unit, baseline, baselineUnit = unit, ratio = value / baseline, places, extra }) {
  const fields = {
    name,
    value: round(value, places ?? PLACES[unit]),
    unit,
    baseline: round(baseline, places ?? PLACES[baselineUnit]),
  };
  return JSON.stringify({ ...fields, ratio: round(ratio, 3), ...extra });
}

/** `value` in `unit` for a person; `places` (a figure's own precision) overrides the default. */
function show(value, unit, places) {
  if (places !== undefined) return value.toFixed(places);
  if (unit === "ms") return value.toFixed(value < 100 ? 1 : 0);
  return value.toFixed(unit === "bytes/row" || unit === "x" ? 2 : 0);
}

function textLine({ name, value, unit, baseline, baselineUnit = unit, ratio = value / baseline, places, how }, width) {
  const base = show(baseline, baselineUnit, places);
  const figures = `${show(value, unit, places)} ${unit}  vs baseline ${base} ${baselineUnit}`;
  return `${name.padEnd(width)}${figures}  ratio ${ratio.toFixed(unit === "bytes" ? 3 : 2)}x  (${how})`;
}

const opts = options();
const size = sizeFigure(); // read first: a concurrent rebuild of dist/ cannot affect it
const group = async (name, make) => (opts.run.has(name) ? make() : []);
const figures = [
  ...(await group("capture", () => captureFigures(opts))),
  ...(await group("sync", async () => syncFigures(opts, await coldFigures(opts)))),
  ...(await group("records", async () => [await recordsFigure({ rounds: opts.recordsRounds, rows: opts.rows, progress })])),
  ...(await group("opfs", () => opfsFigures({ rounds: opts.opfsRounds, rows: opts.rows, progress }))),
  ...(await group("net", () => netFigures({ rounds: opts.netRounds, rows: opts.rows, progress, median }))),
  ...(await group("size", () => [size])),
];
progress("");
const width = Math.max(...figures.map((f) => f.name.length)) + 3;
for (const figure of figures) {
  console.log(opts.json ? jsonLine(figure) : textLine(figure, width));
}
