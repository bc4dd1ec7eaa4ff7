// A panic in the wasm module (a bug) stops its instance: the call that panicked rejects with
// ERR_INTERNAL carrying the panic's message, and from then on every call on every database of the
// realm rejects the same way without entering the stopped instance. The panic is a real one,
// raised inside the real instance by the hidden `__panicForTest` export, through the path every
// call into a handle takes (`betweenCalls` runs a body there like any method). It stops the wasm
// instance of this test process for good, so this file holds only this test.

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase } from "sqlite-sync-wasm";
import { __panicForTest, DatabaseHandle } from "../../dist/generated/sqlite_sync_wasm.js";
import { rejectsWith } from "./helpers.mjs";

/** Counts every later call into the glue's `DatabaseHandle` (methods, getters and `open`). */
function countCallsIntoWasm() {
  const entered = [];
  const wrap = (target, name, kind) => {
    const descriptor = Object.getOwnPropertyDescriptor(target, name);
    const original = descriptor[kind];
    if (typeof original !== "function") return;
    Object.defineProperty(target, name, {
      ...descriptor,
      [kind]: function (...args) {
        entered.push(name);
        return original.apply(this, args);
      },
    });
  };
  for (const name of Object.getOwnPropertyNames(DatabaseHandle.prototype)) {
    if (name !== "constructor") wrap(DatabaseHandle.prototype, name, "value" in Object.getOwnPropertyDescriptor(DatabaseHandle.prototype, name) ? "value" : "get");
  }
  wrap(DatabaseHandle, "open", "value");
  return entered;
}

test("after a panic every call on every database rejects with ERR_INTERNAL and never enters the instance", async () => {
  const a = await openDatabase({ storage: "memory" });
  const b = await openDatabase({ storage: "memory" });
  await a.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v)");
  await a.enableSync("t");
  await a.exec("INSERT INTO t (v) VALUES ('before')");
  const bundle = await a.generateBundle();

  const first = await rejectsWith(a.betweenCalls(() => __panicForTest("a bug, raised on purpose")), "ERR_INTERNAL");
  assert.match(first.message, /the wasm module stopped: panicked at src\/wasm\/panic\.rs:\d+:\d+: a bug, raised on purpose\./);
  assert.equal(first.retryable, false);
  assert.ok(first.cause instanceof WebAssembly.RuntimeError, `the cause is the trap, got ${first.cause}`);

  const entered = countCallsIntoWasm();
  const later = [
    a.query("SELECT * FROM t"),
    a.exec("INSERT INTO t (v) VALUES ('after')"),
    a.transaction((tx) => tx.exec("INSERT INTO t (v) VALUES ('in a transaction')")),
    b.query("SELECT 1"),
    b.importBundle(bundle),
    b.conflicts(),
    openDatabase({ storage: "memory" }),
    a.close(),
  ];
  for (const call of later) {
    const error = await rejectsWith(call, "ERR_INTERNAL");
    assert.match(error.message, /a bug, raised on purpose/);
  }
  assert.deepEqual(entered, [], "nothing called into the stopped instance");
});
