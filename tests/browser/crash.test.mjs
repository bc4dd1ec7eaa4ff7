// Crash safety of OPFS databases in headless Chromium: a dedicated worker stopped in the middle of
// a large write, by `worker.terminate()` or by its tab's renderer crashing, leaves the write wholly
// there or wholly absent, with the change log, the conflicts and the clock agreeing with the tables.
// The workers are tests/browser/crash-worker.mjs (the package's in-worker path).
//   node --test tests/browser/crash.test.mjs
//
// Chromium lets a worker that is busy in a synchronous call (an import is one wasm call) run on for
// 2 s after `terminate()` before it stops it. So the import tests make the kill land at a chosen
// point of the import: the worker announces itself "armed", stays busy for exactly 2 s, then starts
// the import in the same task; `terminate()` called k ms after "armed" stops it k ms into the
// import. A crashed renderer stops at once. Each round proves where the kill landed: the worker's
// death (its Web Lock on the pool freed) came before the import could have ended, and a rollback
// journal left in the pool shows it died inside the import's write transaction.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { launch } from "./chromium.mjs";

const { server, context, close } = await launch("crash");

after(close);

/** Opens the test page in a new tab and waits for it to load the package. */
async function open() {
  const page = await context.newPage();
  await page.goto(`${server.url}tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  return page;
}

const main = await open();

test("a worker terminated during a large transaction leaves it wholly there or wholly absent", async () => {
  const ROWS = 20_000;
  const outcomes = await main.evaluate(async (ROWS) => {
    const { command, crashWorker } = t;
    const reopen = async (name) => {
      const worker = await crashWorker();
      await command(worker, { op: "open", name }, "deviceId");
      return worker;
    };
    // Calibration: one uninterrupted run, timed, on another database.
    let worker = await reopen("crash-tx-0.db");
    let began = performance.now();
    await command(worker, { op: "bigTransaction", rows: ROWS, tag: "round-0" }, "done");
    const duration = performance.now() - began;
    worker.terminate();
    // The transaction yields to the event loop every 1000 rows, where terminate() lands at once.
    worker = await reopen("crash-tx.db");
    const outcomes = [];
    for (let round = 1; round <= 6; round++) {
      const before = (await command(worker, { op: "state" }, "state")).state;
      const started = command(worker, undefined, "started");
      const done = command(worker, { op: "bigTransaction", rows: ROWS, tag: `round-${round}` }, "done").catch(() => undefined);
      await started;
      const killedAt = Math.random() * duration * 1.1;
      began = performance.now();
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, killedAt))]);
      worker.terminate();
      worker = await reopen("crash-tx.db");
      const after = (await command(worker, { op: "state" }, "state")).state;
      outcomes.push({ round, killedAt, duration, before, after });
    }
    worker.terminate();
    return outcomes;
  }, ROWS);
  const summary = [];
  for (const { round, killedAt, before, after } of outcomes) {
    assert.ok(after.agrees, `round ${round}: change log agrees with the table ${JSON.stringify(after)}`);
    assert.equal(after.integrity, "ok", `round ${round}: integrity`);
    const n = after.byTag[`round-${round}`] ?? 0;
    assert.ok(n === 0 || n === ROWS, `round ${round}: ${n} rows of the transaction`);
    assert.equal(after.records - before.records, n === 0 ? 0 : 1, `round ${round}: change records added`);
    assert.equal(after.rows, before.rows + n, `round ${round}: no other row changed`);
    summary.push(`${Math.round(killedAt)}ms→${n === 0 ? "absent" : "present"}`);
  }
  console.log(`crash during transaction (duration ${Math.round(outcomes[0].duration)} ms): ${summary.join(" ")}`);
});

// The import: 100,000 rows in each of three tables from a memory replica, into a database with
// 2,500 rows of its own, 500 of them inserted concurrently under keys the bundle also inserts (so
// the import records 500 conflicts).
const PER_TABLE = 100_000;
const TABLES = ["items", "notes", "links"];
const SCHEMA = [
  "CREATE TABLE items (id INTEGER PRIMARY KEY, tag TEXT, n INTEGER, pad TEXT)",
  "CREATE TABLE notes (id INTEGER PRIMARY KEY, tag TEXT, n INTEGER, body TEXT)",
  "CREATE TABLE links (a INTEGER, b INTEGER, tag TEXT, n INTEGER, PRIMARY KEY (a, b))",
  "CREATE INDEX notes_n ON notes (n)",
];
const count = (n) => `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ${n - 1})`;
const LOCAL = [
  `${count(2000)} INSERT INTO notes (id, tag, n, body) SELECT i, 'local', i, 'mine' FROM c`,
  `${count(500)} INSERT INTO items (id, tag, n, pad) SELECT 1000000 + 7 * i, 'local', -i, 'mine' FROM c`,
];
const REMOTE = [
  `${count(PER_TABLE)} INSERT INTO items (id, tag, n, pad) SELECT 1000000 + i, 'bundle', i, printf('%.40c', 'x') FROM c`,
  `${count(PER_TABLE)} INSERT INTO notes (id, tag, n, body) SELECT 1000000 + i, 'bundle', i, 'note ' || i FROM c`,
  `${count(PER_TABLE)} INSERT INTO links (a, b, tag, n) SELECT i, i % 97, 'bundle', i FROM c`,
];
/** The Web Lock a worker holds while it has the OPFS pool: granted to the page once it is dead. */
const POOL_LOCK = "sqlite-sync-wasm:opfs-pool";

let reference;

/**
 * Builds the bundle (kept in the page and in Cache Storage, where other tabs find it) and imports
 * it uninterrupted into a fresh database, twice: the second import's duration and the database before and
 * after it (with the full change-log agreement check) are what the rounds compare with.
 */
function importReference() {
  reference ??= main.evaluate(
    async ({ TABLES, SCHEMA, LOCAL, REMOTE }) => {
      const { command, crashWorker } = t;
      const mem = await t.api.openDatabase({ storage: "memory" });
      for (const sql of SCHEMA) await mem.exec(sql);
      for (const table of TABLES) await mem.enableSync(table);
      await mem.transaction(async (tx) => {
        for (const sql of REMOTE) await tx.exec(sql);
      });
      window.bundle = await mem.generateBundle();
      await mem.close();
      await (await caches.open("crash-test")).put("/bundle", new Response(window.bundle));

      // The first import warms the browser's code cache, as every round after it finds it warm;
      // the second is the one measured and compared with.
      let reference;
      for (const name of ["import-warmup.db", "import-reference.db"]) {
        const worker = await crashWorker();
        await command(worker, { op: "open", name, schema: [...SCHEMA, ...LOCAL] }, "deviceId");
        const before = (await command(worker, { op: "summary", tables: TABLES, full: true }, "summary")).summary;
        const started = command(worker, undefined, "started");
        const done = await command(worker, { op: "import", bytes: window.bundle }, "done");
        const after = (await command(worker, { op: "summary", tables: TABLES, full: true }, "summary")).summary;
        await command(worker, { op: "close" });
        worker.terminate();
        reference = { bytes: window.bundle.length, duration: done.at - (await started).at, result: done.result, before, after };
      }
      return reference;
    },
    { TABLES, SCHEMA, LOCAL, REMOTE },
  );
  return reference;
}

/**
 * Page side of a round, after the worker died: waits for its death (the pool's lock freed), lists
 * the journals it left, reopens the database in a new worker and summarises it (with the full
 * agreement check when the import is absent, which keeps the log small), then lists the journals
 * again. Runs in the main page.
 */
async function afterDeath({ name, TABLES, POOL_LOCK }) {
  const { command, crashWorker, poolJournals } = t;
  const death = await navigator.locks.request(POOL_LOCK, () => performance.timeOrigin + performance.now());
  const journals = await poolJournals();
  const worker = await crashWorker();
  await command(worker, { op: "open", name, schema: [] }, "deviceId");
  let after = (await command(worker, { op: "summary", tables: TABLES }, "summary")).summary;
  if (after.imports === 0) after = (await command(worker, { op: "summary", tables: TABLES, full: true }, "summary")).summary;
  await command(worker, { op: "close" });
  worker.terminate();
  return { death, journals, after, journalsAfter: await poolJournals() };
}

/**
 * Checks every round: the import wholly absent (the database exactly as before, change log
 * agreeing) or wholly there (exactly as the reference import left its database, whose change log
 * was checked in full), no hot journal left after reopening; then that the kills landed inside the
 * import. Returns a one-line account.
 */
function judge(rounds, ref) {
  const { agrees: _, ...complete } = ref.after;
  let inside = 0;
  let inTransaction = 0;
  const lines = [];
  for (const round of rounds) {
    const { name, before, after } = round;
    const journal = round.journals.find((j) => j.name === `/${name}-journal`);
    const landing = round.death - round.start;
    assert.equal(after.integrity, "ok", `${name}: integrity`);
    const present = after.imports > before.imports;
    assert.deepEqual(before, ref.before, `${name}: the same database as the reference's before the import`);
    if (present) {
      const { agrees: __, ...got } = after;
      assert.deepEqual(got, complete, `${name}: the import is wholly there`);
      assert.equal(journal, undefined, `${name}: committed, so no journal was left`);
    } else {
      assert.deepEqual(after, before, `${name}: the import is wholly absent`);
      assert.ok(after.agrees, `${name}: the change log agrees with the tables`);
    }
    const left = round.journalsAfter.find((j) => j.name === `/${name}-journal`);
    assert.ok(!left?.hot, `${name}: reopening rolled the hot journal back and removed it`);
    if (!present && landing < ref.duration) inside += 1;
    if (journal !== undefined) inTransaction += 1;
    const mark = journal === undefined ? "" : journal.hot ? " +hot journal" : " +journal";
    const plan = typeof round.k === "number" ? Math.round(round.k) : round.k;
    lines.push(`${plan}→${Math.round(landing)}ms ${present ? "present" : "absent"}${mark}`);
  }
  // A round that waits for the answer before crashing is planned to land after the import.
  const timed = rounds.filter((round) => typeof round.k === "number").length;
  assert.ok(inside >= Math.ceil(timed / 2), `most kills landed inside the import: ${lines.join(", ")}`);
  assert.ok(inTransaction >= 1, `a kill landed inside the import's write transaction: ${lines.join(", ")}`);
  return `${inside} of ${rounds.length} kills landed inside the call, ${inTransaction} inside its write transaction (planned→landed ms after the start: ${lines.join(", ")})`;
}

