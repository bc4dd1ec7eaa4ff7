// Argument checks of every method, made in JS before anything reaches the wasm glue: a value of
// the wrong type is ERR_INVALID_ARGUMENT (never a trap such as "memory access out of bounds",
// never ERR_INTERNAL), an argument whose reading throws (a getter, a Proxy) is ERR_INVALID_ARGUMENT
// too, and the database keeps working after every one of them (a JS exception thrown while Rust
// was reading an argument used to leave the handle borrowed: "re-entrant call into the database").

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase } from "sqlite-sync-wasm";
import { rejectsWith } from "./helpers.mjs";

const PEER = "0123456789abcdef0123456789abcdef";

async function synced() {
  const db = await openDatabase();
  await db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, v)");
  await db.enableSync("items");
  await db.exec("INSERT INTO items (id, v) VALUES (1, 'one')");
  return db;
}

/** Asserts that `db` still answers, and still has exactly its one row. */
async function alive(db) {
  assert.deepEqual(await db.query("SELECT id, v FROM items"), [{ id: 1, v: "one" }]);
}

/** An object whose property `key` throws when read. */
function throwing(key) {
  return Object.defineProperty({}, key, {
    enumerable: true,
    get() {
      throw new Error(`reading ${key}`);
    },
  });
}

function revokedProxy() {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

test("generateBundle accepts undefined or an object, and refuses anything else", async () => {
  const db = await synced();
  for (const options of ["abc", PEER, 5, true, null, [], [PEER], new Uint8Array(16), () => PEER]) {
    await rejectsWith(db.generateBundle(options), "ERR_INVALID_ARGUMENT");
  }
  for (const options of [undefined, {}, { peerId: undefined }, { peerId: PEER }]) {
    assert.ok((await db.generateBundle(options)) instanceof Uint8Array, `options ${JSON.stringify(options)}`);
  }
  await alive(db);
  await db.close();
});

test("peerId must be a string of 32 lowercase hex characters; a non-string never reaches wasm", async () => {
  const db = await synced();
  const peers = [5, 0, {}, [], null, true, 10n, new Uint8Array(16), { toString: () => PEER }, Symbol("peer")];
  for (const peerId of [...peers, "", "nope", PEER.toUpperCase(), `${PEER}0`, PEER.slice(1), ` ${PEER.slice(1)}`]) {
    const error = await rejectsWith(db.generateBundle({ peerId }), "ERR_INVALID_ARGUMENT");
    assert.match(error.message, /peerId/);
  }
  await rejectsWith(db.generateBundle(throwing("peerId")), "ERR_INVALID_ARGUMENT");
  for (const unsentOnly of [1, 0, "true", null, {}]) {
    await rejectsWith(db.generateBundle({ peerId: PEER, unsentOnly }), "ERR_INVALID_ARGUMENT");
  }
  assert.ok((await db.generateBundle({ peerId: PEER, unsentOnly: true })) instanceof Uint8Array);
  await alive(db);
  await db.close();
});

test("discardPendingChanges takes no origin or a device id string", async () => {
  const db = await synced();
  for (const origin of [5, null, {}, [PEER], { toString: () => PEER }]) {
    await rejectsWith(db.discardPendingChanges(origin), "ERR_INVALID_ARGUMENT");
  }
  await rejectsWith(db.discardPendingChanges("nope"), "ERR_INVALID_ARGUMENT");
  assert.equal(await db.discardPendingChanges(PEER), 0);
  assert.equal(await db.discardPendingChanges(), 0);
  await alive(db);
  await db.close();
});

test("names, ids and SQL must be strings in every method that takes one", async () => {
  const db = await synced();
  for (const bad of [17, null, undefined, {}, ["items"], new String("items"), Symbol("items")]) {
    await rejectsWith(db.exec(bad), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.query(bad), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.enableSync(bad), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.disableSync(bad), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.resolveConflict(bad, "local"), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.setConflictResolver(bad, () => undefined), "ERR_INVALID_ARGUMENT");
    await db.transaction(async (tx) => {
      await rejectsWith(tx.exec(bad), "ERR_INVALID_ARGUMENT");
      await rejectsWith(tx.query(bad), "ERR_INVALID_ARGUMENT");
    });
  }
  assert.deepEqual(await db.syncedTables(), ["items"]);
  await alive(db);
  await db.close();
});

test("enableSync's options are undefined or an object with a known conflictStrategy", async () => {
  const db = await synced();
  await db.exec("CREATE TABLE other (id INTEGER PRIMARY KEY)");
  for (const options of ["lww", 5, null, [], ["lww"], new Uint8Array(1)]) {
    await rejectsWith(db.enableSync("other", options), "ERR_INVALID_ARGUMENT");
  }
  for (const conflictStrategy of [5, null, "LWW", "custom", {}, ["lww"]]) {
    await rejectsWith(db.enableSync("other", { conflictStrategy }), "ERR_INVALID_ARGUMENT");
  }
  await rejectsWith(db.enableSync("other", throwing("conflictStrategy")), "ERR_INVALID_ARGUMENT");
  assert.deepEqual(await db.syncedTables(), ["items"]);
  await db.enableSync("other", { conflictStrategy: undefined });
  assert.deepEqual(await db.syncedTables(), ["items", "other"]);
  await alive(db);
  await db.close();
});

test("resolveConflict's choice is \"local\", \"remote\" or { values: object }", async () => {
  const db = await synced();
  const choices = [undefined, null, 5, "both", "LOCAL", [], ["local"], {}, { values: null }, { values: 5 }, { values: [1] }];
  for (const choice of [...choices, { values: new Uint8Array(1) }, { values: "v" }, () => "local"]) {
    await rejectsWith(db.resolveConflict("0".repeat(32), choice), "ERR_INVALID_ARGUMENT");
  }
  await rejectsWith(db.resolveConflict("0".repeat(32), { values: { v: {} } }), "ERR_INVALID_ARGUMENT");
  await rejectsWith(db.resolveConflict("0".repeat(32), { values: { v: Symbol("v") } }), "ERR_INVALID_ARGUMENT");
  await rejectsWith(db.resolveConflict("0".repeat(32), throwing("values")), "ERR_INVALID_ARGUMENT");
  await rejectsWith(db.resolveConflict("0".repeat(32), { values: throwing("v") }), "ERR_INVALID_ARGUMENT");
  // Well-formed choices reach the engine, which knows no such conflict.
  for (const choice of ["local", "remote", { values: {} }, { values: { v: "x" } }]) {
    await rejectsWith(db.resolveConflict("0".repeat(32), choice), "ERR_CONFLICT_NOT_FOUND");
  }
  await alive(db);
  await db.close();
});

test("importBundle takes bytes: any Uint8Array view, nothing else", async () => {
  const db = await synced();
  for (const bytes of [undefined, null, "bundle", 5, [1, 2, 3], {}, new ArrayBuffer(8), new Uint16Array(4), new DataView(new ArrayBuffer(8))]) {
    await rejectsWith(db.importBundle(bytes), "ERR_INVALID_ARGUMENT");
  }
  const other = await openDatabase();
  await other.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, v)");
  await other.enableSync("items");
  const bundle = await db.generateBundle();
  // A view into the middle of a larger buffer, whose own `length` lies: its real bytes are used.
  const padded = new Uint8Array(bundle.length + 16);
  padded.set(bundle, 7);
  const view = padded.subarray(7, 7 + bundle.length);
  Object.defineProperty(view, "length", { value: 3 });
  const result = await other.importBundle(view);
  assert.equal(result.applied, 1);
  await alive(other);
  await Promise.all([db.close(), other.close()]);
});

