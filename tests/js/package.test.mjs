// Packaging: `npm pack` the built package, install the tarball into a temporary project, and use it
// from Node ESM exactly as a user would.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

let dir;
let packed;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "sqlite-sync-wasm-pack-"));
  [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", dir], root));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the tarball holds dist/ and package.json, and nothing else", () => {
  const paths = packed.files.map((f) => f.path).sort();
  for (const needed of [
    "package.json",
    "dist/index.d.ts",
    "dist/load/node.js",
    "dist/load/web.js",
    "dist/load/workerd.js",
    "dist/generated/sqlite_sync_wasm.js",
    "dist/generated/sqlite_sync_wasm_bg.wasm",
  ]) {
    assert.ok(paths.includes(needed), `missing ${needed}`);
  }
  const stray = paths.filter((p) => p !== "package.json" && !p.startsWith("dist/") && !/^(README|LICENSE)/i.test(p));
  assert.deepEqual(stray, []);
});

/** A project in the temporary folder with the packed tarball installed; returns its folder. */
function installInto(name, type) {
  const app = join(dir, name);
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name, private: true, type }));
  npm(["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, packed.filename)], app);
  return app;
}

test("the installed tarball works from Node ESM", () => {
  const app = installInto("app", "module");
  writeFileSync(
    join(app, "main.js"),
    `import { openDatabase, SyncError } from "sqlite-sync-wasm";
const db = await openDatabase();
await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
await db.enableSync("t");
await db.exec("INSERT INTO t (v) VALUES (?)", ["packed"]);
const rows = await db.query("SELECT v FROM t");
const log = await db.changeLog();
const error = await db.query("nope").catch((e) => e);
await db.close();
console.log(JSON.stringify({ rows, records: log.length, isSyncError: error instanceof SyncError, code: error.code }));
`,
  );
  const out = execFileSync(process.execPath, ["main.js"], { cwd: app, encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), { rows: [{ v: "packed" }], records: 1, isSyncError: true, code: "ERR_SQL" });
});

// require() of an ES module: Node 20.19+, 22.12+ and 24 (process.features.require_module). The
// package keeps top-level await out of its Node entry so that this works.
test("the installed tarball works from require()", { skip: !process.features.require_module && "no require(esm) in this Node" }, () => {
  const app = installInto("cjs-app", "commonjs");
  writeFileSync(
    join(app, "main.js"),
    `const { openDatabase, SyncError } = require("sqlite-sync-wasm");
(async () => {
  const db = await openDatabase();
  await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  await db.enableSync("t");
  await db.exec("INSERT INTO t (v) VALUES (?)", ["required"]);
  const rows = await db.query("SELECT v FROM t");
  const error = await db.query("nope").catch((e) => e);
  await db.close();
  console.log(JSON.stringify({ rows, isSyncError: error instanceof SyncError, code: error.code }));
})();
`,
  );
  const out = execFileSync(process.execPath, ["main.js"], { cwd: app, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.deepEqual(JSON.parse(out), { rows: [{ v: "required" }], isSyncError: true, code: "ERR_SQL" });
});

test("the installed tarball has the relay: its entries, and the sqlite-sync-wasm command", () => {
  const app = installInto("relay-app", "module");
  const secret = "package-test-secret-0123456789abcdef-0123";
  const env = { ...process.env, SQLITE_SYNC_SECRET: secret };
  const device = "ab".repeat(16);
  const bin = join(app, "node_modules", ".bin", "sqlite-sync-wasm");
  const jwt = execFileSync(bin, ["token", "--space", "s", "--device", device], { cwd: app, env, encoding: "utf8" }).trim();
  writeFileSync(
    join(app, "main.js"),
    `import { createRelay, createMemoryStore, encodeMessage, decodeMessage } from "sqlite-sync-wasm/relay";
import { openSqliteStore, serve } from "sqlite-sync-wasm/relay/node";
const relay = createRelay({ secret: process.env.SQLITE_SYNC_SECRET, store: createMemoryStore() });
const hello = encodeMessage({ kind: "Hello", device: "${device}", space: "s", clock: [] });
const response = await relay.fetch(new Request("http://relay/v1/sync", { method: "POST", body: hello, headers: { authorization: "Bearer ${jwt}" } }));
const welcome = decodeMessage(new Uint8Array(await response.arrayBuffer()));
console.log(JSON.stringify({ status: response.status, kind: welcome.kind, node: typeof openSqliteStore + typeof serve }));
`,
  );
  const out = execFileSync(process.execPath, ["main.js"], { cwd: app, env, encoding: "utf8" });
  assert.deepEqual(JSON.parse(out), { status: 200, kind: "Welcome", node: "functionfunction" });
});
