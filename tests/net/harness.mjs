// What the end-to-end network tests share: a real relay process started through the package's
// CLI on 127.0.0.1 (tests/relay/harness.mjs: `--port 0`, or a given port to restart on the same
// one, on a temporary SQLite file), tokens minted with the package's `createToken`, in-process
// databases opened with the package's `openDatabase({ storage: "memory" })`, and sync loops
// started with the package's `startSync` over its `HttpTransport` / `WebSocketTransport` (the `ws`
// package's class where the runtime has no global WebSocket). Everything goes through the built
// package (dist/), as a user's code would.

import assert from "node:assert/strict";
import { join } from "node:path";
import WebSocketPackage from "ws";
import { HttpTransport, openDatabase, startSync, WebSocketTransport } from "../../dist/load/node.js";
import { inspect, SECRET, startRelay, tempDir, token } from "../relay/harness.mjs";

export { SECRET, tempDir, token };

/** How many records the relay's file `db` holds for `space`. */
export async function spaceRecords(db, space) {
  const file = await inspect(db);
  try {
    return file.all("SELECT count(*) AS n FROM records WHERE space = ?", space)[0].n;
  } finally {
    file.close();
  }
}

/** The WebSocket classes to test with: the `ws` package's, and the runtime's own where it has one. */
export const WEBSOCKETS = [["ws package", WebSocketPackage], ...(typeof globalThis.WebSocket === "function" ? [["global", globalThis.WebSocket]] : [])];

/**
 * A relay process on a file of `dir` (a fresh temporary folder unless given). `port` 0 picks one;
 * `restart()` kills nothing and starts the relay again on the same file and port.
 */
export async function relay({ dir = tempDir(), port = 0, args = [] } = {}) {
  const db = join(dir.path, "relay.db");
  let current = await startRelay(db, { args: [...args, "--port", String(port)] });
  const url = current.url;
  const chosen = Number(new URL(url).port);
  return {
    dir,
    db,
    url,
    port: chosen,
    ws: url.replace(/^http/, "ws"),
    get pid() {
      return current.child.pid;
    },
    /** Kills the process with SIGKILL (no clean shutdown) and waits for it to exit. */
    kill: () => current.stop("SIGKILL"),
    /** Stops it with SIGTERM. */
    stop: () => current.stop(),
    /** Starts it again on the same file and port (after `kill` or `stop`). */
    restart: async () => {
      current = await startRelay(db, { args: [...args, "--port", String(chosen)] });
      return current.url;
    },
    /** Stops it and removes its folder (for `after`). */
    close: async () => {
      await current.stop("SIGKILL");
      dir.remove();
    },
  };
}

/** Every loop and database made here, for `cleanup()`. */
const opened = { loops: [], dbs: [] };

/** Stops every loop and closes every database made here so far (for `after`: nothing keeps the process alive). */
export async function cleanup() {
  await shutdown(opened.loops.splice(0), opened.dbs.splice(0));
}

/** Opens an in-process database with a synced table `todos (id TEXT PRIMARY KEY, title, by)`. */
export async function database() {
  const db = await openDatabase({ storage: "memory" });
  opened.dbs.push(db);
  await db.exec("CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT, by TEXT)");
  await db.enableSync("todos");
  return db;
}

/** A token function for `db` in `space` that counts its calls (`fn.calls`). */
export function tokens(space, db, { first } = {}) {
  const fn = async () => {
    fn.calls += 1;
    if (fn.calls === 1 && first !== undefined) return first;
    return token(space, db.deviceId);
  };
  fn.calls = 0;
  return fn;
}

/**
 * A transport to `server` (from `relay()`) for `db` in `space`: `kind` "http" or "websocket".
 * `token` defaults to a counting token function; `WebSocket` to the `ws` package's class.
 */
export function transport(kind, server, space, db, { token: source = tokens(space, db), WebSocket = WebSocketPackage, fetch, pingIntervalMs } = {}) {
  if (kind === "http") return new HttpTransport({ url: server.url, space, token: source, ...(fetch ? { fetch } : {}) });
  return new WebSocketTransport({ url: server.ws, space, token: source, WebSocket, ...(pingIntervalMs ? { pingIntervalMs } : {}) });
}

/**
 * Starts a loop and records what it says: `statuses` (every status event; `times`: when), `progress` (every
 * progress event). Stop it with `sync.stop()`.
 */
export function sync(db, options) {
  const loop = startSync(db, options);
  opened.loops.push(loop);
  const statuses = [];
  const times = [];
  const progress = [];
  loop.on("status", (s) => {
    statuses.push(s);
    times.push(Date.now());
  });
  loop.on("progress", (p) => progress.push(p));
  return { loop, statuses, times, progress };
}

/** Resolves once `check()` returns a truthy value (polled every `everyMs`), or rejects after `timeoutMs`. */
export async function until(check, { timeoutMs = 10_000, everyMs = 20, what = "the condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The rows of `todos`, ordered. */
export const rows = (db) => db.query("SELECT id, title, by FROM todos ORDER BY id");

/** How many rows `todos` holds. */
export const count = async (db) => (await db.query("SELECT count(*) AS n FROM todos"))[0].n;

/** Inserts `n` rows `${prefix}-${i}`, each its own commit (n change records). */
export async function insertMany(db, prefix, n, title = "x".repeat(40)) {
  for (let i = 0; i < n; i++) await db.exec("INSERT INTO todos (id, title, by) VALUES (?, ?, ?)", [`${prefix}-${String(i).padStart(5, "0")}`, title, prefix]);
}

/** A `fetch` that counts its calls (`fn.calls`) and records when each began (`fn.times`). */
export function countingFetch() {
  const fn = (...args) => {
    fn.calls += 1;
    fn.times.push(Date.now());
    return fetch(...args);
  };
  fn.calls = 0;
  fn.times = [];
  return fn;
}

/** Stops every loop and closes every database given (for `after` / `finally`), ignoring failures. */
export async function shutdown(loops, dbs) {
  await Promise.allSettled(loops.map((l) => (l.loop ?? l).stop()));
  await Promise.allSettled(dbs.map((db) => db.close()));
}

/** A device that commits `n` rows (n commits) and pushes them to `space` in one round; its loop then only syncs when asked. */
export async function writer(server, space, n, kind = "http") {
  const a = await database();
  const sa = sync(a, { transport: transport(kind, server, space, a), intervalMs: 0, debounceMs: 60_000 });
  await sa.loop.syncNow();
  await insertMany(a, "a", n, "a title long enough to make the pages weigh something ".repeat(2));
  const pushed = await sa.loop.syncNow();
  assert.equal(pushed.sent, n);
  assert.equal(sa.loop.status.pending, 0);
  return { a, sa };
}
