// Shared helpers for the node:test suites: opening a scratch database and asserting coded errors.

import assert from "node:assert/strict";
import { openDatabase, SyncError } from "sqlite-sync-wasm";

/** Opens an in-memory database with an `items (id INTEGER PRIMARY KEY, v)` table. */
export async function scratch() {
  const db = await openDatabase({ storage: "memory" });
  await db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, v)");
  return db;
}

/** Asserts that `promise` rejects with a `SyncError` carrying `code`; returns the error. */
export async function rejectsWith(promise, code) {
  let caught;
  await assert.rejects(promise, (e) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof SyncError, `expected a SyncError, got ${caught?.name}: ${caught?.message}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** A promise plus the function that resolves it, to hold a transaction open. */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
