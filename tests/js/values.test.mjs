// Values, parameters and result shapes of exec/query through the packaged API (Node loader).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { rejectsWith, scratch } from "./helpers.mjs";

let db;
before(async () => {
  db = await scratch();
});
after(() => db.close());

/** Stores `value` and reads it back with SQLite's own idea of its type. */
async function roundTrip(value) {
  await db.exec("DELETE FROM items");
  await db.exec("INSERT INTO items (id, v) VALUES (1, ?)", [value]);
  const [row] = await db.query("SELECT v, typeof(v) AS type FROM items WHERE id = 1");
  return row;
}

describe("values round trip exactly", () => {
  const cases = [
    ["zero", 0, 0, "integer"],
    ["a negative integer", -42, -42, "integer"],
    ["the largest safe integer", Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, "integer"],
    ["the smallest safe integer", Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, "integer"],
    ["2^53 as bigint", 2n ** 53n, 2n ** 53n, "integer"],
    ["i64 max", 2n ** 63n - 1n, 2n ** 63n - 1n, "integer"],
    ["i64 min", -(2n ** 63n), -(2n ** 63n), "integer"],
    ["a small bigint, read back as number", 7n, 7, "integer"],
    ["a fraction", 0.1 + 0.2, 0.1 + 0.2, "real"],
    ["a negative real", -2.5, -2.5, "real"],
    ["a huge real", 1.7976931348623157e308, 1.7976931348623157e308, "real"],
    ["the smallest positive real", Number.MIN_VALUE, Number.MIN_VALUE, "real"],
    ["an unsafe integral number, stored as REAL", 2 ** 60, 2 ** 60, "real"],
    ["the empty string", "", "", "text"],
    ["Unicode text", "héllo wörld ✓ 日本語", "héllo wörld ✓ 日本語", "text"],
    ["emoji (astral plane)", "🌍👩‍👩‍👧‍👦", "🌍👩‍👩‍👧‍👦", "text"],
    ["text with NUL inside", "a\0b\0", "a\0b\0", "text"],
    ["null", null, null, "null"],
    ["undefined, as NULL", undefined, null, "null"],
    ["true, as 1", true, 1, "integer"],
    ["false, as 0", false, 0, "integer"],
  ];
  for (const [name, input, expected, type] of cases) {
    test(name, async () => {
      const row = await roundTrip(input);
      assert.equal(row.type, type);
      assert.equal(row.v, expected);
    });
  }

  test("long text", async () => {
    const text = "xyz🌍".repeat(50_000);
    assert.equal((await roundTrip(text)).v, text);
  });

  test("blobs, including an empty one", async () => {
    for (const bytes of [new Uint8Array([]), new Uint8Array([0, 255, 7, 0]), new Uint8Array(70_000).fill(9)]) {
      const row = await roundTrip(bytes);
      assert.equal(row.type, "blob");
      assert.ok(row.v instanceof Uint8Array);
      assert.deepEqual(row.v, bytes);
    }
  });

  test("a Uint8Array view stores only its own bytes", async () => {
    const view = new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 3);
    assert.deepEqual((await roundTrip(view)).v, new Uint8Array([2, 3]));
  });

  test("a returned blob is a copy, not a view into wasm memory", async () => {
    const first = (await roundTrip(new Uint8Array([1, 2, 3]))).v;
    await roundTrip(new Uint8Array(1_000_000));
    assert.deepEqual(first, new Uint8Array([1, 2, 3]));
  });

  test("integer arithmetic beyond 2^53 stays exact", async () => {
    const [row] = await db.query("SELECT ? + 1 AS n", [2n ** 62n]);
    assert.equal(row.n, 2n ** 62n + 1n);
  });
});

describe("unsupported values are rejected", () => {
  for (const [name, value] of [
    ["a plain object", { a: 1 }],
    ["a Date", new Date(0)],
    ["a symbol", Symbol("s")],
    ["a bigint beyond 64 bits", 2n ** 64n],
  ]) {
    test(name, async () => {
      await rejectsWith(db.exec("INSERT INTO items (v) VALUES (?)", [value]), "ERR_INVALID_ARGUMENT");
    });
  }
});

