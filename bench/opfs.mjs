// The OPFS figures of `npm run bench`, in headless Debian Chromium (playwright-core, one browser
// launch for all of them), each against a baseline measured in the same run, interleaved:
//
// - opfs.insert_100k: `rows` single-row INSERTs in one `db.transaction`, in a module dedicated
//   worker that the bench page starts (OPFS in-process, as an app's own worker has it), with sync
//   enabled vs without. Every round empties the origin's OPFS and starts a fresh worker, warms it
//   up with one untimed run of each variant, then times each variant on a new, empty database.
// - opfs.autocommit_1k: rows/100 single-row autocommit INSERTs from the page, through the
//   package's worker (the main-thread proxy), into a synced and a plain OPFS database open side by
//   side, alternating between them write by write; the tables are recreated empty before every
//   round. Figure: the median per-write latency.
// - opfs.open_100k: on a freshly reloaded page, `openDatabase` of an existing synced OPFS database
//   of `rows` rows through the proxy (starting the package worker, loading the wasm, taking the
//   OPFS pool) plus its first query, `SELECT count(*) FROM todos`; baseline: the same for an
//   empty synced database. Each open is followed by `close()` (which ends the package worker);
//   a round opens each database a few times, alternating, and takes the median.
//
// Round 0 is a warm-up (not counted; one open of each for the open figure) for the autocommit and
// open figures; the insert figure warms up inside each round's fresh worker. Rounds alternate
// which variant goes first. A run that does not leave the expected rows (and change records)
// throws, which fails the bench.
//
// The repository is served on 127.0.0.1 by a small static server here rather than
// scripts/serve.mjs because it adds COOP/COEP headers: a cross-origin-isolated page gets 5 µs
// `performance.now()` instead of 100 µs, which the per-write latencies (a few ms) need. Like
// scripts/serve.mjs it sends `cache-control: no-store`, so every open fetches and compiles the
// wasm again. Chromium also gets `--js-flags=--expose-gc`, to collect garbage before each timed
// part as the Node figures do.

import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { ARGS as CHROMIUM_ARGS, CHROMIUM } from "../tests/browser/chromium.mjs";

const ARGS = [...CHROMIUM_ARGS, "--js-flags=--expose-gc"];
const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url))) + sep;
const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
};