/** `n` kill points spread over the first 90% of the import, each at a random place in its stretch. */
function killPoints(n, duration) {
  return Array.from({ length: n }, (_, i) => ((i + Math.random()) / n) * 0.9 * duration);
}

test("a worker terminated during a large importBundle leaves it wholly there or wholly absent", async () => {
  const ref = await importReference();
  assert.equal(ref.result.total, 3 * PER_TABLE);
  assert.equal(ref.result.conflicts, 500);
  assert.ok(ref.before.agrees && ref.after.agrees, "the reference's change log agrees with its tables");
  const rounds = [];
  for (const [i, k] of killPoints(4, ref.duration).entries()) {
    const name = `import-terminated-${i}.db`;
    const round = await main.evaluate(
      async ({ name, k, TABLES, SCHEMA, LOCAL }) => {
        const { command, crashWorker } = t;
        const worker = await crashWorker();
        await command(worker, { op: "open", name, schema: [...SCHEMA, ...LOCAL] }, "deviceId");
        const before = (await command(worker, { op: "summary", tables: TABLES, full: true }, "summary")).summary;
        const armed = command(worker, { op: "import", bytes: window.bundle, lead: 2000 }, "armed");
        const start = (await armed).at + 2000;
        const wall = () => performance.timeOrigin + performance.now();
        await new Promise((resolve) => setTimeout(resolve, start - 2000 + k - wall()));
        const killed = wall();
        worker.terminate();
        return { name, k, before, start, killed };
      },
      { name, k, TABLES, SCHEMA, LOCAL },
    );
    rounds.push({ ...round, ...(await main.evaluate(afterDeath, { name, TABLES, POOL_LOCK })) });
  }
  console.log(
    `terminate() during import (${ref.result.total} rows, ${ref.bytes} bytes, ${Math.round(ref.duration)} ms uninterrupted): ${judge(rounds, ref)}`,
  );
});

