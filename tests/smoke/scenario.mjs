// The scenario every runtime smoke test runs against the built package: open a database, enable
// sync, write, read back, and check that the change was captured. Runtime-neutral (no Node APIs),
// so Deno, workerd and a Chromium worker import this same file.

function check(condition, what) {
  if (!condition) throw new Error(`smoke check failed: ${what}`);
}

/**
 * Runs the scenario with a loaded package module (`{ openDatabase, SyncError }`).
 * @returns {Promise<string>} a one-line summary; throws on the first failed check
 */
export async function scenario({ openDatabase, SyncError }) {
  const db = await openDatabase({ storage: "memory" });
  try {
    check(/^[0-9a-f]{32}$/.test(db.deviceId), `deviceId ${db.deviceId}`);
    await db.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT, big INTEGER, data BLOB)");
    await db.enableSync("todos");
    const result = await db.exec("INSERT INTO todos (title, big, data) VALUES (:title, :big, :data)", {
      title: "smoke 🌍",
      big: 2n ** 60n,
      data: new Uint8Array([0, 1, 255]),
    });
    check(result.changes === 1 && result.lastInsertRowid === 1, `exec result ${JSON.stringify(result)}`);

    const [row] = await db.query("SELECT id, title, big, data FROM todos");
    check(row.id === 1 && row.title === "smoke 🌍", `row ${JSON.stringify(row, (_, v) => String(v))}`);
    check(row.big === 2n ** 60n, `bigint read back as ${typeof row.big} ${row.big}`);
    check(row.data instanceof Uint8Array && row.data.join() === "0,1,255", `blob ${row.data}`);

    const log = await db.changeLog();
    const change = log[0]?.changes[0];
    check(log.length === 1 && change?.op === "insert" && change.table === "todos", "changeLog has the insert");
    check(change.primaryKey.id === 1 && change.columns.title.new === "smoke 🌍", "captured values");
    const clock = await db.vectorClock();
    check(clock[db.deviceId] === 1, `vectorClock ${JSON.stringify(clock)}`);

    const error = await db.query("SELEC 1").catch((e) => e);
    check(error instanceof SyncError && error.code === "ERR_SQL", `SyncError for bad SQL: ${error}`);
    return `deviceId ${db.deviceId}, 1 row, ${log.length} change record, errors coded`;
  } finally {
    await db.close();
  }
}