test("params are an array or an object of SQL values; unreadable ones are refused and change nothing", async () => {
  const db = await synced();
  for (const params of [5, "x", true, new Uint8Array(1), () => 1]) {
    await rejectsWith(db.exec("INSERT INTO items (v) VALUES (?)", params), "ERR_INVALID_ARGUMENT");
  }
  for (const value of [{}, [1], Symbol("v"), () => 1, new Date(0), new Uint16Array(1), new Proxy(new Uint8Array(1), {})]) {
    await rejectsWith(db.exec("INSERT INTO items (v) VALUES (?)", [value]), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.exec("INSERT INTO items (v) VALUES (:v)", { v: value }), "ERR_INVALID_ARGUMENT");
  }
  const positional = [1];
  Object.defineProperty(positional, 0, {
    get() {
      throw new Error("reading params[0]");
    },
  });
  const hostile = [
    throwing("v"),
    positional,
    revokedProxy(),
    new Proxy({}, { ownKeys: () => { throw new Error("ownKeys"); } }),
    new Proxy([1], { get: () => { throw new Error("get"); } }),
  ];
  for (const params of hostile) {
    await rejectsWith(db.exec("INSERT INTO items (v) VALUES (:v)", params), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.query("SELECT :v AS v", params), "ERR_INVALID_ARGUMENT");
    await db.transaction(async (tx) => {
      await rejectsWith(tx.exec("INSERT INTO items (v) VALUES (:v)", params), "ERR_INVALID_ARGUMENT");
    });
  }
  // Bytes whose own `length` throws: read through the typed-array intrinsics, never that getter.
  const blob = new Uint8Array([1, 2, 3]);
  Object.defineProperty(blob, "length", {
    get() {
      throw new Error("length");
    },
  });
  assert.deepEqual(await db.query("SELECT ? AS b", [blob]), [{ b: new Uint8Array([1, 2, 3]) }]);
  assert.deepEqual(await db.query("SELECT :b AS b", { b: blob.subarray(1) }), [{ b: new Uint8Array([2, 3]) }]);
  await alive(db);
  assert.equal((await db.changeLog()).length, 1, "nothing refused was written");
  await db.close();
});
