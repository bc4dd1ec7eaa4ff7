// transaction(): commit, rollback, the tx object, calls on the database queued behind it, and calls
// on the database from inside the callback (refused at once instead of waiting forever).

import assert from "node:assert/strict";
import { test } from "node:test";
import { openDatabase } from "sqlite-sync-wasm";
import { deferred, rejectsWith } from "./helpers.mjs";

async function synced() {
  const db = await openDatabase();
  await db.exec("CREATE TABLE items (id INTEGER PRIMARY KEY, v)");
  await db.enableSync("items");
  return db;
}

test("a transaction commits when its callback resolves and returns its value", async () => {
  const db = await synced();
  const value = await db.transaction(async (tx) => {
    await tx.exec("INSERT INTO items (v) VALUES (?)", ["a"]);
    const result = await tx.exec("INSERT INTO items (v) VALUES (?)", ["b"]);
    const rows = await tx.query("SELECT count(*) AS n FROM items");
    return { result, rows };
  });
  assert.deepEqual(value, { result: { changes: 1, lastInsertRowid: 2 }, rows: [{ n: 2 }] });
  assert.deepEqual(await db.query("SELECT v FROM items ORDER BY id"), [{ v: "a" }, { v: "b" }]);
  const log = await db.changeLog();
  assert.equal(log.length, 1, "one committed transaction is one change record");
  assert.equal(log[0].changes.length, 2);
  await db.close();
});

test("a synchronous callback works too", async () => {
  const db = await synced();
  assert.equal(await db.transaction(() => 7), 7);
  await db.close();
});

test("a throwing callback rolls back, leaves no change record, and rethrows the same error", async () => {
  const db = await synced();
  const boom = new Error("boom");
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.exec("INSERT INTO items (v) VALUES ('gone')");
      throw boom;
    }),
    (e) => e === boom,
  );
  assert.deepEqual(await db.query("SELECT * FROM items"), []);
  assert.deepEqual(await db.changeLog(), []);
  assert.deepEqual(await db.vectorClock(), {});

  await db.transaction((tx) => tx.exec("INSERT INTO items (v) VALUES ('kept')"));
  assert.equal((await db.changeLog()).length, 1);
  await db.close();
});

test("an SQL error inside the callback can be caught; uncaught, it rolls back", async () => {
  const db = await synced();
  await db.transaction(async (tx) => {
    await tx.exec("INSERT INTO items (id, v) VALUES (1, 'x')");
    await rejectsWith(tx.exec("INSERT INTO items (id, v) VALUES (1, 'dup')"), "ERR_SQL");
  });
  assert.deepEqual(await db.query("SELECT v FROM items"), [{ v: "x" }]);
  await rejectsWith(
    db.transaction(async (tx) => {
      await tx.exec("INSERT INTO items (id, v) VALUES (2, 'y')");
      await tx.exec("INSERT INTO nowhere VALUES (1)");
    }),
    "ERR_SQL",
  );
  assert.deepEqual(await db.query("SELECT v FROM items"), [{ v: "x" }]);
  await db.close();
});

