// `sqlite-sync-wasm` for the tests/js suites when they run on a Chromium page
// (tests/browser/suite.html maps the specifier here): the real package (web loader), except that
// `openDatabase` turns a request for a memory database (or for the default storage) into an OPFS
// database with a fresh name, so every database a suite opens goes through the main-thread proxy
// (js/worker/client.ts) to the package worker. Other options ("idb", "opfs", invalid ones) pass
// through unchanged.
//
// Also the harness's OPFS housekeeping, around each test (`testStarted()`, `testFinished()`): the
// databases a test opened and left open (say, because it failed halfway) are closed after it, and
// since the pool keeps the file of every database ever opened, the origin's OPFS is emptied once
// no database is open (a suite's shared database, opened in a `before` hook, stays open); the
// next open starts the package worker with a fresh pool. The page's origin belongs to this
// harness alone (tests/browser/chromium.mjs gives each test file its own server port and profile).

import { openDatabase as openReal } from "../../../dist/load/web.js";

export * from "../../../dist/load/web.js";

/** Databases opened and not closed yet. */
const live = new Set();
/** Databases opened by the running test (undefined outside tests, in hooks). */
let byTest;
/** Databases opened since the page loaded, and whether any since OPFS was last emptied. */
let opened = 0;
let dirty = false;
/** Names handed out (counted when asked for, so that concurrent opens get different ones). */
let named = 0;

function proxied(options) {
  if (options === undefined || (typeof options === "object" && options !== null && (options.storage ?? "memory") === "memory")) {
    named += 1;
    return { ...options, storage: "opfs", name: `suite-${named}.db` };
  }
  return options;
}

export async function openDatabase(options) {
  const wanted = proxied(options);
  const db = await openReal(wanted);
  if (wanted !== options && !(db.worker instanceof Worker)) {
    await db.close();
    throw new Error("the harness expected a database behind the worker proxy, got an in-process one");
  }
  opened += 1;
  dirty = true;
  live.add(db);
  byTest?.add(db);
  // Own property over the prototype's close (Symbol.asyncDispose calls this.close()), to learn
  // when the database is gone; everything else is the package's object untouched.
  const close = db.close;
  db.close = function closeAndForget() {
    return close.call(this).finally(() => live.delete(db));
  };
  return db;
}

/** How many databases the page has opened (through this module), and how many are open now. */
export function counts() {
  return { opened, open: live.size };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Removes everything in the origin's OPFS. Retries for a while: a package worker that was just
 * terminated (a previous page) may still hold its access handles for a moment.
 */
export async function wipe() {
  const root = await navigator.storage.getDirectory();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      for await (const name of root.keys()) await root.removeEntry(name, { recursive: true });
      dirty = false;
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

export function testStarted() {
  byTest = new Set();
}

/**
 * Closes what the test left open (waiting up to 5 s for each), then empties OPFS if a database
 * was opened since it was last emptied and none is open now.
 */
export async function testFinished() {
  const left = [...byTest].filter((db) => live.has(db));
  byTest = undefined;
  for (const db of left) {
    const timedOut = await Promise.race([db.close().then(() => false), sleep(5_000).then(() => true)]);
    if (timedOut) throw new Error("a database the test left open did not close within 5 s");
  }
  if (dirty && live.size === 0) await wipe();
}
