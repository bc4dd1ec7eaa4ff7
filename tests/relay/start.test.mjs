// `npm start`'s last step, scripts/start.mjs, run for real on free ports with a temporary cache
// folder: it prints the demo's and the relay's URLs, both answer (the demo page, the relay's
// /v1/health), the token command it prints mints a token the relay accepts (with the secret file
// it made, mode 600), SIGINT stops both processes, and a second start on the same folder keeps the
// secret and the relay's file (the device seen before is still listed).

import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { CLI, ids, tempDir } from "./harness.mjs";

const START = fileURLToPath(new URL("../../scripts/start.mjs", import.meta.url));

/** Runs start.mjs; resolves once it has printed both URLs and the token command. */
function start(cache, timeoutMs = 30_000) {
  const child = spawn(process.execPath, [START, "--port", "0", "--relay-port", "0", "--cache", cache], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`start.mjs printed no URLs in ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`start.mjs exited (${signal ?? code}) before it was ready:\n${stdout}\n${stderr}`));
    });
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const demo = /^demo: +(\S+)/m.exec(stdout)?.[1];
      const relay = /^relay: +(\S+)/m.exec(stdout)?.[1];
      const token = /^token: +(.+)$/m.exec(stdout)?.[1];
      if (demo && relay && token) {
        clearTimeout(timer);
        resolve({ demo, relay, token });
      }
    });
  });
  return { child, ready, exited, output: () => stdout + stderr };
}

/** Sends SIGINT and waits (bounded) for the exit. */
async function interrupt(run, timeoutMs = 10_000) {
  run.child.kill("SIGINT");
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill("SIGKILL");
      reject(new Error(`start.mjs did not exit within ${timeoutMs} ms of SIGINT:\n${run.output()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether anything still answers at `url` (a refused connection is `false`). */
async function answers(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

test("npm start serves the demo and a relay, prints how to mint a token, and stops both on SIGINT", { timeout: 90_000 }, async () => {
  const dir = tempDir();
  try {
    const cache = join(dir.path, "cache");
    const first = start(cache);
    const { demo, relay, token } = await first.ready;
    assert.match(demo, /^http:\/\/127\.0\.0\.1:\d+\/www\/$/);
    assert.match(relay, /^http:\/\/127\.0\.0\.1:\d+$/);

    const page = await fetch(demo);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const health = await fetch(`${relay}/v1/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true, versions: [1] });

    // The secret file it made: mode 600, never printed; the printed command mints with it.
    const secretFile = join(cache, "relay-secret");
    assert.equal(statSync(secretFile).mode & 0o777, 0o600);
    const secret = readFileSync(secretFile, "utf8").trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.ok(!first.output().includes(secret), "the secret is never printed");
    assert.match(token, /^npx sqlite-sync-wasm token --secret-file \S+ --space demo --device <db\.deviceId> --ttl 3600$/);
    const printedFile = /--secret-file (\S+)/.exec(token)[1];
    assert.equal(statSync(printedFile).ino, statSync(secretFile).ino);
    const device = ids[0x2a];
    const jwt = execFileSync(process.execPath, [CLI, "token", "--secret-file", secretFile, "--space", "demo", "--device", device], {
      encoding: "utf8",
    }).trim();
    const listed = await fetch(`${relay}/v1/devices`, { headers: { authorization: `Bearer ${jwt}` } });
    assert.equal(listed.status, 200);
    assert.deepEqual((await listed.json()).devices.map((d) => d.id), [device]);

    assert.deepEqual(await interrupt(first), { code: 0, signal: null });
    assert.equal(await answers(demo), false, "the demo server has stopped");
    assert.equal(await answers(`${relay}/v1/health`), false, "the relay has stopped");

    // Again on the same folder: same secret, same relay file.
    const second = start(cache);
    const again = await second.ready;
    assert.equal(readFileSync(secretFile, "utf8").trim(), secret);
    const relisted = await fetch(`${again.relay}/v1/devices`, { headers: { authorization: `Bearer ${jwt}` } });
    assert.equal(relisted.status, 200);
    assert.deepEqual((await relisted.json()).devices.map((d) => d.id), [device]);
    assert.deepEqual(await interrupt(second), { code: 0, signal: null });
    assert.equal(await answers(`${again.relay}/v1/health`), false);
  } finally {
    dir.remove();
  }
});
