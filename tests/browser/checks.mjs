// Test code that runs inside Chromium (page or worker): the consistency check used after crashes,
// and a port of a representative subset of tests/js run through the main-thread proxy.

import * as api from "../../dist/load/web.js";

const { openDatabase, SyncError } = api;

function show(value) {
  return JSON.stringify(value, (_, v) =>
    typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `bytes[${v.join(",")}]` : v,
  );
}

function eq(actual, expected, what) {
  if (show(actual) !== show(expected)) throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

function ok(condition, what) {
  if (!condition) throw new Error(what);
}

async function rejectsWith(promise, code) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  ok(error !== undefined, `expected a rejection with ${code}`);
  ok(error instanceof SyncError, `expected a SyncError, got ${error?.name}: ${error?.message}`);
  eq(error.code, code, `error code (${error.message})`);
  return error;
}

const TODOS = "CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, big INTEGER, data BLOB)";

/** `value` as plain JSON data that survives the page boundary: bigints as `"123n"`, bytes as arrays. */
export function comparable(value) {
  return JSON.parse(
    JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v)),
  );
}

/**
 * Gives `db` a history worth persisting: rows with a bigint and a blob, changes received in a
 * bundle from a second (memory) replica, and one open conflict. Returns the number of conflicts the
 * last import recorded (1).
 */
export async function writeHistory(db, openDatabase) {
  await db.exec(TODOS);
  await db.enableSync("todos");
  await db.exec("INSERT INTO todos (id, title, big, data) VALUES (1, 'one', ?, ?)", [2n ** 60n, new Uint8Array([1, 2])]);
  await db.exec("INSERT INTO todos (id, title) VALUES (2, 'two')");
  const other = await openDatabase({ storage: "memory" });
  await other.exec(TODOS);
  await other.enableSync("todos");
  await other.importBundle(await db.generateBundle());
  await other.exec("UPDATE todos SET title = 'theirs' WHERE id = 2");
  await db.exec("UPDATE todos SET title = 'ours' WHERE id = 2");
  const result = await db.importBundle(await other.generateBundle({ peerId: db.deviceId }));
  await other.close();
  return result.conflicts;
}

/** Everything a reload must keep of a database written by `writeHistory`, as plain data. */
export async function persisted(db) {
  return comparable({
    deviceId: db.deviceId,
    rows: await db.query("SELECT * FROM todos ORDER BY id"),
    log: await db.changeLog(),
    conflicts: await db.conflicts(),
    clock: await db.vectorClock(),
  });
}

/**
 * What the table `items` and the change log say, and whether they agree: the primary keys the
 * change log leaves alive (inserts minus deletes, in order) must be exactly the table's rows.
 */
export async function state(db) {
  const rows = await db.query("SELECT tag, count(*) AS n FROM items GROUP BY tag ORDER BY tag");
  const ids = (await db.query("SELECT id FROM items ORDER BY id")).map((r) => Number(r.id));
  const log = await db.changeLog();
  const alive = new Set();
  let changes = 0;
  for (const record of log) {
    for (const change of record.changes) {
      if (change.table !== "items") continue;
      changes += 1;
      const id = Number(change.primaryKey.id);
      if (change.op === "delete") alive.delete(id);
      else alive.add(id);
    }
  }
  const logIds = [...alive].sort((a, b) => a - b);
  const agrees = logIds.length === ids.length && logIds.every((id, i) => id === ids[i]);
  return {
    byTag: Object.fromEntries(rows.map((r) => [r.tag, r.n])),
    rows: ids.length,
    records: log.length,
    changes,
    agrees,
    integrity: (await db.query("PRAGMA integrity_check"))[0]?.integrity_check,
  };
}

/**
 * What two databases with the same history share, device ids aside, for the synced `tables` (each
 * with the columns `tag` and `n`): rows and a checksum per table and tag, the change log's size,
 * the imports recorded, the open conflicts (table and key), the clock (this replica as "self") and
 * SQLite's integrity check. With `full` (costly for a large log), also whether the change log
 * agrees with the tables: the primary keys its changes leave alive are exactly the tables' rows.
 */