test("calls on db wait until an open transaction ends, and keep their order", async () => {
  const db = await synced();
  const hold = deferred();
  const order = [];
  const txDone = db.transaction(async (tx) => {
    await tx.exec("INSERT INTO items (id, v) VALUES (1, 'tx')");
    await hold.promise;
    order.push("commit");
  });
  const write = db.exec("INSERT INTO items (id, v) VALUES (2, 'outside')").then(() => order.push("write"));
  const read = db.query("SELECT id FROM items ORDER BY id").then((rows) => {
    order.push("read");
    return rows;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(order, [], "nothing ran while the transaction was open");
  hold.resolve();
  await Promise.all([txDone, write]);
  assert.deepEqual(await read, [{ id: 1 }, { id: 2 }]);
  assert.deepEqual(order, ["commit", "write", "read"]);
  const log = await db.changeLog();
  assert.equal(log.length, 2, "the queued write was its own transaction");
  await db.close();
});

/** Asserts that `error` is the refusal of a call on db made inside its transaction callback. */
function isRefusal(error, method) {
  assert.equal(error?.code, "ERR_INVALID_ARGUMENT", error?.message);
  assert.match(error.message, new RegExp(`db\\.${method}\\(\\).*inside the callback of db\\.transaction\\(\\).*use the callback's tx`));
  return true;
}

test("a call on db awaited in the callback's synchronous part rejects at once and rolls back", async () => {
  const db = await synced();
  await db.exec("INSERT INTO items (id, v) VALUES (1, 'before')");
  await assert.rejects(
    db.transaction(async () => {
      await db.exec("INSERT INTO items (id, v) VALUES (2, 'inside')");
    }),
    (e) => isRefusal(e, "exec"),
  );
  // A synchronous callback: the promise it returns is the refused call.
  await assert.rejects(
    db.transaction(() => db.query("SELECT 1")),
    (e) => isRefusal(e, "query"),
  );
  for (const [method, call] of [
    ["transaction", () => db.transaction(() => 1)],
    ["enableSync", () => db.enableSync("items")],
    ["generateBundle", () => db.generateBundle()],
    ["conflicts", () => db.conflicts()],
    ["pendingChanges", () => db.pendingChanges()],
    ["discardPendingChanges", () => db.discardPendingChanges()],
    ["setConflictResolver", () => db.setConflictResolver("items", null)],
    ["close", () => db.close()],
  ]) {
    await assert.rejects(db.transaction(async () => call()), (e) => isRefusal(e, method));
  }
  assert.deepEqual(await db.query("SELECT v FROM items"), [{ v: "before" }]);
  assert.equal((await db.changeLog()).length, 1);
  await db.close();
});

test("a call on db right after awaiting tx.exec or tx.query rejects, and the transaction rolls back", async () => {
  const db = await synced();
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.exec("INSERT INTO items (id, v) VALUES (1, 'inside')");
      await db.query("SELECT * FROM items");
    }),
    (e) => isRefusal(e, "query"),
  );
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.exec("INSERT INTO items (id, v) VALUES (1, 'inside')");
      const [{ n }] = await tx.query("SELECT count(*) AS n FROM items");
      await db.exec("INSERT INTO items (id, v) VALUES (?, 'again')", [n + 1]);
    }),
    (e) => isRefusal(e, "exec"),
  );
  // After a tx statement that failed, in the catch block.
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.exec("INSERT INTO items (id, v) VALUES (1, 'inside')");
      try {
        await tx.exec("INSERT INTO nowhere VALUES (1)");
      } catch {
        await db.exec("INSERT INTO items (id, v) VALUES (2, 'fallback')");
      }
    }),
    (e) => isRefusal(e, "exec"),
  );
  assert.deepEqual(await db.query("SELECT * FROM items"), []);
  assert.deepEqual(await db.changeLog(), []);
  await db.close();
});

test("a caught refusal leaves the transaction usable; it commits what tx wrote", async () => {
  const db = await synced();
  const value = await db.transaction(async (tx) => {
    await tx.exec("INSERT INTO items (id, v) VALUES (1, 'a')");
    const refused = await db.exec("INSERT INTO items (id, v) VALUES (2, 'b')").catch((e) => e);
    isRefusal(refused, "exec");
    await tx.exec("INSERT INTO items (id, v) VALUES (3, 'c')");
    return "done";
  });
  assert.equal(value, "done");
  assert.deepEqual(await db.query("SELECT id FROM items ORDER BY id"), [{ id: 1 }, { id: 3 }]);
  // Right after the transaction, calls run as usual.
  await db.transaction((tx) => tx.exec("INSERT INTO items (id, v) VALUES (4, 'd')"));
  assert.equal((await db.exec("INSERT INTO items (id, v) VALUES (5, 'e')")).changes, 1);
  await db.close();
});

