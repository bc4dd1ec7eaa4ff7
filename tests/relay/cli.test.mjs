// The package's command, as a user runs it: `relay` refuses to start without a (long enough)
// secret, prints its URL once listening on 127.0.0.1 (`--port 0` picks a free port), reads the
// secret from --secret-file, and stops cleanly on SIGINT; `token` prints a token the relay takes.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { decodeJwt } from "jose";
import { CLI, connect, ids, post, SECRET, startRelay, tempDir } from "./harness.mjs";

const run = promisify(execFile);
const dir = tempDir();
after(() => dir.remove());

/** Runs the CLI to its end; resolves with its exit code and output. */
async function cli(args, env = { SQLITE_SYNC_SECRET: SECRET }) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return { code: error.code, stdout: error.stdout, stderr: error.stderr };
  }
}

test("relay refuses to start without a secret, or with a short one, and says why", { timeout: 30_000 }, async () => {
  const db = join(dir.path, "never.db");
  const none = await cli(["relay", "--port", "0", "--db", db], {});
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no secret: set SQLITE_SYNC_SECRET or pass --secret-file/);
  assert.equal(none.stdout, "");
  const short = await cli(["relay", "--port", "0", "--db", db], { SQLITE_SYNC_SECRET: "short" });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /at least 32 bytes/);
  assert.ok(!short.stderr.includes("short\n"), "the secret is not printed");
  const unknown = await cli(["serve"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /usage:/);
});

test("token prints a token for the space and device; the relay started with --secret-file takes it", { timeout: 30_000 }, async () => {
  const secretFile = join(dir.path, "secret");
  writeFileSync(secretFile, `${SECRET}\n`);
  const minted = await cli(["token", "--space", "team-42", "--device", ids[0xa1], "--ttl", "600", "--secret-file", secretFile], {});
  assert.equal(minted.code, 0, minted.stderr);
  const jwt = minted.stdout.trim();
  const claims = decodeJwt(jwt);
  assert.deepEqual([claims.sub, claims.space, claims.exp - claims.iat], [ids[0xa1], "team-42", 600]);
  const refused = await cli(["token", "--space", "team-42", "--device", "not-hex"]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /deviceId must be 32 lowercase hex digits/);
  assert.equal((await cli(["token", "--space", "s", "--device", ids[1], "--ttl", "86401"])).code, 2);

  const relay = await startRelay(join(dir.path, "file-secret.db"), { args: ["--secret-file", secretFile], env: {} });
  try {
    assert.match(relay.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(relay.url).port, "0");
    const answer = await post(relay.url, { kind: "Hello", device: ids[0xa1], space: "team-42", clock: [] }, jwt);
    assert.equal(answer.status, 200);
  } finally {
    await relay.stop();
  }
});

test("SIGINT stops the relay cleanly: sockets closed with 1012, exit code 0", { timeout: 30_000 }, async () => {
  const relay = await startRelay(join(dir.path, "sigint.db"));
  const minted = await cli(["token", "--space", "s", "--device", ids[0xa1]]);
  const socket = await connect(relay.url, minted.stdout.trim());
  const [code, exit] = await Promise.all([socket.closed, relay.stop("SIGINT")]);
  assert.equal(code, 1012);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(relay.stdout(), /^relay listening on http:\/\/127\.0\.0\.1:\d+\n$/);
});
