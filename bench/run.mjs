// `npm run bench`: the cost of change capture, each figure measured against a baseline in the same
// run (the same build, with and without `enableSync`), plus the shipped wasm module's size.
//
//   node bench/run.mjs [--json] [--rounds N] [--rows N]
//
// Method: one warm-up round (JIT tier-up, wasm memory growth; it also checks every captured row
// change), then N rounds (default 5). Each round runs every workload once without sync and once
// with, alternating which goes first from round to round, so a noisy shared machine slows both
// sides alike. A figure is the median of its rounds; ratio = synced median / baseline median.
// `--rows` scales the workloads for quick runs (default 100000; the autocommit figure runs rows/100
// statements); the figure names stay the same. Output: one line per figure, or with `--json` one
// JSON object per line `{ name, value, unit, baseline, ratio }` and nothing else on stdout.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { runOnce, workloads } from "./workloads.mjs";

const WASM = new URL("../dist/generated/sqlite_sync_wasm_bg.wasm", import.meta.url);

const USAGE = "usage: node bench/run.mjs [--json] [--rounds N] [--rows N]";

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
      rounds: { type: "string", default: "5" },
      rows: { type: "string", default: "100000" },
    },
  });
  const count = (flag) => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got ${values[flag]}`);
    return n;
  };
  return { json: values.json, rounds: count("rounds"), rows: count("rows") };
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

async function captureFigures({ rounds, rows }) {
  const times = new Map(workloads.map((w) => [w.name, { baseline: [], synced: [] }]));
  for (let round = 0; round <= rounds; round++) {
    const warmUp = round === 0;
    const order = round % 2 ? [false, true] : [true, false];
    for (const workload of workloads) {
      for (const synced of order) {
        progress(`${warmUp ? "warm-up" : `round ${round}/${rounds}`}: ${workload.name}${synced ? "" : " (baseline)"}`);
        const ms = await runOnce(workload, { rows, synced, deep: warmUp });
        if (!warmUp) times.get(workload.name)[synced ? "synced" : "baseline"].push(ms);
      }
    }
  }
  progress("");
  return workloads.map((w) => {
    const { baseline, synced } = times.get(w.name);
    return { name: w.name, unit: "ms", value: median(synced), baseline: median(baseline) };
  });
}

function sizeFigure() {
  const raw = readFileSync(WASM);
  return { name: "wasm.size_gzip", unit: "bytes", value: gzipSync(raw, { level: 9 }).length, baseline: raw.length };
}

function round(value, places) {
  const scale = 10 ** places;
  return Math.round(value * scale) / scale;
}

function jsonLine({ name, value, unit, baseline }) {
  const places = unit === "ms" ? 2 : 0;
  const ratio = round(value / baseline, 3);
  return JSON.stringify({ name, value: round(value, places), unit, baseline: round(baseline, places), ratio });
}

function textLine({ name, value, unit, baseline }, width, rounds) {
  const show = (v) => (unit === "ms" && v < 100 ? v.toFixed(1) : v.toFixed(0));
  const how = unit === "ms" ? `median of ${rounds}` : "gzip -9 vs raw";
  const ratio = (value / baseline).toFixed(unit === "ms" ? 2 : 3);
  return `${name.padEnd(width)}${show(value)} ${unit}  vs baseline ${show(baseline)} ${unit}  ratio ${ratio}x  (${how})`;
}

const opts = options();
const size = sizeFigure(); // read first: a concurrent rebuild of dist/ cannot affect it
const figures = [...(await captureFigures(opts)), size];
const width = Math.max(...figures.map((f) => f.name.length)) + 3;
for (const figure of figures) {
  console.log(opts.json ? jsonLine(figure) : textLine(figure, width, opts.rounds));
}
