// A suite file written like those in tests/js, but with known outcomes, for
// tests/browser/suite.test.mjs to check the harness itself: a passing test, failing ones (an
// assertion, a SyncError through the proxy, leaving its database open), an excluded one, a describe block whose before hook
// throws, and a file-level after hook that throws must each be reported as such, by name.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { openDatabase } from "sqlite-sync-wasm";

test("passes", async () => {
  const db = await openDatabase();
  assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
  await db.close();
});

test("fails an assertion", () => {
  assert.equal(1, 2);
});

test("rejects with a SyncError", async () => {
  const db = await openDatabase();
  await db.query("SELEC 1"); // fails, leaving db open: the harness closes it after the test
});

test("is excluded", () => {
  throw new Error("an excluded test must not run");
});

describe("a block whose before hook throws", () => {
  before(() => {
    throw new Error("before hook");
  });
  test("cannot run", () => {});
});

after(() => {
  throw new Error("after hook");
});
