// The cold figure of `npm run bench`, `sync.export_import_100k`: the first sync a user meets after
// `rows` local writes, each run in a fresh Node process, as an app that starts, writes and syncs.
//
//   node bench/first-sync.mjs ours|session ROWS    (one run; prints one JSON object on stdout)
//
// ours: open replicas A and B (memory) in this process, then `rows` single-row INSERTs on A in one
// `db.transaction` (the local writes: 30-character titles and millisecond timestamps, `title30`),
// all untimed. Timed, in the order a first sync makes them: A's first `generateBundle` for B, B's
// `importBundle` of it, then B's acknowledgement for A (`generateBundle({ peerId })`, a bundle with
// no records) and A's `importBundle` of that, which brings A's merge state up to date with its own
// writes (the work capture deferred off the write path). Afterwards, untimed for the figure: a
// second `generateBundle` on A (`againMs`: the same call once this process has run it). Checked:
// B holds A's rows and clock, nothing conflicted.
//
// session: the same `rows` single-row INSERTs, by a prepared statement in one transaction, into a
// database with a session attached (`@sqlite.org/sqlite-wasm`, loaded in this fresh process), then
// the timed changeset + apply of session.mjs.
//
// `firstSync(side, rows)` runs one of these in a child process and returns its result; run.mjs
// interleaves the two sides round by round.

import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { sessionRoundTrip } from "./session.mjs";
import { expect, replica, state, timed } from "./sync.mjs";
import { collectGarbage, INSERT, NOW, title30 } from "./workloads.mjs";

const SELF = fileURLToPath(import.meta.url);
const NAME = "sync.export_import (cold)";

/** One cold first sync of our package in this process; returns its milliseconds and sizes. */
async function ours(rows) {
  const a = await replica();
  const b = await replica();
  try {
    await a.transaction(async (tx) => {
      for (let i = 1; i <= rows; i++) await tx.exec(INSERT, [i, title30(i), 0, NOW + i]);
    });
    collectGarbage();
    const [generateMs, bundle] = await timed(() => a.generateBundle({ peerId: b.deviceId }));
    const [importMs, first] = await timed(() => b.importBundle(bundle));
    const [ackGenerateMs, ack] = await timed(() => b.generateBundle({ peerId: a.deviceId }));
    const [deferredMs, acked] = await timed(() => a.importBundle(ack));

    expect(NAME, "rows applied", first.applied, rows);
    expect(NAME, "conflicts", first.conflicts, 0);
    expect(NAME, "rows applied by the acknowledgement", acked.applied, 0);
    expect(NAME, "B's checksum and clock equal A's", await state(b), await state(a));
    const [againMs] = await timed(() => a.generateBundle());
    return {
      ms: generateMs + importMs + ackGenerateMs + deferredMs,
      generateMs,
      importMs,
      ackGenerateMs,
      deferredMs,
      againMs,
      bytes: bundle.length,
      ackBytes: ack.length,
    };
  } finally {
    await a.close();
    await b.close();
  }
}

const SIDES = { ours, session: (rows) => sessionRoundTrip(rows, { oneByOne: true }) };

/** Runs one side's first sync in a fresh Node process; resolves to the JSON it printed. */
export function firstSync(side, rows) {
  return new Promise((resolve, reject) => {
    const args = [SELF, side, String(rows)];
    execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${NAME}: the ${side} child process failed: ${error.message}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim().split("\n").pop()));
      } catch (e) {
        reject(new Error(`${NAME}: the ${side} child printed no result (${e.message}): ${stdout}${stderr}`));
      }
    });
  });
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const [side, count] = process.argv.slice(2);
  const rows = Number(count);
  if (!(side in SIDES) || !Number.isInteger(rows) || rows < 1) {
    console.error("usage: node bench/first-sync.mjs ours|session ROWS");
    process.exit(2);
  }
  console.log(JSON.stringify(await SIDES[side](rows)));
}