test("calls from elsewhere in the app, interleaved with the callback's steps, wait and succeed", async () => {
  const db = await synced();
  const txDone = db.transaction(async (tx) => {
    for (let i = 1; i <= 20; i++) {
      await tx.exec("INSERT INTO items (id, v) VALUES (?, 'tx')", [i]);
      await tx.query("SELECT count(*) AS n FROM items");
    }
    return "committed";
  });
  // Another flow of the app, one microtask hop at a time while the callback runs its statements:
  // none of its calls is made from inside the callback, so each waits for the commit.
  const flow = (async () => {
    const calls = [];
    for (let hop = 0; hop < 200; hop++) {
      await null;
      if (hop % 7 === 0) calls.push(db.query("SELECT count(*) AS n FROM items"));
      if (hop % 50 === 3) calls.push(db.exec("INSERT INTO items (id, v) VALUES (?, 'outside')", [100 + hop]));
    }
    return Promise.all(calls);
  })();
  // And one flow that waits for the transaction in a macrotask.
  const later = new Promise((resolve) => setTimeout(resolve, 0)).then(() => db.query("SELECT count(*) AS n FROM items"));
  assert.equal(await txDone, "committed");
  const results = await flow;
  assert.equal(results.length, 29 + 4);
  for (const result of results) {
    if (Array.isArray(result)) assert.ok(result[0].n >= 20, "a read ran after the commit");
    else assert.equal(result.changes, 1);
  }
  assert.ok((await later)[0].n >= 20);
  assert.deepEqual(await db.query("SELECT count(*) AS n FROM items"), [{ n: 24 }]);
  await db.close();
});

test("a write queued behind a transaction that rolls back is kept", async () => {
  const db = await synced();
  const hold = deferred();
  const txDone = db.transaction(async (tx) => {
    await tx.exec("INSERT INTO items (id, v) VALUES (1, 'tx')");
    await hold.promise;
    throw new Error("abort");
  });
  const write = db.exec("INSERT INTO items (id, v) VALUES (2, 'outside')");
  hold.resolve();
  await assert.rejects(txDone, /abort/);
  await write;
  assert.deepEqual(await db.query("SELECT id FROM items"), [{ id: 2 }]);
  await db.close();
});

test("transactions run one after another", async () => {
  const db = await synced();
  const results = await Promise.all(
    [1, 2, 3].map((i) =>
      db.transaction(async (tx) => {
        await tx.exec("INSERT INTO items (id, v) VALUES (?, ?)", [i, i]);
        await new Promise((r) => setTimeout(r, 5));
        return (await tx.query("SELECT count(*) AS n FROM items"))[0].n;
      }),
    ),
  );
  assert.deepEqual(results, [1, 2, 3]);
  await db.close();
});

test("transaction needs a callback", async () => {
  const db = await synced();
  await rejectsWith(db.transaction(), "ERR_INVALID_ARGUMENT");
  await db.close();
});

test("tx cannot be used after its transaction ended", async () => {
  const db = await synced();
  let leaked;
  await db.transaction((tx) => {
    leaked = tx;
  });
  await rejectsWith(leaked.exec("INSERT INTO items (v) VALUES (1)"), "ERR_CLOSED");
  await rejectsWith(leaked.query("SELECT 1"), "ERR_CLOSED");
  await db.close();
});

test("close() waits for the open transaction; calls made after close() reject with ERR_CLOSED", async () => {
  const db = await synced();
  const hold = deferred();
  const txDone = db.transaction(async (tx) => {
    await hold.promise;
    await tx.exec("INSERT INTO items (v) VALUES ('late but inside')");
    return "committed";
  });
  const before = db.exec("INSERT INTO items (v) VALUES ('queued before close')");
  const closed = db.close();
  const after = db.exec("INSERT INTO items (v) VALUES ('after close')");
  const afterTx = db.transaction(() => "never");
  await rejectsWith(after, "ERR_CLOSED");
  await rejectsWith(afterTx, "ERR_CLOSED");
  hold.resolve();
  assert.equal(await txDone, "committed");
  assert.equal((await before).changes, 1);
  await closed;
  await rejectsWith(db.query("SELECT 1"), "ERR_CLOSED");
});
