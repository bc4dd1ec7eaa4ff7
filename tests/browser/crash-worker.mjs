// A user's own dedicated worker that opens the OPFS database in-process (the package's
// in-worker path). The page sends it commands; tests terminate it at random moments.
//   { op: "open", name }                      → { ok, deviceId }
//   { op: "bigTransaction", rows, tag }       → { ok } (one transaction of `rows` inserts)
//   { op: "import", bytes }                   → { ok, result }
//   { op: "state" }                           → { ok, state } (counts and change-log totals)
//   { op: "close" }                           → { ok }

import { openDatabase } from "../../dist/load/web.js";
import { state } from "./checks.mjs";

let db;

onmessage = async ({ data }) => {
  try {
    switch (data.op) {
      case "open":
        db = await openDatabase({ storage: "opfs", name: data.name });
        await db.exec("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, tag TEXT, n INTEGER, pad TEXT)");
        if (!(await db.syncedTables()).includes("items")) await db.enableSync("items");
        postMessage({ ok: true, deviceId: db.deviceId });
        break;
      case "bigTransaction":
        postMessage({ ok: true, started: true });
        await db.transaction(async (tx) => {
          for (let i = 0; i < data.rows; i++) {
            await tx.exec("INSERT INTO items (tag, n, pad) VALUES (?, ?, ?)", [data.tag, i, "x".repeat(200)]);
            // Yield to the event loop now and then, as an app's transaction awaiting other work does.
            if (i % 1000 === 999) await new Promise((resolve) => setTimeout(resolve, 0));
          }
        });
        postMessage({ ok: true, done: true });
        break;
      case "import":
        postMessage({ ok: true, started: true });
        postMessage({ ok: true, done: true, result: await db.importBundle(data.bytes) });
        break;
      case "state":
        postMessage({ ok: true, state: await state(db) });
        break;
      case "close":
        await db.close();
        postMessage({ ok: true });
        break;
    }
  } catch (e) {
    postMessage({ ok: false, error: `${e?.code ?? ""} ${e?.stack ?? e}` });
  }
};
postMessage({ ok: true, loaded: true });