export async function summary(db, tables, full = false) {
  const one = async (sql) => (await db.query(sql))[0];
  const out = { rows: {}, total: 0 };
  for (const table of tables) {
    out.rows[table] = await db.query(`SELECT tag, count(*) AS n, total(n) AS sum FROM ${table} GROUP BY tag ORDER BY tag`);
    out.total += (await one(`SELECT count(*) AS n FROM ${table}`)).n;
  }
  out.log = await one("SELECT count(*) AS records, total(rows) AS changes FROM _sync_log");
  out.waiting = (await one("SELECT count(*) AS n FROM _sync_pending")).n;
  out.imports = (await one("SELECT count(*) AS n FROM _sync_imports")).n;
  const keyOf = (table, pk) => `${table}:${Object.keys(pk).sort().map((c) => String(pk[c])).join(",")}`;
  out.conflicts = (await db.conflicts()).map((c) => keyOf(c.table, c.primaryKey)).sort();
  out.clock = Object.entries(await db.vectorClock())
    .map(([device, n]) => [device === db.deviceId ? "self" : device, n])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  out.integrity = (await one("PRAGMA integrity_check")).integrity_check;
  if (full) {
    const alive = new Set();
    for (const record of await db.changeLog()) {
      for (const change of record.changes) {
        const key = keyOf(change.table, change.primaryKey);
        if (change.op === "delete") alive.delete(key);
        else alive.add(key);
      }
    }
    let rows = 0;
    let missing = 0;
    for (const table of tables) {
      const pk = (await db.query(`SELECT name FROM pragma_table_info('${table}') WHERE pk > 0`)).map((r) => r.name);
      for (const row of await db.query(`SELECT ${pk.join(", ")} FROM ${table}`)) {
        rows += 1;
        if (!alive.has(keyOf(table, row))) missing += 1;
      }
    }
    out.agrees = missing === 0 && alive.size === rows;
  }
  return out;
}

/** The current check's table: every check has its own, in one shared database. */
let T = "items";

/** Opens the shared test database through the proxy and creates the check's table. */
async function fresh(name) {
  const db = await openDatabase({ storage: "opfs", name });
  await db.exec(`CREATE TABLE ${T} (id INTEGER PRIMARY KEY, v)`);
  return db;
}

