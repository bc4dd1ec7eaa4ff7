// Sync over the network in headless Chromium (playwright-core + /usr/bin/chromium): a page's OPFS
// database (through the package worker proxy: the loop runs in that worker) syncs with an
// in-process Node device through a real relay process (the CLI, on a SQLite file), over
// HttpTransport and over WebSocketTransport. The page is served from another origin than the
// relay's (another port), so the relay's CORS headers are what lets it through. The page's token
// function runs on the page (it asks Node for a token through an exposed function); status and
// progress events reach the page; a concurrent edit makes the same conflict id on the page and in
// Node, and a resolution in Node closes it on the page. A module service worker syncs its
// `storage: "idb"` database over HttpTransport with the same relay.
//   node --test tests/browser/net.test.mjs

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { cleanup, database, insertMany, relay, rows, shutdown, sync, token, transport } from "../net/harness.mjs";
import { launch } from "./chromium.mjs";

const server = await relay();
const { server: pages, context, close } = await launch("net");
const logs = [];
context.on("console", (m) => logs.push(`console.${m.type()}: ${m.text()}`));
await context.exposeFunction("mintToken", (space, device) => token(space, device));

after(async () => {
  await cleanup();
  await close();
  await server.close();
});

const withLogs = (message) => `${message}\n${logs.slice(-20).join("\n")}`;

async function open() {
  const page = await context.newPage();
  page.on("pageerror", (e) => logs.push(`page error: ${e.message}`));
  await page.goto(`${pages.url}tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
  return page;
}

/** Opens the page's OPFS database `name` and starts its loop (only rounds it asks for), as `window.net`. */
function startOnPage({ name, kind, url, space }) {
  return (async () => {
    const { openDatabase, startSync, HttpTransport, WebSocketTransport } = t.api;
    const db = await openDatabase({ storage: "opfs", name });
    await db.exec("CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY, title TEXT, by TEXT)");
    if (!(await db.syncedTables()).includes("todos")) await db.enableSync("todos");
    const net = { db, tokenCalls: 0, statuses: [], progress: [] };
    // The token function runs here, on the page; the loop runs in the package worker.
    const tokenFn = async () => {
      net.tokenCalls += 1;
      return window.mintToken(space, db.deviceId);
    };
    const Transport = kind === "http" ? HttpTransport : WebSocketTransport;
    net.sync = startSync(db, { transport: new Transport({ url, space, token: tokenFn }), intervalMs: 0, debounceMs: 60_000 });
    net.sync.on("status", (s) => net.statuses.push({ state: s.state, received: s.received, error: s.lastError?.code ?? null }));
    net.sync.on("progress", (p) => net.progress.push({ ...p }));
    net.rows = () => db.query("SELECT id, title, by FROM todos ORDER BY id");
    window.net = net;
    return db.deviceId;
  })();
}

for (const kind of ["http", "websocket"]) {
  test(`a page's OPFS database and a Node device converge through the relay over ${kind}`, { timeout: 120_000 }, async () => {
    const space = `browser-${kind}`;
    const page = await open();
    const node = await database();
    const url = kind === "http" ? server.url : server.ws;
    const sn = sync(node, { transport: transport(kind, server, space, node), intervalMs: 0, debounceMs: 60_000 });
    try {
      assert.notEqual(new URL(pages.url).origin, new URL(server.url).origin, "the page and the relay are two origins");
      await page.evaluate(startOnPage, { name: `net-${kind}.db`, kind, url, space });
      await page.evaluate(() => net.sync.syncNow());
      await sn.loop.syncNow();

      // Node writes 1,500 rows (two pages for the page to pull), the page pulls them.
      await node.exec("INSERT INTO todos VALUES ('1', 'first', 'node')");
      await insertMany(node, "bulk", 1499);
      await sn.loop.syncNow();
      await page.evaluate(() => net.sync.syncNow());
      // (Over a WebSocket the relay's Notify may have started the page's round already.)
      assert.equal(await page.evaluate(() => net.sync.status.received), 1500, withLogs("the page pulled"));
      assert.deepEqual(await page.evaluate(() => net.rows()), await rows(node));

      // Concurrent edits of row 1.
      await page.evaluate(() => net.db.exec("UPDATE todos SET title = 'by the page' WHERE id = '1'"));
      await node.exec("UPDATE todos SET title = 'by node' WHERE id = '1'");
      await page.evaluate(() => net.sync.syncNow());
      await sn.loop.syncNow();
      await page.evaluate(() => net.sync.syncNow());
      const onPage = await page.evaluate(async () => (await net.db.conflicts()).map((c) => c.id));
      const inNode = (await node.conflicts()).map((c) => c.id);
      assert.equal(inNode.length, 1);
      assert.deepEqual(onPage, inNode, "the same conflict id on the page and in Node");
      assert.deepEqual(await page.evaluate(() => net.rows()), await rows(node), "the same provisional winner");

      await node.resolveConflict(inNode[0], "remote");
      await sn.loop.syncNow();
      await page.evaluate(() => net.sync.syncNow());
      assert.deepEqual(await page.evaluate(() => net.db.conflicts()), [], "closed on the page");
      assert.deepEqual(await node.conflicts(), []);
      assert.deepEqual(await page.evaluate(() => net.rows()), await rows(node));

      const seen = await page.evaluate(() => ({ tokenCalls: net.tokenCalls, statuses: net.statuses, progress: net.progress, status: net.sync.status }));
      assert.ok(seen.tokenCalls >= 1, "the page's token function was asked");
      assert.ok(seen.statuses.some((s) => s.state === "syncing") && seen.statuses.at(-1).state === "idle", JSON.stringify(seen.statuses));
      assert.ok(seen.progress.length >= 2, `progress on the page: ${JSON.stringify(seen.progress)}`);
      // Over a WebSocket the relay's Notify after Node's first push may start the page's round
      // before the second: the 1,500 records then come in two catch-ups. Each catch-up's events
      // count up to its total; together they carry at least the 1,500.
      let pulled = 0;
      let last = 0;
      for (const p of seen.progress) {
        assert.ok(p.received <= p.total, JSON.stringify(p));
        if (p.received <= last) pulled += last;
        last = p.received;
      }
      pulled += last;
      assert.ok(pulled >= 1500, `progress on the page: ${JSON.stringify(seen.progress)}`);
      assert.equal(seen.status.lastError, null);
      assert.equal(seen.status.pending, 0);
      await page.evaluate(async () => {
        await net.sync.stop();
        await net.db.close();
      });
      assert.equal(logs.filter((l) => l.startsWith("page error")).length, 0, withLogs("page errors"));
    } finally {
      await shutdown([sn], [node]);
      await page.close();
    }
  });
}

