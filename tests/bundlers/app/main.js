// The app tests/bundlers builds with each bundler: it imports the package by name, as any app
// does, writes a row to an OPFS database (through the package's worker) and to a memory database
// (on the page itself, so the page's own copy of the loader must run too), reads each back, and
// leaves its verdict on `window.outcome`.

import { openDatabase, SyncError } from "sqlite-sync-wasm";

async function roundTrip(storage) {
  const db = await openDatabase({ name: "bundled.db", storage });
  try {
    await db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
    await db.enableSync("notes");
    await db.exec("INSERT INTO notes (body) VALUES (?)", [`written to ${storage}`]);
    const failure = await db.query("SELEC 1").catch((e) => e);
    return {
      rows: await db.query("SELECT id, body FROM notes"),
      records: (await db.changeLog()).length,
      error: failure instanceof SyncError ? failure.code : String(failure),
    };
  } finally {
    await db.close();
  }
}

async function run() {
  return { ok: true, opfs: await roundTrip("opfs"), memory: await roundTrip("memory") };
}

run().then(
  (outcome) => {
    window.outcome = outcome;
  },
  (e) => {
    window.outcome = { ok: false, error: `${e?.name}: ${e?.message}`, code: e?.code };
  },
);
