// Page-side views of the OPFS pool's files (the `opfs-sahpool` layout: one OPFS file per slot in
// `.opfs-sahpool/.opaque/`, each starting with the NUL-padded name of the SQLite file it holds),
// read with the asynchronous OPFS API, which needs no access handle.

import { openDatabase } from "../../dist/load/web.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function slots() {
  const root = await navigator.storage.getDirectory();
  const pool = await root.getDirectoryHandle(".opfs-sahpool");
  return pool.getDirectoryHandle(".opaque");
}

/** How many files the pool holds. */
export async function poolFiles() {
  let n = 0;
  for await (const _ of (await slots()).keys()) n += 1;
  return n;
}

/** A slot's file; waits while the access handle of a worker that has just died is released. */
async function fileOf(handle) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await handle.getFile();
    } catch (e) {
      if (attempt >= 200) throw e;
      await sleep(10);
    }
  }
}

/** The header of a slot: the SQLite file's name ("" when free), then its data from offset 4096. */
const DATA = 4096;

/**
 * The rollback journals in the pool, as `{ name, hot }`. A journal exists only between a write
 * transaction's first change and its commit, so one left behind by a dead worker proves that the
 * worker died inside a write transaction. It is `hot` once SQLite has synced page images into it
 * (its first byte, a magic number, is written last): only then may the database file have been
 * changed, and the next open rolls the journal back and removes it; a journal that is not hot is
 * left as it is, to be reused by the next write.
 */
export async function poolJournals() {
  const journals = [];
  for await (const handle of (await slots()).values()) {
    const file = await fileOf(handle);
    const head = new Uint8Array(await file.slice(0, DATA + 1).arrayBuffer());
    const end = head.indexOf(0);
    const name = new TextDecoder().decode(head.subarray(0, end < 0 ? 512 : end));
    if (name.endsWith("-journal")) journals.push({ name, hot: head.length > DATA && head[DATA] !== 0 });
  }
  return journals.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * The growth scenario (tests/browser/opfs.test.mjs): opens `count` databases one after another
 * and writes to each, while one database writes without pause and another keeps a transaction
 * open, writing in it now and then; then writes to all of them at once, closes them all (which
 * releases the pool), reopens them and reads them back. Reports errors, the pool's size along the
 * way (with each growth and the writes made meanwhile), the rows read back and timings.
 */
export async function manyDatabases(count) {
  const errors = [];
  const keeper = await openDatabase({ storage: "opfs", name: "keeper.db" });
  await keeper.exec("CREATE TABLE IF NOT EXISTS k (id INTEGER PRIMARY KEY, phase TEXT)");
  await keeper.enableSync("k");
  const held = await openDatabase({ storage: "opfs", name: "held.db" });
  await held.exec("CREATE TABLE IF NOT EXISTS h (id INTEGER PRIMARY KEY, n INTEGER)");
  const filesBefore = await poolFiles();

  // While the databases open, the keeper writes without pause (statements and small
  // transactions) and `held` keeps one transaction open, writing in it now and then.
  let opening = true;
  let written = 0;
  const writer = (async () => {
    for (let n = 0; opening; n++) {
      try {
        if (n % 3 === 2) {
          await keeper.transaction(async (tx) => {
            await tx.exec("INSERT INTO k (phase) VALUES ('tx')");
            await tx.exec("INSERT INTO k (phase) VALUES ('tx')");
          });
          written += 2;
        } else {
          await keeper.exec("INSERT INTO k (phase) VALUES ('exec')");
          written += 1;
        }
      } catch (e) {
        errors.push(`keeper ${n}: ${e.code}: ${e.message}`);
      }
    }
  })();
  let inHeld = 0;
  const longTx = held.transaction(async (tx) => {
    while (opening) {
      await tx.exec("INSERT INTO h (n) VALUES (?)", [inHeld]);
      inHeld += 1;
      await sleep(5);
    }
  }).catch((e) => errors.push(`held: ${e.code}: ${e.message}`));

  const dbs = [];
  const ids = [];
  const began = performance.now();
  const openTimes = [];
  let files = filesBefore;
  // Openings that grew the pool, with the keeper's and the open transaction's writes meanwhile.
  const growths = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const before = { written, inHeld };
    try {
      const db = await openDatabase({ storage: "opfs", name: `many-${i}.db` });
      openTimes.push(performance.now() - start);
      await db.exec("CREATE TABLE IF NOT EXISTS f (id INTEGER PRIMARY KEY, v TEXT)");
      await db.exec("INSERT INTO f (v) VALUES (?), (?)", [`db-${i}`, `db-${i}-second`]);
      dbs.push(db);
      ids.push(db.deviceId);
    } catch (e) {
      errors.push(`open ${i}: ${e.code}: ${e.message}`);
    }
    const now = await poolFiles();
    if (now > files) {
      growths.push({ at: i, files: now, ms: performance.now() - start, keeper: written - before.written, held: inHeld - before.inHeld });
    }
    files = now;
  }
  let peakFiles = files;
  const openPhase = performance.now() - began;
  opening = false;
  await writer;
  await longTx;
  // With every database open, each one still writes (a transaction needs a journal file each).
  await Promise.all(dbs.map((db, i) => db.transaction(async (tx) => {
    await tx.exec("INSERT INTO f (v) VALUES (?)", [`db-${i}-third`]);
  }).catch((e) => errors.push(`write ${i}: ${e.code}: ${e.message}`))));
  const keeperRows = (await keeper.query("SELECT count(*) AS n FROM k"))[0].n;
  const heldRows = (await held.query("SELECT count(*) AS n FROM h"))[0].n;
  for (const db of dbs) await db.close();
  await held.close();
  await keeper.close();
  peakFiles = Math.max(peakFiles, await poolFiles());

  // Reopened by a new worker (the last close released the pool), every database has its rows.
  const again = [];
  for (let i = 0; i < count; i++) again.push(await openDatabase({ storage: "opfs", name: `many-${i}.db` }));
  const reopened = [];
  for (const [i, db] of again.entries()) {
    const rows = (await db.query("SELECT v FROM f ORDER BY id")).map((r) => r.v);
    reopened.push({ same: db.deviceId === ids[i], rows });
  }
  for (const db of again) await db.close();
  return {
    errors,
    opened: dbs.length,
    written,
    keeperRows,
    inHeld,
    heldRows,
    filesBefore,
    growths,
    peakFiles,
    filesAfter: await poolFiles(),
    openPhase,
    slowestOpen: Math.max(...openTimes),
    medianOpen: openTimes.sort((a, b) => a - b)[Math.floor(openTimes.length / 2)],
    reopened,
  };
}
