// Demo logic: opens an in-memory database, creates and syncs a `todos` table, and renders the
// rows and the captured change log after every write.

import { openDatabase } from "sqlite-sync-wasm";

const $ = (id) => document.getElementById(id);

/** Compact JSON for display: bigints as `123n`, bytes as arrays. */
function show(value) {
  return JSON.stringify(value, (_, v) =>
    typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
  );
}

/** One line per captured row change, newest record first. */
function describeLog(log) {
  return [...log]
    .reverse()
    .flatMap((record) =>
      record.changes.map((change) => {
        const time = new Date(record.committedAt).toLocaleTimeString();
        const columns = Object.entries(change.columns).map(([name, column]) => {
          const before = "old" in column ? show(column.old) : "";
          const after = "new" in column ? show(column.new) : "";
          return `${name}: ${before}${before && after ? " → " : ""}${after}`;
        });
        const key = show(change.primaryKey);
        return `#${record.seq} ${time}  ${change.op} ${change.table} ${key}  ${columns.join(", ")}`;
      }),
    )
    .join("\n");
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(label, onClick) {
  const td = document.createElement("td");
  const b = document.createElement("button");
  b.textContent = label;
  b.addEventListener("click", onClick);
  td.append(b);
  return td;
}

async function render(db) {
  const rows = await db.query("SELECT id, title, done FROM todos ORDER BY id");
  $("todos").replaceChildren(
    ...rows.map((todo) => {
      const tr = document.createElement("tr");
      tr.append(
        cell(String(todo.id)),
        cell(todo.title, todo.done ? "done" : ""),
        button(todo.done ? "undo" : "done", () =>
          write(db, "UPDATE todos SET done = NOT done WHERE id = ?", [todo.id]),
        ),
        button("delete", () => write(db, "DELETE FROM todos WHERE id = ?", [todo.id])),
      );
      return tr;
    }),
  );
  $("log").textContent = describeLog(await db.changeLog()) || "(no changes yet)";
  $("status").textContent = `device ${db.deviceId} · vector clock ${show(await db.vectorClock())}`;
}

async function write(db, sql, params) {
  try {
    await db.exec(sql, params);
    await render(db);
  } catch (e) {
    fail(e);
  }
}

function fail(e) {
  $("status").textContent = `${e.code ?? e.name}: ${e.message}`;
  $("status").className = "error";
}

try {
  const db = await openDatabase({ storage: "memory" });
  await db.exec("CREATE TABLE todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)");
  await db.enableSync("todos");
  $("add").addEventListener("submit", (event) => {
    event.preventDefault();
    const title = $("title").value.trim();
    $("title").value = "";
    if (title) write(db, "INSERT INTO todos (title) VALUES (?)", [title]);
  });
  await render(db);
} catch (e) {
  fail(e);
}
