// A module shared worker for tests/browser/idb.test.mjs: imports the package and, for each
// connection, answers { op: "default" } by opening "shared.db" without a storage option, writing a
// row and closing it (reporting any warning), and { op: "opfs" } by trying `storage: "opfs"`
// (reporting the error's code).

import { openDatabase, SyncError } from "../../dist/load/web.js";

async function run(data) {
  switch (data.op) {
    case "default": {
      const warnings = [];
      const db = await openDatabase({ name: "shared.db", onWarning: (w) => warnings.push(w) });
      try {
        await db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)");
        await db.exec("INSERT INTO notes (body) VALUES (?)", [data.body]);
        return { warnings, deviceId: db.deviceId };
      } finally {
        await db.close();
      }
    }
    case "opfs":
      try {
        await openDatabase({ name: "shared-opfs.db", storage: "opfs" });
        return { opened: true };
      } catch (e) {
        return { code: e instanceof SyncError ? e.code : String(e) };
      }
    default:
      throw new Error(`unknown op ${data.op}`);
  }
}

self.addEventListener("connect", (event) => {
  const port = event.ports[0];
  port.onmessage = (message) =>
    run(message.data).then(
      (result) => port.postMessage({ ok: true, result }),
      (e) => port.postMessage({ ok: false, error: String(e?.stack ?? e) }),
    );
});
