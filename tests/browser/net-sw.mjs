// A module service worker for tests/browser/net.test.mjs: imports the package (web loader), opens
// `storage: "idb"` and syncs it with a relay over HttpTransport (the service worker's own fetch,
// to the relay's origin). Commands come with a MessagePort: { op: "open" } answers the device id;
// { op: "sync", url, space, token, rows } inserts rows, runs one round and answers what it did,
// the rows it holds and the loop's last status, then stops the loop and closes the database.

import { HttpTransport, openDatabase, startSync, SyncError } from "../../dist/load/web.js";

const NAME = "net-sw.db";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function open() {
  const db = await openDatabase({ name: NAME, storage: "idb" });
  await db.exec("CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY, title TEXT, by TEXT)");
  if (!(await db.syncedTables()).includes("todos")) await db.enableSync("todos");
  return db;
}

async function run(data) {
  const db = await open();
  try {
    if (data.op === "open") return { deviceId: db.deviceId };
    if (data.op !== "sync") throw new Error(`unknown op ${data.op}`);
    for (const id of data.rows) await db.exec("INSERT INTO todos VALUES (?, 'from the service worker', 'sw')", [id]);
    const sync = startSync(db, { transport: new HttpTransport({ url: data.url, space: data.space, token: data.token }), intervalMs: 0 });
    const states = [];
    sync.on("status", (s) => states.push(s.state));
    try {
      const result = await sync.syncNow();
      const { state, sent, received, pending, lastError } = sync.status;
      return { result, status: { state, sent, received, pending, lastError: lastError?.code ?? null }, states, rows: await db.query("SELECT id, by FROM todos ORDER BY id") };
    } finally {
      await sync.stop();
    }
  } finally {
    await db.close();
  }
}

self.addEventListener("message", (event) => {
  const port = event.ports[0];
  event.waitUntil(
    run(event.data).then(
      (result) => port.postMessage({ ok: true, result }),
      (e) => port.postMessage({ ok: false, error: String(e?.stack ?? e), code: e instanceof SyncError ? e.code : undefined }),
    ),
  );
});