describe("parameters", () => {
  test("positional ? in order", async () => {
    const [row] = await db.query("SELECT ? AS a, ? AS b, ? AS c", [1, "two", null]);
    assert.deepEqual(row, { a: 1, b: "two", c: null });
  });

  test("named :name, @name and $name from an object without prefixes", async () => {
    const [row] = await db.query("SELECT :a AS a, @b AS b, $c AS c, :a AS again", { a: 1, b: "x", c: 2.5 });
    assert.deepEqual(row, { a: 1, b: "x", c: 2.5, again: 1 });
  });

  test("a missing named parameter is an error", async () => {
    await rejectsWith(db.query("SELECT :a, :b", { a: 1 }), "ERR_INVALID_ARGUMENT");
  });

  test("too few or too many positional values are errors", async () => {
    await rejectsWith(db.query("SELECT ?, ?", [1]), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.query("SELECT ?", [1, 2]), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.query("SELECT ?"), "ERR_INVALID_ARGUMENT");
  });

  test("params that are neither array nor object are errors", async () => {
    await rejectsWith(db.query("SELECT ?", 5), "ERR_INVALID_ARGUMENT");
  });

  test("sql must be a string", async () => {
    await rejectsWith(db.exec(42), "ERR_INVALID_ARGUMENT");
    await rejectsWith(db.query(undefined), "ERR_INVALID_ARGUMENT");
  });
});

describe("exec", () => {
  test("reports changes and lastInsertRowid, and nothing else", async () => {
    await db.exec("DELETE FROM items");
    const inserted = await db.exec("INSERT INTO items (id, v) VALUES (10, 'a'), (11, 'b')");
    assert.deepEqual(inserted, { changes: 2, lastInsertRowid: 11 });
    assert.equal((await db.exec("UPDATE items SET v = 'c'")).changes, 2);
    assert.equal((await db.exec("DELETE FROM items WHERE id = 10")).changes, 1);
    assert.equal((await db.exec("CREATE TABLE IF NOT EXISTS other (x)")).changes, 0);
  });

  test("runs several statements, consuming positional values in order", async () => {
    await db.exec("DELETE FROM items");
    const result = await db.exec(
      "INSERT INTO items (id, v) VALUES (?, ?); INSERT INTO items (id, v) VALUES (?, ?);",
      [1, "one", 2, "two"],
    );
    assert.deepEqual(result, { changes: 2, lastInsertRowid: 2 });
    assert.deepEqual(await db.query("SELECT id, v FROM items ORDER BY id"), [
      { id: 1, v: "one" },
      { id: 2, v: "two" },
    ]);
  });

  test("invalid SQL is ERR_SQL with SQLite's message, and changes nothing", async () => {
    await db.exec("DELETE FROM items");
    const error = await rejectsWith(db.exec("INSERT INTO items (id, v) VALUES (1, 'x') oops"), "ERR_SQL");
    assert.match(error.message, /syntax error/);
    assert.equal(error.retryable, false);
    assert.deepEqual(await db.query("SELECT count(*) AS n FROM items"), [{ n: 0 }]);
  });

  test("a multi-statement exec is all or nothing", async () => {
    await db.exec("DELETE FROM items");
    const error = await rejectsWith(
      db.exec("INSERT INTO items (id, v) VALUES (1, 'x'); INSERT INTO missing VALUES (1)"),
      "ERR_SQL",
    );
    assert.match(error.message, /no such table: missing/);
    assert.deepEqual(await db.query("SELECT count(*) AS n FROM items"), [{ n: 0 }]);
  });
});

describe("query", () => {
  test("rows are plain objects keyed by column name, in column order", async () => {
    await db.exec("DELETE FROM items");
    await db.exec("INSERT INTO items (id, v) VALUES (1, 'a'), (2, NULL)");
    const rows = await db.query("SELECT v AS value, id FROM items ORDER BY id");
    assert.deepEqual(rows, [
      { value: "a", id: 1 },
      { value: null, id: 2 },
    ]);
    assert.ok(Array.isArray(rows));
    assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype);
    assert.deepEqual(Object.keys(rows[0]), ["value", "id"]);
  });

  test("no rows is an empty array", async () => {
    assert.deepEqual(await db.query("SELECT * FROM items WHERE id < 0"), []);
  });
});
