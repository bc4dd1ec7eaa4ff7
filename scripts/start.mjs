// scripts/start.mjs (`npm start`, after bootstrap and build): the demo's static server
// (scripts/serve.mjs, in this process) and a relay (the package's CLI, `dist/relay/node/cli.js
// relay`, as a child process) side by side on 127.0.0.1, and prints both URLs and how to mint a
// token. Dependency-free.
//   node scripts/start.mjs [--port 8080] [--relay-port 8787] [--cache .cache]   (0 picks a free port)
// The relay keeps its SQLite file at <cache>/relay.db and its development secret at
// <cache>/relay-secret (32 random bytes as hex, made once, mode 600), so a restart keeps every
// record and every token minted before it. SIGINT and SIGTERM stop both: the signal is forwarded
// to the relay by its PID (which closes its sockets with 1012), the static server closes, and this
// process exits once the relay has (killing it after 5 s). If the relay stops by itself, so does
// this. The secret is never printed.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { serve } from "./serve.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "relay", "node", "cli.js");
/** How long the relay may take to print its URL, and to exit once told to stop. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    "relay-port": { type: "string", default: "8787" },
    cache: { type: "string", default: ".cache" },
  },
});

function port(name) {
  const text = values[name];
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    console.error(`start: --${name} takes a port number (0 picks a free one), not ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return Number(text);
}

/** The secret file: made once with 32 random bytes (as hex), mode 600, and kept. */
function secretFile(cache) {
  const file = join(cache, "relay-secret");
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    } catch (e) {
      if (e?.code !== "EEXIST") throw e;
    }
  }
  chmodSync(file, 0o600);
  return file;
}

/** Starts the relay as `child`; resolves with its URL once it says it listens. */
function startRelay(relayPort, db, secret) {
  const args = [CLI, "relay", "--port", String(relayPort), "--db", db, "--secret-file", secret, "--host", "127.0.0.1"];
  child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`the relay did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const fail = (error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    const onExit = (code, signal) => fail(new Error(`the relay exited before listening (${signal ?? `exit code ${code}`})`));
    child.once("exit", onExit);
    child.once("error", fail);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", function listen(chunk) {
      out += chunk;
      const match = /relay listening on (\S+)/.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      child.off("exit", onExit);
      child.stdout.off("data", listen);
      child.stdout.pipe(process.stdout);
      resolve(match[1]);
    });
  });
}

const demoPort = port("port");
const relayPort = port("relay-port");
const cache = resolve(ROOT, values.cache);
mkdirSync(cache, { recursive: true });
const shown = (path) => {
  const rel = relative(process.cwd(), path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
};
const secret = secretFile(cache);
const db = join(cache, "relay.db");

/** The relay's process, once spawned; the static server, once listening. */
let child;
let server;
const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  if (running()) {
    const exited = new Promise((done) => child.once("exit", done));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  await server?.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
// However this process ends, its relay does not outlive it.
process.on("exit", () => {
  if (running()) child.kill("SIGKILL");
});

try {
  server = await serve({ port: demoPort });
} catch (e) {
  console.error(`start: the demo server cannot listen on 127.0.0.1:${demoPort}: ${e.message}`);
  process.exit(1);
}
let relayUrl;
try {
  relayUrl = await startRelay(relayPort, db, secret);
} catch (e) {
  // A signal during the start is a stop, not a failure.
  if (!stopping) console.error(`start: ${e.message}`);
  await server.close();
  process.exit(stopping ? 0 : 1);
}
child.once("exit", (code, signal) => {
  if (stopping) return;
  console.error(`start: the relay stopped (${signal ?? `exit code ${code}`}); stopping the demo server`);
  stopping = true;
  void server.close().then(() => process.exit(1));
});

const ws = relayUrl.replace(/^http/, "ws");
console.log(`demo:  ${server.url}www/`);
console.log(`relay: ${relayUrl}  (WebSocket: ${ws}; data in ${shown(db)})`);
console.log(`token: npx sqlite-sync-wasm token --secret-file ${shown(secret)} --space demo --device <db.deviceId> --ttl 3600`);
console.log("Ctrl-C stops both.");
