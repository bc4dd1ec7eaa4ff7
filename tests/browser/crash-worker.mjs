// A user's own dedicated worker that opens the OPFS database in-process (the package's
// in-worker path). The page sends it commands; tests terminate it, or crash its tab, mid-write.
//   { op: "open", name, schema? }       → { ok, deviceId } (schema: statements run once, after
//                                          which every table is synced; default: the table `items`)
//   { op: "exec", sql }                 → { ok, result }
//   { op: "bigTransaction", rows, tag } → { ok, started }, then { ok, done } (one transaction of
//                                          `rows` inserts into `items`, yielding now and then)
//   { op: "import", bytes, lead? }      → { ok, started, at } right before `importBundle` runs,
//                                          then { ok, done, result, at }; with `lead` (ms) it first
//                                          answers { ok, armed, at } and waits `lead` ms without
//                                          yielding, so the import starts then in the same task
//   { op: "state" }                     → { ok, state } (counts and change-log totals of `items`)
//   { op: "summary", tables, full }     → { ok, summary } (see `summary` in checks.mjs)
//   { op: "close" }                     → { ok }
// Times (`at`) are wall-clock milliseconds (performance.timeOrigin + performance.now()).

import { openDatabase } from "../../dist/load/web.js";
import { state, summary } from "./checks.mjs";

const ITEMS = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, tag TEXT, n INTEGER, pad TEXT)";

/** The app's tables: not SQLite's own, not the engine's (`_sync_…`). */
const USER_TABLES = "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND substr(name, 1, 1) <> '_'";

let db;

const now = () => performance.timeOrigin + performance.now();

onmessage = async ({ data }) => {
  try {
    switch (data.op) {
      case "open": {
        db = await openDatabase({ storage: "opfs", name: data.name });
        const synced = await db.syncedTables();
        if (synced.length === 0) {
          for (const sql of data.schema ?? [ITEMS]) await db.exec(sql);
          for (const { name } of await db.query(USER_TABLES)) {
            await db.enableSync(name);
          }
        }
        postMessage({ ok: true, deviceId: db.deviceId });
        break;
      }
      case "exec":
        postMessage({ ok: true, result: await db.exec(data.sql) });
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
      case "import": {
        if (data.lead !== undefined) {
          const armed = now();
          postMessage({ ok: true, armed: true, at: armed });
          while (now() < armed + data.lead) {
            // Busy: Chromium lets a busy worker run on for 2 s after terminate() before stopping it.
          }
        }
        postMessage({ ok: true, started: true, at: now() });
        const result = await db.importBundle(data.bytes);
        postMessage({ ok: true, done: true, result, at: now() });
        break;
      }
      case "state":
        postMessage({ ok: true, state: await state(db) });
        break;
      case "summary":
        postMessage({ ok: true, summary: await summary(db, data.tables, data.full) });
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