test("a tab crashed during a large importBundle leaves it wholly there or wholly absent", async () => {
  const ref = await importReference();
  const rounds = [];
  // The last crash comes once the import has answered: a committed import survives a crash too.
  for (const [i, k] of [...killPoints(4, ref.duration), "answered"].entries()) {
    const name = `import-crashed-${i}.db`;
    const tab = await open();
    const before = await tab.evaluate(
      async ({ name, TABLES, SCHEMA, LOCAL }) => {
        const { command, crashWorker } = t;
        window.worker = await crashWorker();
        await command(worker, { op: "open", name, schema: [...SCHEMA, ...LOCAL] }, "deviceId");
        window.bytes = new Uint8Array(await (await (await caches.open("crash-test")).match("/bundle")).arrayBuffer());
        return (await command(worker, { op: "summary", tables: TABLES, full: true }, "summary")).summary;
      },
      { name, TABLES, SCHEMA, LOCAL },
    );
    const start = await tab.evaluate(async () => {
      const started = t.command(worker, undefined, "started");
      window.done = t.command(worker, { op: "import", bytes }, "done").catch(() => undefined);
      return (await started).at;
    });
    // The renderer (page and worker) dies as soon as it receives the command, which never answers.
    const cdp = await context.newCDPSession(tab);
    if (k === "answered") await tab.evaluate(() => window.done);
    else await new Promise((resolve) => setTimeout(resolve, start + k - Date.now()));
    const killed = Date.now();
    cdp.send("Page.crash").catch(() => undefined);
    rounds.push({ name, k, before, start, killed, ...(await main.evaluate(afterDeath, { name, TABLES, POOL_LOCK })) });
    await tab.close();
  }
  console.log(
    `tab crash during import (${ref.result.total} rows, ${Math.round(ref.duration)} ms uninterrupted): ${judge(rounds, ref)}`,
  );
});
