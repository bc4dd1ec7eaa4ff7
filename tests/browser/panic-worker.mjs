// A user's own dedicated worker with an OPFS database in-process, for tests/browser/panic.test.mjs.
// On its first message it opens `data.name`, and then:
//   data.panic: writes a row, panics inside the wasm instance (the hidden `__panicForTest`, run
//     where every call into a handle runs), makes more calls and closes the database; posts the
//     `{ code, message }` of each outcome, the first being the panicking call's.
//   otherwise: posts the rows of `t`.

import { openDatabase } from "../../dist/load/web.js";
import { __panicForTest } from "../../dist/generated/sqlite_sync_wasm.js";

const outcome = (promise) =>
  promise.then(
    (value) => ({ ok: true, value }),
    (e) => ({ code: e.code, message: e.message }),
  );

onmessage = async ({ data }) => {
  try {
    const db = await openDatabase({ storage: "opfs", name: data.name });
    if (!data.panic) {
      postMessage({ rows: await db.query("SELECT v FROM t") });
      await db.close();
      return;
    }
    await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    await db.exec("INSERT INTO t (v) VALUES ('written before the panic')");
    const outcomes = [await outcome(db.betweenCalls(() => __panicForTest("a bug in the worker, raised on purpose")))];
    for (const call of [db.query("SELECT * FROM t"), db.exec("DELETE FROM t"), openDatabase({ storage: "memory" }), db.close()]) {
      outcomes.push(await outcome(call));
    }
    postMessage({ outcomes });
  } catch (e) {
    postMessage({ error: String(e) });
  }
};
