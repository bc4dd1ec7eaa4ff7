// What the relay tests share: a real relay process started through the package's CLI on
// 127.0.0.1 with a temporary SQLite file (under the Node running the tests), canonical record
// bytes built here (the relay reads only their origin and seq), protocol messages through the
// relay's own codec, HTTP through fetch, WebSockets through the `ws` package, and the relay's file
// opened read-only to see what it stored.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { createToken, decodeMessage, encodeMessage } from "../../dist/relay/index.js";

export const CLI = fileURLToPath(new URL("../../dist/relay/node/cli.js", import.meta.url));
export const SECRET = "relay-tests-secret-0123456789abcdef-0123456789";

export const hex = (bytes) => Buffer.from(bytes).toString("hex");
export const unhex = (text) => new Uint8Array(Buffer.from(text, "hex"));
/** `ids[0x11]`: the id of 16 bytes 0x11, as hex. */
export const ids = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0").repeat(16));

function uint(n) {
  if (n <= 0x7f) return [n];
  if (n <= 0xff) return [0xcc, n];
  if (n <= 0xffff) return [0xcd, n >> 8, n & 0xff];
  if (n <= 0xffff_ffff) return [0xce, ...[24, 16, 8, 0].map((s) => (n >>> s) & 0xff)];
  const high = Math.floor(n / 2 ** 32);
  return [0xcf, ...[24, 16, 8, 0].map((s) => (high >>> s) & 0xff), ...[24, 16, 8, 0].map((s) => (n >>> s) & 0xff)];
}

/**
 * A record's canonical bytes `[origin, seq, hlc, clock {}, changes]` with `size` bytes of change
 * set filled with `fill` (the relay never looks past seq, so any bytes do).
 */
export function record(origin, seq, size = 4, fill = 7) {
  const originBytes = typeof origin === "number" ? new Array(16).fill(origin) : [...unhex(origin)];
  const changes = new Uint8Array(size).fill(fill);
  const header = size <= 0xff ? [0xc4, size] : size <= 0xffff ? [0xc5, size >> 8, size & 0xff] : [0xc6, ...[24, 16, 8, 0].map((s) => (size >>> s) & 0xff)];
  return Uint8Array.from([0x95, 0xc4, 0x10, ...originBytes, ...uint(seq), ...uint(seq), 0x80, ...header, ...changes]);
}

/** A fresh temporary folder, removed by `remove()`. */
export function tempDir() {
  const path = mkdtempSync(join(tmpdir(), "sqlite-sync-relay-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Starts `sqlite-sync-wasm relay --port 0 --db <db>` as a child process; resolves once it prints
 * its URL. `args` are more CLI arguments, `env` replaces the environment's secret.
 */
export function startRelay(db, { args = [], env = { SQLITE_SYNC_SECRET: SECRET }, timeoutMs = 20_000 } = {}) {
  const child = spawn(process.execPath, [CLI, "relay", "--port", "0", "--db", db, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the relay did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stdout.on("data", (d) => {
      stdout += d;
      const match = /relay listening on (http:\/\/\S+)\n/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({
          url: match[1],
          child,
          exited,
          stdout: () => stdout,
          stderr: () => stderr,
          /** Stops it with `signal` (default SIGTERM) and resolves with how it exited. */
          stop: async (signal = "SIGTERM") => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the relay exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
}

/** A token for `device` (hex) in `space`. */
export const token = (space, device, expiresIn = 3600, secret = SECRET) => createToken({ secret, space, deviceId: device, expiresIn });

/**
 * POSTs one message (bytes or a message value) to /v1/sync. Resolves with the status, headers and
 * either the decoded answer (`message`) or the JSON refusal (`error`).
 */
export async function post(url, body, bearer, headers = {}) {
  const bytes = body instanceof Uint8Array ? body : encodeMessage(body);
  const response = await fetch(`${url}/v1/sync`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers },
    body: bytes,
    signal: AbortSignal.timeout(30_000),
  });
  const raw = new Uint8Array(await response.arrayBuffer());
  const type = response.headers.get("content-type");
  return {
    status: response.status,
    headers: response.headers,
    message: type === "application/octet-stream" ? decodeMessage(raw) : undefined,
    error: type === "application/json" ? JSON.parse(Buffer.from(raw).toString("utf8")).error : undefined,
  };
}

/** Asserts an HTTP refusal: its status and code. */
export function assertRefused(answer, status, code) {
  assert.equal(answer.status, status, JSON.stringify(answer.error));
  assert.equal(answer.error?.code, code);
  assert.equal(typeof answer.error.message, "string");
}

/**
 * Opens a WebSocket to the relay offering `sqlite-sync.v1` and the token. Resolves once open (or
 * refused: `opened` false) with `send(message)`, `next()` (the next message, decoded), and `closed`
 * (resolves with the close code).
 */
export function connect(url, bearer, protocols = ["sqlite-sync.v1", ...(bearer ? [`bearer.${bearer}`] : [])]) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/sync`, protocols);
  const inbox = [];
  const waiting = [];
  ws.on("message", (data, isBinary) => {
    const item = isBinary ? decodeMessage(new Uint8Array(data)) : { text: String(data) };
    const waiter = waiting.shift();
    if (waiter) waiter(item);
    else inbox.push(item);
  });
  const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once("error", reject);
    ws.once("open", () =>
      resolve({
        ws,
        closed,
        send: (message) => ws.send(message instanceof Uint8Array ? message : encodeMessage(message)),
        next: (timeoutMs = 10_000) =>
          inbox.length > 0
            ? Promise.resolve(inbox.shift())
            : new Promise((ok, fail) => {
                const timer = setTimeout(() => fail(new Error("no message within the timeout")), timeoutMs);
                waiting.push((item) => {
                  clearTimeout(timer);
                  ok(item);
                });
              }),
        close: () => {
          ws.close();
          return closed;
        },
      }),
    );
  });
}

/** The relay's SQLite file, opened read-only: `all(sql, ...params)`; close it with `close()`. */
export async function inspect(db) {
  try {
    const { DatabaseSync } = await import("node:sqlite");
    const handle = new DatabaseSync(db, { readOnly: true });
    return { all: (sql, ...params) => handle.prepare(sql).all(...params), close: () => handle.close() };
  } catch (error) {
    if (error?.code !== "ERR_UNKNOWN_BUILTIN_MODULE") throw error;
    const Database = createRequire(import.meta.url)("better-sqlite3");
    const handle = new Database(db, { readonly: true });
    return { all: (sql, ...params) => handle.prepare(sql).all(...params), close: () => handle.close() };
  }
}

/** How many records the file holds, over all spaces. */
export async function storedRecords(db) {
  const file = await inspect(db);
  try {
    return file.all("SELECT count(*) AS n FROM records")[0].n;
  } finally {
    file.close();
  }
}