test("a module service worker syncs its idb database over HttpTransport with the relay", { timeout: 90_000 }, async () => {
  const space = "service-worker";
  const page = await open();
  const node = await database();
  const sn = sync(node, { transport: transport("http", server, space, node), intervalMs: 0, debounceMs: 60_000 });
  try {
    await node.exec("INSERT INTO todos VALUES ('n1', 'from node', 'node')");
    await sn.loop.syncNow();
    await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.register("./net-sw.mjs", { type: "module", scope: "./net-sw-scope/" });
      const sw = reg.installing ?? reg.waiting ?? reg.active;
      if (sw.state !== "activated") {
        await new Promise((resolve, reject) =>
          sw.addEventListener("statechange", () => {
            if (sw.state === "activated") resolve();
            if (sw.state === "redundant") reject(new Error("the service worker failed to install"));
          }),
        );
      }
      window.swCall = (data) =>
        new Promise((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = (e) => resolve(e.data);
          sw.postMessage(data, [channel.port2]);
        });
    });
    const opened = await page.evaluate(() => window.swCall({ op: "open" }));
    assert.ok(opened.ok, withLogs(opened.error));
    const bearer = await token(space, opened.result.deviceId);
    const synced = await page.evaluate((data) => window.swCall(data), { op: "sync", url: server.url, space, token: bearer, rows: ["s1", "s2"] });
    assert.ok(synced.ok, withLogs(synced.error));
    // `received` counts Node's record, and may count the worker's own two coming back in the pull.
    const { result, status } = synced.result;
    assert.deepEqual([result.sent, result.conflicts], [2, 0]);
    assert.ok(result.received >= 1 && result.received <= 3, `received ${result.received}`);
    assert.deepEqual(status, { state: "idle", sent: 2, received: result.received, pending: 0, lastError: null });
    assert.ok(synced.result.states.includes("syncing") && synced.result.states.at(-1) === "stopped", String(synced.result.states));
    assert.deepEqual(synced.result.rows, [{ id: "n1", by: "node" }, { id: "s1", by: "sw" }, { id: "s2", by: "sw" }]);
    await sn.loop.syncNow();
    assert.deepEqual(await node.query("SELECT id, by FROM todos ORDER BY id"), synced.result.rows);
  } finally {
    await shutdown([sn], [node]);
    await page.close();
  }
});
