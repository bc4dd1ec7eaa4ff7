// OPFS in headless Chromium (playwright-core + /usr/bin/chromium, pages served on 127.0.0.1):
// the main-thread proxy's API, persistence across reloads, several tabs sharing one database, and
// a pool that grows to hold many databases. Crash safety is in crash.test.mjs.
//   node --test tests/browser/

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { launch } from "./chromium.mjs";

const { server, context, close } = await launch("browser");
const logs = [];

after(close);

/** Opens the test page in a new tab and waits for it to load the package. */
async function open() {
  const page = await context.newPage();
  page.on("console", (m) => logs.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`page error: ${e.message}`));
  await page.goto(`${server.url}tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  return page;
}

function withLogs(message) {
  return `${message}\n${logs.slice(-20).join("\n")}`;
}

const main = await open();

test("the Database API through the main-thread proxy (OPFS)", async (t) => {
  const results = await main.evaluate(() => t.apiChecks());
  assert.ok(results.length >= 5);
  for (const result of results) {
    await t.test(result.name, () => assert.ok(result.ok, withLogs(result.error)));
  }
});

test("rows, deviceId, change log and conflicts survive a page reload", async () => {
  const before = await main.evaluate(async () => {
    const db = await t.api.openDatabase({ storage: "opfs", name: "persist.db" });
    const imported = await t.writeHistory(db, t.api.openDatabase);
    // No close(): the page just goes away, as a user's reload does.
    return { imported, state: await t.persisted(db) };
  });
  assert.equal(before.imported, 1, "the concurrent edit made a conflict");
  await main.reload();
  await main.waitForFunction(() => window.ready === true);
  const afterReload = await main.evaluate(async () => {
    const db = await t.api.openDatabase({ storage: "opfs", name: "persist.db" });
    const state = await t.persisted(db);
    await db.close();
    return state;
  });
  assert.deepEqual(afterReload, before.state);
  assert.equal(afterReload.conflicts.length, 1);
});

test("two tabs write to one database; the holder tab closes mid-stream and the other takes over", async () => {
  const a = await open();
  const b = await open();
  const setup = async () => {
    const db = await t.api.openDatabase({ storage: "opfs", name: "api.db" });
    window.db = db;
    window.events = [];
    db.onChange((e) => window.events.push(e));
    await db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, tab TEXT, n INTEGER)");
    if (!(await db.syncedTables()).includes("notes")) await db.enableSync("notes");
    return db.deviceId;
  };
  const idA = await a.evaluate(setup);
  const idB = await b.evaluate(setup);
  assert.equal(idA, idB, "one database, one device id");
  const write = async ({ tab: name, count }) => {
    for (let n = 0; n < count; n++) {
      if (n % 5 === 4) {
        await db.transaction(async (tx) => {
          await tx.exec("INSERT INTO notes (tab, n) VALUES (?, ?)", [name, n]);
        });
      } else {
        await db.exec("INSERT INTO notes (tab, n) VALUES (?, ?)", [name, n]);
      }
    }
  };
  await Promise.all([a.evaluate(write, { tab: "A", count: 40 }), b.evaluate(write, { tab: "B", count: 40 })]);
  const counts = await b.evaluate(() => db.query("SELECT tab, count(*) AS n FROM notes GROUP BY tab ORDER BY tab"));
  assert.deepEqual(counts, [{ tab: "A", n: 40 }, { tab: "B", n: 40 }]);
  await b.waitForFunction(() => window.events.filter((e) => !e.local).length >= 40, null, { timeout: 5000 });
  const seen = await b.evaluate(() => ({
    local: window.events.filter((e) => e.local).length,
    remote: window.events.filter((e) => !e.local).length,
  }));
  assert.ok(seen.local >= 40 && seen.remote >= 40, `tab B saw ${JSON.stringify(seen)}`);

  // A (the first to open, so the holder) closes while B keeps writing.
  const stream = b.evaluate(async () => {
    const latencies = [];
    const errors = [];
    for (let n = 0; n < 150; n++) {
      const began = performance.now();
      try {
        if (n % 5 === 4) {
          await db.transaction(async (tx) => {
            await tx.exec("INSERT INTO notes (tab, n) VALUES ('B2', ?)", [n]);
          });
        } else {
          await db.exec("INSERT INTO notes (tab, n) VALUES ('B2', ?)", [n]);
        }
      } catch (e) {
        errors.push(`${e.code}: ${e.message}`);
      }
      latencies.push(performance.now() - began);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const rows = await db.query("SELECT count(*) AS n, count(DISTINCT n) AS d FROM notes WHERE tab = 'B2'");
    return { errors, max: Math.max(...latencies), rows };
  });
  await new Promise((resolve) => setTimeout(resolve, 80));
  await a.close();
  const result = await stream;
  assert.deepEqual(result.errors, [], "no error surfaced");
  assert.deepEqual(result.rows, [{ n: 150, d: 150 }], "every write exactly once");
  console.log(`takeover: slowest write during the stream ${Math.round(result.max)} ms`);
  assert.ok(result.max < 3000, `takeover took ${result.max} ms`);
  await b.evaluate(() => db.close());
  await b.close();
});

test("without a storage option a page gets OPFS: the database survives a reload", async () => {
  const page = await open();
  const before = await page.evaluate(async () => {
    const { openDatabase } = t.api;
    const warnings = [];
    const db = await openDatabase({ name: "default.db", onWarning: (w) => warnings.push(w) });
    await db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
    await db.exec("INSERT INTO notes (body) VALUES ('kept')");
    const deviceId = db.deviceId;
    await db.close();
    return { deviceId, warnings };
  });
  assert.deepEqual(before.warnings, [], "OPFS exists here: no fallback warning");
  await page.reload();
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  const after = await page.evaluate(async () => {
    const db = await t.api.openDatabase({ name: "default.db" });
    const rows = await db.query("SELECT body FROM notes");
    const deviceId = db.deviceId;
    await db.close();
    return { deviceId, rows };
  });
  assert.equal(after.deviceId, before.deviceId);
  assert.deepEqual(after.rows, [{ body: "kept" }]);
  await page.close();
});

test("three tabs write to one database; the holder closes, then the next holder, and the last tab keeps every write", async () => {
  const T = "tab_rows";
  const NAME = "three-tabs.db";
  const acked = { A: -1, B: -1, C: -1 };
  const tabs = {};
  for (const tab of ["A", "B", "C"]) {
    // One after another: the first to open takes the pool, the others queue on its Web Lock in order.
    const page = await open();
    page.on("console", (m) => {
      const match = /^ack (\w) (\d+)$/.exec(m.text());
      if (match) acked[match[1]] = Math.max(acked[match[1]], Number(match[2]));
    });
    await page.evaluate(
      async ({ NAME, T, tab }) => {
        // Watches the package workers' channel: a tab's calls appear there (with its worker's id)
        // only while another tab's worker holds the pool, and a new holder announces itself.
        window.channelSeen = { whoami: {}, leaders: [] };
        const watch = new BroadcastChannel("sqlite-sync-wasm:opfs");
        watch.onmessage = ({ data }) => {
          if (data?.kind === "req" && data.method === "query" && data.args?.[0] === "SELECT ? AS whoami") {
            window.channelSeen.whoami[data.args[1][0]] = data.from;
          } else if (data?.kind === "leader") {
            window.channelSeen.leaders.push(data.id);
          }
        };
        window.watch = watch;
        const db = await t.api.openDatabase({ storage: "opfs", name: NAME });
        window.db = db;
        window.events = [];
        db.onChange((e) => window.events.push(e));
        await db.exec(`CREATE TABLE IF NOT EXISTS ${T} (id INTEGER PRIMARY KEY, tag TEXT, tab TEXT, n INTEGER)`);
        if (!(await db.syncedTables()).includes(T)) await db.enableSync(T);
      },
      { NAME, T, tab },
    );
    tabs[tab] = page;
  }
  const { A, C } = tabs;
  for (const [tab, page] of Object.entries(tabs)) await page.evaluate((tab) => db.query("SELECT ? AS whoami", [tab]), tab);
  // A holds the pool: B's and C's calls travel over the channel, A's never do.
  await C.waitForFunction(() => "B" in window.channelSeen.whoami && "C" in window.channelSeen.whoami, null, { timeout: 5000 });
  const ids = await C.evaluate(() => window.channelSeen.whoami);
  assert.equal(ids.A, undefined, "the first tab holds the pool (its calls are not forwarded)");
  assert.notEqual(ids.B, ids.C);

  // All three write 30 rows each (every fourth in a small transaction of one row), paced so
  // that the writes span both takeovers.
  const write = async ({ T, tab }) => {
    const errors = [];
    for (let n = 0; n < 30; n++) {
      const params = [`${tab}-${n}`, tab, n];
      try {
        if (n % 4 === 3) {
          await db.transaction(async (tx) => {
            await tx.exec(`INSERT INTO ${T} (tag, tab, n) VALUES (?, ?, ?)`, params);
          });
        } else {
          await db.exec(`INSERT INTO ${T} (tag, tab, n) VALUES (?, ?, ?)`, params);
        }
        console.log(`ack ${tab} ${n}`);
      } catch (e) {
        errors.push(`${n}: ${e.code}: ${e.message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return { errors, finishedAt: Date.now() };
  };
  const began = Date.now();
  const streams = Object.fromEntries(
    Object.entries(tabs).map(([tab, page]) => [tab, page.evaluate(write, { T, tab }).catch((e) => ({ closed: String(e) }))]),
  );

  await new Promise((resolve) => setTimeout(resolve, 120));
  const firstClose = Date.now() - began;
  const known = await C.evaluate(() => window.channelSeen.leaders.length);
  await A.close();
  // The next holder announces itself on the channel; it is one of B and C (the queue's order says B).
  await C.waitForFunction((known) => window.channelSeen.leaders.length > known, known, { timeout: 5000 });
  const leader = await C.evaluate((known) => window.channelSeen.leaders[known], known);
  const second = leader === ids.B ? "B" : leader === ids.C ? "C" : undefined;
  assert.ok(second !== undefined, `the new holder ${leader} is B (${ids.B}) or C (${ids.C})`);
  const tookOver = Date.now() - began;
  const survivor = second === "B" ? "C" : "B";
  await new Promise((resolve) => setTimeout(resolve, 100));
  const secondClose = Date.now() - began;
  const knownNow = await tabs[survivor].evaluate(() => window.channelSeen.leaders.length);
  await tabs[second].close();
  const ackedAtSecondClose = acked[survivor];

  const result = await streams[survivor];
  for (const tab of ["A", second]) assert.ok("closed" in (await streams[tab]), `tab ${tab} was closed mid-stream`);
  const page = tabs[survivor];
  await page.waitForFunction((known) => window.channelSeen.leaders.length > known, knownNow, { timeout: 5000 });
  const last = await page.evaluate((known) => window.channelSeen.leaders[known], knownNow);
  assert.equal(last, ids[survivor], `tab ${survivor} took over last`);
  assert.deepEqual(result.errors, [], "no write of the surviving tab rejected");
  assert.ok(ackedAtSecondClose < 29, `tab ${survivor} was still writing when the second holder closed (${ackedAtSecondClose + 1} done)`);

  const final = await page.evaluate(async (T) => {
    const rows = await db.query(`SELECT tab, count(*) AS n, count(DISTINCT tag) AS d, min(n) AS lo, max(n) AS hi FROM ${T} GROUP BY tab ORDER BY tab`);
    const total = await db.query(`SELECT count(*) AS n, count(DISTINCT tag) AS d FROM ${T}`);
    const tableIds = (await db.query(`SELECT id FROM ${T} ORDER BY id`)).map((r) => Number(r.id));
    let inserts = 0;
    const alive = new Set();
    for (const record of await db.changeLog()) {
      for (const change of record.changes) {
        if (change.table !== T) continue;
        if (change.op === "insert") inserts += 1;
        if (change.op === "delete") alive.delete(Number(change.primaryKey.id));
        else alive.add(Number(change.primaryKey.id));
      }
    }
    const logIds = [...alive].sort((a, b) => a - b);
    const integrity = (await db.query("PRAGMA integrity_check"))[0].integrity_check;
    return { rows, total: total[0], tableIds, logIds, inserts, integrity };
  }, T);
  const byTab = Object.fromEntries(final.rows.map((r) => [r.tab, r]));
  // The surviving tab: all 30, once each.
  assert.deepEqual(byTab[survivor], { tab: survivor, n: 30, d: 30, lo: 0, hi: 29 }, `tab ${survivor}`);
  // A closed tab: each write waited for the one before, so what committed is a prefix 0..k of its
  // writes, with no gap and no repeat, containing at least every write it saw acknowledged.
  for (const tab of ["A", second]) {
    const r = byTab[tab] ?? { n: 0, d: 0, lo: null, hi: -1 };
    assert.equal(r.d, r.n, `tab ${tab}: no write twice`);
    assert.ok(r.n === 0 || (r.lo === 0 && r.hi === r.n - 1), `tab ${tab}: a prefix of its writes ${JSON.stringify(r)}`);
    assert.ok(r.n >= acked[tab] + 1, `tab ${tab}: ${r.n} rows, ${acked[tab] + 1} acknowledged`);
  }
  assert.equal(final.total.d, final.total.n, "every row once");
  assert.equal(final.integrity, "ok");
  assert.equal(final.inserts, final.total.n, "one captured insert per row");
  assert.deepEqual(final.logIds, final.tableIds, "the change log agrees with the table");

  const seen = await page.evaluate(() => ({
    local: window.events.filter((e) => e.local).length,
    remote: window.events.filter((e) => !e.local).length,
  }));
  assert.ok(seen.local >= 28 && seen.remote >= 1, `tab ${survivor} saw ${JSON.stringify(seen)}`);
  console.log(
    `three tabs: A closed at ${firstClose} ms, ${second} took over at ${tookOver} ms and closed at ${secondClose} ms, ` +
      `${survivor} finished at ${result.finishedAt - began} ms (${ackedAtSecondClose + 1} of its writes before the second close); ` +
      `rows A ${byTab.A?.n ?? 0} (acked ${acked.A + 1}), ${second} ${byTab[second]?.n ?? 0} (acked ${acked[second] + 1}), ${survivor} 30; ` +
      `events in ${survivor}: ${JSON.stringify(seen)}`,
  );
  await page.evaluate(() => db.close());
  await page.close();
});