const CHECKS = {
  async "bundles between an OPFS database and a memory database, conflicts and a page-side resolver"() {
    const opfs = await fresh("api.db");
    const mem = await openDatabase({ storage: "memory" });
    try {
      await mem.exec(`CREATE TABLE ${T} (id INTEGER PRIMARY KEY, v)`);
      for (const db of [opfs, mem]) await db.enableSync(`${T}`);
      await opfs.exec(`INSERT INTO ${T} (id, v) VALUES (1, 'from opfs'), (2, ?)`, [new Uint8Array([9, 8])]);
      const bundle = await opfs.generateBundle();
      ok(bundle instanceof Uint8Array && bundle.length > 0, "generateBundle gives bytes");
      const result = await mem.importBundle(bundle);
      eq([result.total, result.applied, result.conflicts], [2, 2, 0], "import into memory");
      eq(await mem.query(`SELECT v FROM ${T} ORDER BY id`), [{ v: "from opfs" }, { v: new Uint8Array([9, 8]) }], "rows");

      // Concurrent edits of row 1 → a manual conflict on the OPFS side, settled by a resolver.
      await mem.exec(`UPDATE ${T} SET v = 'memory wins' WHERE id = 1`);
      await opfs.exec(`UPDATE ${T} SET v = 'opfs edit' WHERE id = 1`);
      const seen = [];
      await opfs.setConflictResolver(`${T}`, (conflict) => {
        seen.push(conflict.table);
        return "remote";
      });
      const back = await opfs.importBundle(await mem.generateBundle({ peerId: opfs.deviceId }));
      eq(back.conflicts, 1, "one conflict");
      eq(seen, [`${T}`], "the resolver ran on the page");
      eq(await opfs.conflicts(), [], "resolved");
      eq((await opfs.query(`SELECT v FROM ${T} WHERE id = 1`))[0].v, "memory wins", "remote kept");
      const again = await mem.importBundle(await opfs.generateBundle({ peerId: mem.deviceId }));
      ok(again.total >= 1, "the resolution travels back");
      eq(await mem.query(`SELECT v FROM ${T} ORDER BY id`), await opfs.query(`SELECT v FROM ${T} ORDER BY id`), "converged");
      ok(typeof (await opfs.vectorClock())[opfs.deviceId] === "number", "vectorClock");
      eq(await opfs.syncedTables(), [`${T}`], "syncedTables");
    } finally {
      await opfs.close();
      await mem.close();
    }
  },

  async "values round trip: integers, bigint, real, text, blob, null, boolean"() {
    const db = await fresh("api.db");
    try {
      const values = [0, -1, 2 ** 53 - 1, 2n ** 60n, -(2n ** 63n), 1.5, "héllo 🌍", "", new Uint8Array([0, 1, 255]), null];
      for (const v of values) await db.exec(`INSERT INTO ${T} (v) VALUES (?)`, [v]);
      await db.exec(`INSERT INTO ${T} (v) VALUES (:v)`, { v: true });
      const got = (await db.query(`SELECT v FROM ${T} ORDER BY id`)).map((r) => r.v);
      eq(got, [...values, 1], "values read back");
      ok(got[8] instanceof Uint8Array, "blob is a Uint8Array on the page");
      eq(typeof got[3], "bigint", "big integers are bigint");
      const result = await db.exec(`INSERT INTO ${T} (v) VALUES ('x')`);
      eq(result, { changes: 1, lastInsertRowid: 12 }, "exec result");
    } finally {
      await db.close();
    }
  },

  async "transaction commits, returns its value, and is one change record"() {
    const db = await fresh("api.db");
    try {
      await db.enableSync(`${T}`);
      const value = await db.transaction(async (tx) => {
        await tx.exec(`INSERT INTO ${T} (v) VALUES (?)`, ["a"]);
        await tx.exec(`INSERT INTO ${T} (v) VALUES (?)`, ["b"]);
        return (await tx.query(`SELECT count(*) AS n FROM ${T}`))[0].n;
      });
      eq(value, 2, "callback value");
      const log = (await db.changeLog()).filter((r) => r.changes.some((c) => c.table === T));
      eq(log.length, 1, "one record");
      eq(log[0].changes.length, 2, "two changes");
      eq(await db.transaction(() => 7), 7, "synchronous callback");
    } finally {
      await db.close();
    }
  },

  async "a throwing callback rolls back and rethrows the same error; other calls wait"() {
    const db = await fresh("api.db");
    try {
      await db.enableSync(`${T}`);
      const boom = new Error("boom");
      let caught;
      let release;
      const gate = new Promise((resolve) => (release = resolve));
      const tx = db
        .transaction(async (t) => {
          await t.exec(`INSERT INTO ${T} (v) VALUES ('gone')`);
          await gate;
          throw boom;
        })
        .catch((e) => (caught = e));
      // Issued while the transaction is open: it must wait, then see no row.
      const outside = db.query(`SELECT count(*) AS n FROM ${T}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      release();
      await tx;
      ok(caught === boom, "the callback's own error is rethrown");
      eq(await outside, [{ n: 0 }], "the waiting call ran after the rollback");
      eq((await db.changeLog()).filter((r) => r.changes.some((c) => c.table === T)), [], "no change record");
      await db.transaction(async (t) => {
        await rejectsWith(t.exec(`INSERT INTO ${T} (id, v) VALUES (1, 'x'), (1, 'dup')`), "ERR_SQL");
        await t.exec(`INSERT INTO ${T} (v) VALUES ('kept')`);
      });
      eq((await db.query(`SELECT v FROM ${T}`)).map((r) => r.v), ["kept"], "caught SQL error inside tx");
    } finally {
      await db.close();
    }
  },

  async "errors arrive as SyncError with code, retryable and sqliteCode"() {
    const db = await fresh("api.db");
    try {
      const sql = await rejectsWith(db.query("SELEC 1"), "ERR_SQL");
      eq(sql.retryable, false, "retryable");
      await db.exec(`INSERT INTO ${T} (id, v) VALUES (1, 'a')`);
      const unique = await rejectsWith(db.exec(`INSERT INTO ${T} (id, v) VALUES (1, 'b')`), "ERR_SQL");
      eq(unique.sqliteCode, 1555, "SQLITE_CONSTRAINT_PRIMARYKEY");
      await rejectsWith(db.enableSync("missing"), "ERR_TABLE_NOT_FOUND");
      await rejectsWith(db.disableSync(`${T}`), "ERR_TABLE_NOT_SYNCED");
      await rejectsWith(db.importBundle(new Uint8Array([1, 2, 3])), "ERR_BUNDLE_MALFORMED");
      await rejectsWith(db.resolveConflict("nope", "local"), "ERR_CONFLICT_NOT_FOUND");
      await rejectsWith(db.exec("SELECT ?", []), "ERR_INVALID_ARGUMENT");
    } finally {
      await db.close();
    }
    await rejectsWith(db.query("SELECT 1"), "ERR_CLOSED");
    await rejectsWith(openDatabase({ storage: "tape" }), "ERR_INVALID_ARGUMENT");
  },

  async "onChange announces committed writes and unsubscribes"() {
    const db = await fresh("api.db");
    try {
      const events = [];
      const off = db.onChange((e) => events.push(e));
      await db.exec(`INSERT INTO ${T} (v) VALUES (1)`);
      await db.transaction((tx) => tx.exec(`INSERT INTO ${T} (v) VALUES (2)`));
      await db.query(`SELECT * FROM ${T}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      eq(events, [
        { database: "api.db", kind: "exec", local: true },
        { database: "api.db", kind: "transaction", local: true },
      ], "events");
      off();
      await db.exec(`INSERT INTO ${T} (v) VALUES (3)`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      eq(events.length, 2, "no event after unsubscribing");
    } finally {
      await db.close();
    }
  },

  async "startSync refuses an injected fetch or WebSocket: they cannot cross to the package worker"() {
    const db = await fresh("api.db");
    try {
      const refused = (transport) => {
        try {
          api.startSync(db, { transport });
        } catch (e) {
          ok(e instanceof SyncError, `a SyncError, got ${e}`);
          eq(e.code, "ERR_INVALID_ARGUMENT", e.message);
          ok(e.message.includes("package worker"), e.message);
          return;
        }
        throw new Error("startSync accepted an injected class");
      };
      const common = { space: "team-42", token: () => "jwt" };
      refused(new api.HttpTransport({ ...common, url: "http://127.0.0.1:1", fetch }));
      refused(new api.WebSocketTransport({ ...common, url: "ws://127.0.0.1:1", WebSocket }));
    } finally {
      await db.close();
    }
  },
};

/** Runs every check through the main-thread proxy; returns one line per check. */
export async function apiChecks() {
  const results = [];
  for (const [index, [name, check]] of Object.entries(CHECKS).entries()) {
    T = `items_${index}`;
    try {
      await check();
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: String(e?.stack ?? e) });
    }
  }
  return results;
}

/** Sends one command to a crash worker and waits for the answer that has `key`. */
export function command(worker, message, key = "ok") {
  return new Promise((resolve, reject) => {
    const listener = ({ data }) => {
      if (!data.ok) {
        worker.removeEventListener("message", listener);
        reject(new Error(data.error));
      } else if (key in data) {
        worker.removeEventListener("message", listener);
        resolve(data);
      }
    };
    worker.addEventListener("message", listener);
    if (message !== undefined) worker.postMessage(message);
  });
}

/** Starts a crash worker and waits until it has loaded. */
export async function crashWorker() {
  const worker = new Worker(new URL("./crash-worker.mjs", import.meta.url), { type: "module" });
  await command(worker, undefined, "loaded");
  return worker;
}
