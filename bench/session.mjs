// The baseline of the sync figures: SQLite's own session extension, in the official SQLite wasm
// build (`@sqlite.org/sqlite-wasm`, a devDependency) loaded into the same Node process (for the
// cold figure, a fresh one: first-sync.mjs).
//
// One run: a table like ours, a session attached to it, the rows inserted in one transaction, by
// `FILL` or (`oneByOne`, the cold figure's local writes) by that many single-row INSERTs of a
// prepared statement with 30-character titles (`title30`) and millisecond timestamps, not timed;
// then the timed part: `sqlite3session_changeset`, the changeset copied out of wasm memory
// into a JS `Uint8Array` (what would go over the wire, as our `generateBundle` returns), then
// copied into a fresh empty database's wasm memory and applied with `sqlite3changeset_apply`. Both
// databases are checked to hold the same rows afterwards.

import sqlite3InitModule from "@sqlite.org/sqlite-wasm";
import { CHECKSUM, stringify } from "./sync.mjs";
import { collectGarbage, FILL, INSERT, NOW, SCHEMA, title30 } from "./workloads.mjs";

/** The loaded SQLite wasm module, once. */
let sqlite3;

function check(capi, rc, what) {
  if (rc !== capi.SQLITE_OK) throw new Error(`session baseline: ${what} failed: ${capi.sqlite3_js_rc_str(rc)}`);
}

/** The checksum row as plain numbers, comparable with our side's. */
function checksum(db) {
  const [row] = db.selectObjects(CHECKSUM);
  return stringify(row);
}

/**
 * Runs the session-extension round trip once with `rows` rows; returns the timed milliseconds (in
 * all, and split into making the changeset and applying it) and the changeset's size in bytes.
 * Throws if the target does not end with the source's rows.
 */
export async function sessionRoundTrip(rows, { oneByOne = false } = {}) {
  sqlite3 ??= await sqlite3InitModule();
  const { capi, wasm, oo1 } = sqlite3;
  const source = new oo1.DB(":memory:", "c");
  const target = new oo1.DB(":memory:", "c");
  const stack = wasm.pstack.pointer;
  let session = 0;
  try {
    source.exec(SCHEMA);
    target.exec(SCHEMA);
    const ppSession = wasm.pstack.allocPtr();
    check(capi, capi.sqlite3session_create(source.pointer, "main", ppSession), "sqlite3session_create");
    session = wasm.peekPtr(ppSession);
    check(capi, capi.sqlite3session_attach(session, "todos"), "sqlite3session_attach");
    source.transaction(() => {
      if (!oneByOne) {
        source.exec({ sql: FILL, bind: [rows] });
        return;
      }
      const insert = source.prepare(INSERT);
      try {
        for (let i = 1; i <= rows; i++) insert.bind([i, title30(i), 0, NOW + i]).stepReset();
      } finally {
        insert.finalize();
      }
    });
    const pnChangeset = wasm.pstack.allocPtr();
    const ppChangeset = wasm.pstack.allocPtr();
    let conflicts = 0;
    const onConflict = () => {
      conflicts++;
      return capi.SQLITE_CHANGESET_OMIT;
    };
    collectGarbage();

    const start = performance.now();
    check(capi, capi.sqlite3session_changeset(session, pnChangeset, ppChangeset), "sqlite3session_changeset");
    const size = wasm.peek32(pnChangeset);
    const out = wasm.peekPtr(ppChangeset);
    const changeset = wasm.heap8u().slice(Number(out), Number(out) + size);
    capi.sqlite3_free(out);
    const generated = performance.now();
    const into = wasm.alloc(changeset.length);
    try {
      wasm.heap8u().set(changeset, Number(into));
      check(capi, capi.sqlite3changeset_apply(target.pointer, size, into, 0, onConflict, 0), "sqlite3changeset_apply");
    } finally {
      wasm.dealloc(into);
    }
    const ms = performance.now() - start;

    const count = target.selectValue("SELECT count(*) FROM todos");
    if (count !== rows || conflicts !== 0 || checksum(target) !== checksum(source)) {
      const found = `${count} rows (${conflicts} conflicts)`;
      throw new Error(`session baseline: target has ${found}, expected the source's ${rows} rows`);
    }
    return { ms, changesetMs: generated - start, applyMs: ms - (generated - start), bytes: size };
  } finally {
    if (session) capi.sqlite3session_delete(session);
    wasm.pstack.restore(stack);
    source.close();
    target.close();
  }
}