// Last in this file: it leaves the origin's OPFS pool holding forty more databases.
test("the OPFS pool grows: 40 databases open at once, written, closed and reopened, while open ones keep writing", async () => {
  const page = await open();
  const outcome = await page.evaluate(() => t.manyDatabases(40));
  assert.deepEqual(outcome.errors, [], "no call failed");
  assert.equal(outcome.opened, 40);
  assert.ok(outcome.peakFiles >= 2 * 40, `the pool grew to hold 40 databases and their journals (${outcome.filesBefore} → ${outcome.peakFiles} files)`);
  assert.ok(outcome.filesAfter < outcome.peakFiles, `closing gave spare files back (${outcome.filesAfter} of ${outcome.peakFiles})`);
  assert.ok(outcome.growths.length >= 2, `the pool grew several times ${JSON.stringify(outcome.growths)}`);
  const during = outcome.growths.reduce((sum, g) => sum + g.keeper + g.held, 0);
  assert.ok(during > 0, `the open databases wrote during the openings that grew the pool ${JSON.stringify(outcome.growths)}`);
  assert.equal(outcome.keeperRows, outcome.written, "every acknowledged keeper write is there");
  assert.equal(outcome.heldRows, outcome.inHeld, "the transaction held open across the growth committed every row");
  outcome.reopened.forEach(({ same, rows }, i) => {
    assert.ok(same, `many-${i}.db kept its device id`);
    assert.deepEqual(rows, [`db-${i}`, `db-${i}-second`, `db-${i}-third`], `many-${i}.db`);
  });

  // A pool that really cannot grow (storage quota exhausted) refuses a database with a coded error
  // and the open ones keep working.
  const usage = await page.evaluate(async () => {
    window.quotaKeeper = await t.api.openDatabase({ storage: "opfs", name: "quota-keeper.db" });
    await quotaKeeper.exec("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY)");
    return (await navigator.storage.estimate()).usage;
  });
  const cdp = await context.newCDPSession(page);
  const origin = new URL(server.url).origin;
  await cdp.send("Storage.overrideQuotaForOrigin", { origin, quotaSize: usage + 100_000 });
  const full = await page.evaluate(async () => {
    const opened = [];
    let refusal = null;
    for (let i = 0; i < 60 && refusal === null; i++) {
      try {
        const db = await t.api.openDatabase({ storage: "opfs", name: `quota-${i}.db` });
        await db.exec("CREATE TABLE IF NOT EXISTS f (id INTEGER PRIMARY KEY)");
        opened.push(db);
      } catch (e) {
        refusal = { code: e.code, retryable: e.retryable, message: e.message };
      }
    }
    await quotaKeeper.exec("INSERT INTO q DEFAULT VALUES");
    const [{ n }] = await quotaKeeper.query("SELECT count(*) AS n FROM q");
    for (const db of opened) await db.close();
    await quotaKeeper.close();
    return { refusal, opened: opened.length, n };
  });
  await cdp.send("Storage.overrideQuotaForOrigin", { origin });
  assert.ok(full.refusal !== null, "the pool ran out of quota within 60 databases");
  assert.equal(full.refusal.code, "ERR_STORAGE_UNAVAILABLE", full.refusal.message);
  assert.match(full.refusal.message, /could not grow.*QuotaExceededError/);
  assert.equal(full.n, 1, "the database opened first still writes");

  console.log(
    `pool growth: 40 databases opened in ${Math.round(outcome.openPhase)} ms (median open ${Math.round(outcome.medianOpen)} ms, ` +
      `slowest ${Math.round(outcome.slowestOpen)} ms); pool files ${outcome.filesBefore} → ${outcome.peakFiles} → ${outcome.filesAfter} after closing; ` +
      `grew at ${outcome.growths.map((g) => `#${g.at} (${g.files} files, ${Math.round(g.ms)} ms, ${g.keeper}+${g.held} writes)`).join(", ")}; ` +
      `meanwhile the keeper wrote ${outcome.written} rows and the open transaction ${outcome.inHeld}; ` +
      `with the quota exhausted, ${full.opened} more opened before a refusal: ${full.refusal.message}`,
  );
  await page.close();
});
