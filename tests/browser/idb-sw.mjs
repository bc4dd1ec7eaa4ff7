// A module service worker for tests/browser/idb.test.mjs: imports the package (web loader, no
// top-level await on the import path), opens `storage: "idb"` and answers commands posted with a
// MessagePort: { op: "write", rows } adds rows to a synced table, { op: "state" } reports what the
// database holds, { op: "open" } / { op: "close" } hold the database open / close it. Every answer
// carries `instance`, a random id of this service worker's global, so the test can tell a new
// instance from the old one.

import { openDatabase, SyncError } from "../../dist/load/web.js";

const instance = crypto.randomUUID();
const NAME = "sw.db";
let held;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function show(value) {
  return JSON.parse(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v)));
}

async function state(db) {
  return {
    deviceId: db.deviceId,
    rows: await db.query("SELECT * FROM notes ORDER BY id"),
    log: await db.changeLog(),
    clock: await db.vectorClock(),
    synced: await db.syncedTables(),
  };
}

async function run(data) {
  switch (data.op) {
    case "write": {
      const db = held ?? (await openDatabase({ name: NAME, storage: "idb" }));
      try {
        await db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT, by TEXT)");
        if (!(await db.syncedTables()).includes("notes")) await db.enableSync("notes");
        for (const body of data.rows) await db.exec("INSERT INTO notes (body, by) VALUES (?, ?)", [body, instance]);
        await db.transaction(async (tx) => {
          await tx.exec("UPDATE notes SET body = body || '!' WHERE id = 1");
        });
        return await state(db);
      } finally {
        if (db !== held) await db.close();
      }
    }
    case "state": {
      const db = held ?? (await openDatabase({ name: NAME, storage: "idb" }));
      try {
        return await state(db);
      } finally {
        if (db !== held) await db.close();
      }
    }
    case "open":
      held = await openDatabase({ name: NAME, storage: "idb" });
      return { deviceId: held.deviceId };
    case "close":
      await held?.close();
      held = undefined;
      return {};
    default:
      throw new Error(`unknown op ${data.op}`);
  }
}

self.addEventListener("message", (event) => {
  const port = event.ports[0];
  event.waitUntil(
    run(event.data).then(
      (result) => port.postMessage({ ok: true, instance, result: show(result) }),
      (e) => port.postMessage({
        ok: false,
        instance,
        error: String(e?.stack ?? e),
        code: e instanceof SyncError ? e.code : undefined,
        retryable: e?.retryable,
      }),
    ),
  );
});
