// storage: "idb" in headless Chromium (playwright-core + /usr/bin/chromium, pages served on
// 127.0.0.1): a module service worker persists through IndexedDB across service worker instances,
// a page persists across reloads, a second handle of one name is refused with a retryable
// ERR_STORAGE_UNAVAILABLE, a one-row write to 10,000 todos stores only the pages it changed (the
// time that takes is printed), torn pages are refused, a module shared worker defaults to idb, and
// generateBundle resolves only once the writes it carries are stored (a tab that dies right after
// handing out a bundle has them on reload), rejecting with a retryable ERR_STORAGE_UNAVAILABLE
// when they cannot be stored.
//   node --test tests/browser/idb.test.mjs

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { launch } from "./chromium.mjs";

const { server, context, close } = await launch("idb");
const logs = [];
context.on("console", (m) => logs.push(`console.${m.type()}: ${m.text()}`));

after(close);

/** Opens the test page in a new tab and waits for it to load the package. */
async function open() {
  const page = await context.newPage();
  page.on("pageerror", (e) => logs.push(`page error: ${e.message}`));
  await page.goto(`${server.url}tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  return page;
}

function withLogs(message) {
  return `${message}\n${logs.slice(-20).join("\n")}`;
}

/** Page-side helpers for the service worker test (installed with page.evaluate). */
function installSwHelpers() {
  window.swRegister = async () => {
    const reg = await navigator.serviceWorker.register("./idb-sw.mjs", { type: "module", scope: "./idb-sw-scope/" });
    const sw = reg.installing ?? reg.waiting ?? reg.active;
    if (sw.state !== "activated") {
      await new Promise((resolve, reject) => {
        sw.addEventListener("statechange", () => {
          if (sw.state === "activated") resolve();
          if (sw.state === "redundant") reject(new Error("the service worker failed to install"));
        });
      });
    }
    window.reg = reg;
    window.sw = sw;
  };
  window.swCall = (data) =>
    new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (e) => resolve(e.data);
      window.sw.postMessage(data, [channel.port2]);
    });
  window.swUnregister = async () => {
    const sw = window.sw;
    await window.reg.unregister();
    if (sw.state !== "redundant") {
      await new Promise((resolve) => sw.addEventListener("statechange", () => sw.state === "redundant" && resolve()));
    }
  };
}

test("a module service worker persists rows, deviceId and change log through IndexedDB", async () => {
  const page = await open();
  await page.evaluate(installSwHelpers);
  await page.evaluate(() => window.swRegister());
  const first = await page.evaluate(() => window.swCall({ op: "write", rows: ["a", "b", "c"] }));
  assert.ok(first.ok, withLogs(first.error));
  assert.equal(first.result.rows.length, 3);
  assert.equal(first.result.log.length, 4, "three inserts and one transaction recorded");
  assert.deepEqual(first.result.synced, ["notes"]);
  assert.match(first.result.deviceId, /^[0-9a-f]{32}$/);

  // A new service worker instance (a new global): unregister, wait until redundant, register again.
  await page.evaluate(() => window.swUnregister());
  await page.evaluate(() => window.swRegister());
  const second = await page.evaluate(() => window.swCall({ op: "state" }));
  assert.ok(second.ok, withLogs(second.error));
  assert.notEqual(second.instance, first.instance, "a new service worker instance answered");
  assert.deepEqual(second.result, first.result, "the new instance sees the same replica");

  // It keeps writing to the same replica; the page (another context) reads the same snapshot.
  const third = await page.evaluate(() => window.swCall({ op: "write", rows: ["d"] }));
  assert.ok(third.ok, withLogs(third.error));
  assert.equal(third.result.deviceId, first.result.deviceId);
  assert.equal(third.result.rows.length, 4);
  assert.deepEqual(third.result.log.slice(0, 4), first.result.log, "the old change log is kept");
  assert.equal(third.result.log.at(-1).seq, 6);
  const fromPage = await page.evaluate(async () => {
    const db = await t.api.openDatabase({ name: "sw.db", storage: "idb" });
    try {
      return t.comparable({ deviceId: db.deviceId, rows: await db.query("SELECT * FROM notes ORDER BY id"), log: await db.changeLog() });
    } finally {
      await db.close();
    }
  });
  assert.deepEqual(fromPage, { deviceId: third.result.deviceId, rows: third.result.rows, log: third.result.log });

  // While the service worker holds the database open, the page is refused (retryable).
  const held = await page.evaluate(() => window.swCall({ op: "open" }));
  assert.ok(held.ok, withLogs(held.error));
  const refused = await page.evaluate(async () => {
    try {
      await t.api.openDatabase({ name: "sw.db", storage: "idb" });
      return { opened: true };
    } catch (e) {
      return { code: e.code, retryable: e.retryable, isSyncError: e instanceof t.api.SyncError };
    }
  });
  assert.deepEqual(refused, { code: "ERR_STORAGE_UNAVAILABLE", retryable: true, isSyncError: true });
  const closed = await page.evaluate(() => window.swCall({ op: "close" }));
  assert.ok(closed.ok, withLogs(closed.error));
  await page.evaluate(() => window.swUnregister());
  await page.close();
});

test("on a page, an idb database survives reloads (with and without close)", async () => {
  const page = await open();
  const before = await page.evaluate(async () => {
    const db = await t.api.openDatabase({ storage: "idb", name: "page.db" });
    const imported = await t.writeHistory(db, t.api.openDatabase);
    const state = await t.persisted(db);
    // No close(): the snapshot is written right after the writes; give it a moment, then reload.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { imported, state };
  });
  assert.equal(before.imported, 1, "the concurrent edit made a conflict");
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const read = () =>
    page.evaluate(async () => {
      const db = await t.api.openDatabase({ storage: "idb", name: "page.db" });
      const state = await t.persisted(db);
      // A write, then close(): close resolves only after its snapshot is stored.
      await db.exec("INSERT INTO todos (id, title) VALUES (?, 'after close')", [100 + state.rows.length]);
      await db.close();
      return state;
    });
  const afterReload = await read();
  assert.deepEqual(afterReload, before.state);
  assert.equal(afterReload.conflicts.length, 1);
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const again = await read();
  assert.equal(again.deviceId, before.state.deviceId);
  assert.deepEqual(again.rows.at(-1), { id: 102, title: "after close", big: null, data: null });
  assert.equal(again.log.length, before.state.log.length + 1);
  await page.close();
});

test("a second open of one idb database is refused with a retryable ERR_STORAGE_UNAVAILABLE", async () => {
  const a = await open();
  const b = await open();
  const attempt = () =>
    t.api.openDatabase({ storage: "idb", name: "locked.db" }).then(
      async (db) => {
        window.db = db;
        await db.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)");
        await db.exec("INSERT OR REPLACE INTO kv VALUES ('holder', ?)", [document.title + performance.timeOrigin]);
        return { opened: true, deviceId: db.deviceId };
      },
      (e) => ({ code: e.code, retryable: e.retryable, isSyncError: e instanceof t.api.SyncError }),
    );
  const first = await a.evaluate(attempt);
  assert.equal(first.opened, true);
  const refused = { code: "ERR_STORAGE_UNAVAILABLE", retryable: true, isSyncError: true };
  assert.deepEqual(await a.evaluate(attempt), refused, "the same page");
  assert.deepEqual(await b.evaluate(attempt), refused, "another tab");
  // Still intact in the holder.
  assert.deepEqual(await a.evaluate(() => window.db.query("SELECT count(*) AS n FROM kv")), [{ n: 1 }]);
  await a.evaluate(() => window.db.close());
  const second = await b.evaluate(attempt);
  assert.deepEqual(second, { opened: true, deviceId: first.deviceId }, "free again once the holder closed");
  // The holder's tab going away frees it too.
  await b.close();
  const third = await a.evaluate(attempt);
  assert.equal(third.opened, true);
  await a.evaluate(() => window.db.close());
  await a.close();
});

test("a one-row write to a 10,000-row database stores only the pages it changed", async () => {
  const page = await open();
  const result = await page.evaluate(async () => {
    const { openDatabase } = t.api;
    let db = await openDatabase({ storage: "idb", name: "todos10k.db" });
    await db.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER DEFAULT 0, updated_at INTEGER)");
    await db.enableSync("todos");
    await db.transaction(async (tx) => {
      for (let i = 1; i <= 10_000; i++) {
        await tx.exec("INSERT INTO todos (id, title, updated_at) VALUES (?, ?, ?)", [i, `todo number ${i}`, Date.now()]);
      }
    });
    await db.close();
    // Each round: open, one UPDATE, close() — close resolves once the changed pages are stored.
    // Every page written goes through IDBObjectStore.put on the "pages" store: count them.
    const put = IDBObjectStore.prototype.put;
    let pagesPut = 0;
    IDBObjectStore.prototype.put = function (...args) {
      if (this.name === "pages") pagesPut++;
      return put.apply(this, args);
    };
    const times = [];
    const written = [];
    try {
      for (let round = 0; round < 7; round++) {
        db = await openDatabase({ storage: "idb", name: "todos10k.db" });
        await db.exec("UPDATE todos SET done = 1 - done WHERE id = ?", [round * 1000 + 1]);
        pagesPut = 0;
        const began = performance.now();
        await db.close();
        times.push(performance.now() - began);
        written.push(pagesPut);
      }
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    db = await openDatabase({ storage: "idb", name: "todos10k.db" });
    const rows = (await db.query("SELECT count(*) AS n FROM todos"))[0].n;
    const log = (await db.changeLog()).length;
    await db.close();
    const file = await new Promise((resolve, reject) => {
      const request = indexedDB.open("sqlite-sync-wasm");
      request.onsuccess = () => {
        const get = request.result.transaction("files").objectStore("files").get("todos10k.db");
        get.onsuccess = () => {
          resolve(get.result);
          request.result.close();
        };
        get.onerror = () => reject(get.error);
      };
      request.onerror = () => reject(request.error);
    });
    times.sort((x, y) => x - y);
    return { rows, log, file, written, median: times[3], min: times[0], max: times.at(-1) };
  });
  assert.equal(result.rows, 10_000);
  assert.equal(result.log, 8, "the fill and seven updates are in the change log");
  const { pageCount, pageSize } = result.file;
  assert.ok(pageCount > 50, `a database of ${pageCount} pages`);
  for (const pages of result.written) {
    assert.ok(pages >= 1 && pages <= 8, `a one-row update stored ${pages} of ${pageCount} pages`);
  }
  console.log(
    `one-row update of 10,000 todos (${pageCount} pages of ${pageSize} B): pages stored per close ` +
      `${result.written.join(", ")}; median ${result.median.toFixed(1)} ms ` +
      `(min ${result.min.toFixed(1)}, max ${result.max.toFixed(1)}, 7 rounds)`,
  );
  await page.close();
});

test("stored pages that do not add up are refused with ERR_CORRUPT, not opened", async () => {
  const page = await open();
  const result = await page.evaluate(async () => {
    const db = await t.api.openDatabase({ storage: "idb", name: "torn.db" });
    await db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    await db.close();
    // Remove one page behind the package's back.
    await new Promise((resolve, reject) => {
      const request = indexedDB.open("sqlite-sync-wasm");
      request.onsuccess = () => {
        const tx = request.result.transaction("pages", "readwrite");
        tx.objectStore("pages").delete(["torn.db", 1]);
        tx.oncomplete = () => {
          request.result.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error);
      };
      request.onerror = () => reject(request.error);
    });
    try {
      await t.api.openDatabase({ storage: "idb", name: "torn.db" });
      return { opened: true };
    } catch (e) {
      return { code: e.code, isSyncError: e instanceof t.api.SyncError };
    }
  });
  assert.deepEqual(result, { code: "ERR_CORRUPT", isSyncError: true });
  await page.close();
});

test("a shared worker defaults to idb (no warning), and refuses opfs with ERR_STORAGE_UNAVAILABLE", async () => {
  const page = await open();
  const result = await page.evaluate(async () => {
    const worker = new SharedWorker("./shared-worker.mjs", { type: "module" });
    const call = (data) =>
      new Promise((resolve) => {
        worker.port.onmessage = (e) => resolve(e.data);
        worker.port.postMessage(data);
      });
    const written = await call({ op: "default", body: "from the shared worker" });
    const opfs = await call({ op: "opfs" });
    // The page reads the same database through storage "idb": the default stored it there.
    const db = await t.api.openDatabase({ storage: "idb", name: "shared.db" });
    try {
      return { written, opfs, deviceId: db.deviceId, rows: await db.query("SELECT body FROM notes") };
    } finally {
      await db.close();
    }
  });
  assert.ok(result.written.ok, withLogs(result.written.error));
  assert.deepEqual(result.written.result.warnings, [], "idb is the shared worker's storage by design");
  assert.equal(result.deviceId, result.written.result.deviceId);
  assert.deepEqual(result.rows, [{ body: "from the shared worker" }]);
  assert.deepEqual(result.opfs, { ok: true, result: { code: "ERR_STORAGE_UNAVAILABLE" } });
  await page.close();
});

/** Page-side: makes every later IndexedDB read-write transaction fail, as a full disk would. */
function installStorageSwitch() {
  const original = IDBDatabase.prototype.transaction;
  window.storageWorks = (works) => {
    IDBDatabase.prototype.transaction = works
      ? original
      : function (stores, mode, options) {
          if (mode === "readwrite") throw new DOMException("simulated: no space left", "QuotaExceededError");
          return original.call(this, stores, mode, options);
        };
  };
}

test("generateBundle resolves only once the writes it carries are in IndexedDB", async () => {
  const page = await open();
  await page.evaluate(installStorageSwitch);
  const sent = await page.evaluate(async () => {
    const { openDatabase } = t.api;
    const db = await openDatabase({ storage: "idb", name: "bundled.db" });
    // Schema, sync and writes, then a bundle at once (within the task): nothing was saved yet.
    await db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    await db.enableSync("notes");
    await db.exec("INSERT INTO notes (body) VALUES ('first')");
    await db.exec("INSERT INTO notes (body) VALUES ('second')");
    const began = performance.now();
    const bundle = await db.generateBundle();
    const ms = performance.now() - began;
    // From now on nothing reaches IndexedDB, as if the tab died right after handing the bundle out.
    window.storageWorks(false);
    const peer = await openDatabase({ storage: "memory" });
    await peer.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    await peer.enableSync("notes");
    await peer.importBundle(bundle);
    const carried = (await peer.changeLog()).map((r) => [r.origin, r.seq]);
    await peer.close();
    return { deviceId: db.deviceId, carried, ms };
  });
  // The tab goes away without close(); its Web Lock goes with it.
  await page.close();
  const reopened = await open();
  const state = await reopened.evaluate(async () => {
    const db = await t.api.openDatabase({ storage: "idb", name: "bundled.db" });
    try {
      const log = await db.changeLog();
      return { deviceId: db.deviceId, rows: await db.query("SELECT body FROM notes ORDER BY id"), log: log.map((r) => [r.origin, r.seq]) };
    } finally {
      await db.close();
    }
  });
  assert.equal(state.deviceId, sent.deviceId);
  assert.deepEqual(state.rows, [{ body: "first" }, { body: "second" }]);
  assert.deepEqual(sent.carried, [
    [sent.deviceId, 1],
    [sent.deviceId, 2],
  ]);
  assert.deepEqual(state.log, sent.carried, "every record the bundle carried is stored");
  console.log(`generateBundle right after two writes, their save included: ${sent.ms.toFixed(1)} ms`);
  await reopened.close();
});

test("generateBundle rejects with a retryable ERR_STORAGE_UNAVAILABLE when the writes cannot be stored", async () => {
  const page = await open();
  await page.evaluate(installStorageSwitch);
  const result = await page.evaluate(async () => {
    const db = await t.api.openDatabase({ storage: "idb", name: "unsaved.db" });
    await db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    await db.enableSync("notes");
    await db.close();
    const again = await t.api.openDatabase({ storage: "idb", name: "unsaved.db" });
    window.storageWorks(false);
    const written = await again.exec("INSERT INTO notes (body) VALUES ('not stored yet')");
    const refused = await again.generateBundle().then(
      (bundle) => ({ bundle: bundle?.length ?? null }),
      (e) => ({ code: e.code, retryable: e.retryable, isSyncError: e instanceof t.api.SyncError }),
    );
    window.storageWorks(true);
    const bundle = await again.generateBundle();
    await again.close();
    return { changes: written.changes, refused, retried: bundle instanceof Uint8Array };
  });
  assert.equal(result.changes, 1, "the write itself succeeded");
  assert.deepEqual(result.refused, { code: "ERR_STORAGE_UNAVAILABLE", retryable: true, isSyncError: true });
  assert.equal(result.retried, true, "once storing works again, the bundle is handed out");
  const reopened = await page.evaluate(async () => {
    const db = await t.api.openDatabase({ storage: "idb", name: "unsaved.db" });
    try {
      return db.query("SELECT body FROM notes");
    } finally {
      await db.close();
    }
  });
  assert.deepEqual(reopened, [{ body: "not stored yet" }]);
  await page.close();
});