/** Serves the repository's files on 127.0.0.1 (a free port), cross-origin isolated. */
function serveIsolated() {
  const server = createServer(async (request, response) => {
    try {
      const { pathname } = new URL(request.url ?? "/", "http://127.0.0.1");
      const file = join(ROOT, decodeURIComponent(pathname));
      const info = file.startsWith(ROOT) ? await stat(file).catch(() => null) : null;
      if (request.method !== "GET" || !info?.isFile()) {
        response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      response.writeHead(200, {
        "content-type": MIME[extname(file)] ?? "application/octet-stream",
        "content-length": info.size,
        "cache-control": "no-store",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
      });
      createReadStream(file).pipe(response);
    } catch (e) {
      if (!response.headersSent) response.writeHead(500);
      response.end(String(e));
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolvePromise({
        url: `http://127.0.0.1:${server.address().port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The value at quantile `q` of sorted `values` (nearest rank). */
function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const fixed = (ms, places = 1) => ms.toFixed(places);

/**
 * Opens of each database per round of `opfs.open_100k`, alternating: one open is short (about
 * 150 ms, most of it starting the worker and compiling the wasm) and noisy, so a round takes the
 * median of a few.
 */
const OPENS_PER_ROUND = 5;

/** Variant order of a round: synced first in even rounds, as the Node figures do. */
const orderOf = (round) => (round % 2 ? [false, true] : [true, false]);

async function insertFigure(page, { rounds, rows, progress }) {
  const ms = { synced: [], plain: [] };
  for (let round = 1; round <= rounds; round++) {
    progress(`round ${round}/${rounds}: opfs.insert (fresh worker, warm-up, then both variants)`);
    const args = { rows, order: orderOf(round), deep: round === 1 };
    const result = await page.evaluate((a) => bench.insertRound(a), args);
    ms.synced.push(result.synced);
    ms.plain.push(result.plain);
  }
  const synced = median(ms.synced);
  const plain = median(ms.plain);
  return {
    name: "opfs.insert_100k",
    unit: "ms",
    value: synced,
    baseline: plain,
    how:
      `${rows} INSERTs in one transaction, in-process OPFS in a dedicated worker, synced vs not; ` +
      `fresh worker and empty OPFS each round; median of ${rounds}; target <= 1.3`,
  };
}

async function autocommitFigure(page, { rounds, rows, progress }) {
  const n = Math.max(1, Math.round(rows / 100));
  const runs = { synced: [], plain: [] };
  await page.evaluate(() => bench.wipe());
  await page.evaluate(() => bench.autocommitOpen());
  try {
    for (let round = 0; round <= rounds; round++) {
      const label = round === 0 ? "warm-up" : `round ${round}/${rounds}`;
      progress(`${label}: opfs.autocommit (both variants, alternating writes)`);
      const latencies = await page.evaluate((args) => bench.autocommitRun(args), { order: orderOf(round), n });
      if (round > 0) for (const key of ["synced", "plain"]) runs[key].push(latencies[key]);
    }
  } finally {
    await page.evaluate(() => bench.autocommitClose());
  }
  // Per run: the median write, the 90th percentile and the run's total; each is the median of the rounds.
  const stat = (key, of) => median(runs[key].map(of));
  const p50 = (key) => stat(key, (l) => quantile(l, 0.5));
  const p90 = (key) => stat(key, (l) => quantile(l, 0.9));
  const total = (key) => stat(key, (l) => l.reduce((sum, x) => sum + x, 0));
  return {
    name: "opfs.autocommit_1k",
    unit: "ms",
    places: 3,
    value: p50("synced"),
    baseline: p50("plain"),
    how:
      `median per-write latency of ${n} autocommit INSERTs per database from the page through the worker proxy, ` +
      `writes alternating between the two: ` +
      `synced ${fixed(p50("synced"), 3)} ms, plain ${fixed(p50("plain"), 3)} ms; ` +
      `p90 ${fixed(p90("synced"), 2)} / ${fixed(p90("plain"), 2)} ms; ` +
      `run total ${fixed(total("synced"), 0)} / ${fixed(total("plain"), 0)} ms; median of ${rounds}; target <= 1.2`,
  };
}

async function openFigure(page, { rounds, rows, progress }) {
  const dbs = { synced: { name: "open-full.db", rows }, plain: { name: "open-empty.db", rows: 0 } };
  progress("opfs.open: set-up");
  await page.evaluate(() => bench.wipe());
  for (const db of Object.values(dbs)) await page.evaluate((args) => bench.openSetup(args), db);
  const runs = { synced: [], plain: [] };
  for (let round = 0; round <= rounds; round++) {
    const label = round === 0 ? "warm-up" : `round ${round}/${rounds}`;
    const samples = { synced: [], plain: [] };
    const pairs = round === 0 ? 1 : OPENS_PER_ROUND;
    for (let pair = 0; pair < pairs; pair++) {
      for (const full of orderOf(round + pair)) {
        const key = full ? "synced" : "plain";
        progress(`${label}: opfs.open${full ? "" : " (baseline)"} ${pair + 1}/${pairs}`);
        await page.reload();
        await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
        samples[key].push(await page.evaluate((args) => bench.openOnce(args), dbs[key]));
      }
    }
    // A round's figure per variant: the median of its opens, field by field.
    if (round > 0) {
      for (const key of ["synced", "plain"]) {
        const of = (field) => median(samples[key].map((r) => r[field]));
        runs[key].push({ ms: of("ms"), openMs: of("openMs"), queryMs: of("queryMs") });
      }
    }
  }
  const med = (key, field) => median(runs[key].map((r) => r[field]));
  return {
    name: "opfs.open_100k",
    unit: "ms",
    value: med("synced", "ms"),
    baseline: med("plain", "ms"),
    how:
      `openDatabase + first SELECT count(*) from a reloaded page through the worker proxy, ` +
      `${rows}-row synced database vs an empty one: open ${fixed(med("synced", "openMs"))} / ` +
      `${fixed(med("plain", "openMs"))} ms, query ${fixed(med("synced", "queryMs"))} / ` +
      `${fixed(med("plain", "queryMs"))} ms; median of ${rounds} rounds of ${OPENS_PER_ROUND} opens each`,
  };
}

/**
 * Runs the OPFS figures in one Chromium session; resolves to their figures (run.mjs's shape).
 * Throws (after closing the browser) if Chromium cannot start or a check fails.
 * @param {{ rounds: number, rows: number, progress?: (text: string) => void }} options
 */
export async function opfsFigures({ rounds, rows, progress = () => {} }) {
  const server = await serveIsolated();
  const profile = mkdtempSync(join(tmpdir(), "sqlite-sync-wasm-bench-"));
  const logs = [];
  let context;
  try {
    try {
      const launch = { executablePath: CHROMIUM, headless: true, args: ARGS };
      context = await chromium.launchPersistentContext(profile, launch);
    } catch (e) {
      throw new Error(`cannot start Chromium (${CHROMIUM}; pass --no-browser to skip the OPFS figures): ${e.message}`);
    }
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => logs.push(`console.${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`page error: ${e.message}`));
    await page.goto(`${server.url}bench/opfs.html`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
    if (!(await page.evaluate(() => crossOriginIsolated))) {
      throw new Error("the bench page is not cross-origin isolated");
    }
    const options = { rounds, rows, progress };
    return [
      await insertFigure(page, options),
      await autocommitFigure(page, options),
      await openFigure(page, options),
    ];
  } catch (e) {
    if (logs.length > 0) e.message += `\nbrowser log (last 20 lines):\n${logs.slice(-20).join("\n")}`;
    throw e;
  } finally {
    await context?.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
