#!/usr/bin/env node
// The package's command (`npx sqlite-sync-wasm …`):
//   relay --port 8787 --db relay.db [--host H] [--secret-file F] [limits]   a relay on a SQLite file
//   token --space S --device D [--ttl 3600] [--secret-file F]               prints a token
// The secret comes from --secret-file or SQLITE_SYNC_SECRET; without one nothing starts. The relay
// prints its URL once it listens and shuts down cleanly on SIGINT and SIGTERM. Never prints a
// secret; `token` prints only the token it was asked for.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createRelay } from "../relay.js";
import { createToken } from "../token.js";
import type { RelayLimits } from "../limits.js";
import { openSqliteStore } from "./sqlite-store.js";
import { serve } from "./serve.js";

const USAGE = `usage:
  sqlite-sync-wasm relay [--port 8787] [--db relay.db] [--host 127.0.0.1] [--secret-file FILE]
                         [--quota BYTES] [--rate N] [--burst N] [--max-connections N] [--max-message-bytes N]
                         [--ping-interval MS] [--idle-timeout MS]
  sqlite-sync-wasm token --space SPACE --device DEVICE_ID [--ttl 3600] [--secret-file FILE]
The secret (at least 32 bytes) is read from --secret-file, else from SQLITE_SYNC_SECRET.`;

/** A refusal to run: printed with the usage, exit code 2. */
class UsageError extends Error {}

function secret(file: string | undefined): string {
  const value = file !== undefined ? readFileSync(file, "utf8").replace(/\r?\n$/, "") : process.env.SQLITE_SYNC_SECRET;
  if (value === undefined || value === "") {
    throw new UsageError("no secret: set SQLITE_SYNC_SECRET or pass --secret-file FILE (make one with `openssl rand -hex 32`)");
  }
  return value;
}

function whole(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} takes a whole number, not ${JSON.stringify(text)}`);
  return Number(text);
}

async function relayCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      port: { type: "string", default: "8787" },
      db: { type: "string", default: "relay.db" },
      host: { type: "string", default: "127.0.0.1" },
      "secret-file": { type: "string" },
      quota: { type: "string" },
      rate: { type: "string" },
      burst: { type: "string" },
      "max-connections": { type: "string" },
      "max-message-bytes": { type: "string" },
      "ping-interval": { type: "string" },
      "idle-timeout": { type: "string" },
    },
  });
  const key = secret(values["secret-file"]);
  const limits: Partial<RelayLimits> = {};
  const set = (name: keyof RelayLimits, flag: string) => {
    const n = whole(flag, values[flag as keyof typeof values] as string | undefined);
    if (n !== undefined) limits[name] = n;
  };
  set("quotaBytes", "quota");
  set("requestsPerSecond", "rate");
  set("burst", "burst");
  set("maxConnectionsPerDevice", "max-connections");
  set("maxMessageBytes", "max-message-bytes");
  set("pingIntervalMs", "ping-interval");
  set("idleTimeoutMs", "idle-timeout");
  const port = whole("port", values.port)!;
  const store = await openSqliteStore(values.db);
  const relay = createRelay({ secret: key, store, limits });
  const server = await serve(relay, { port, host: values.host });
  process.stdout.write(`relay listening on ${server.url}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`relay: ${signal}, shutting down\n`);
    void server
      .close()
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`relay: ${String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

async function tokenCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      space: { type: "string" },
      device: { type: "string" },
      ttl: { type: "string", default: "3600" },
      "secret-file": { type: "string" },
    },
  });
  if (values.space === undefined || values.device === undefined) throw new UsageError("token needs --space and --device");
  const token = await createToken({
    secret: secret(values["secret-file"]),
    space: values.space,
    deviceId: values.device,
    expiresIn: whole("ttl", values.ttl)!,
  });
  process.stdout.write(`${token}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "relay") return relayCommand(rest);
  if (command === "token") return tokenCommand(rest);
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  throw new UsageError(command === undefined ? "no command" : `unknown command ${JSON.stringify(command)}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code = String((error as { code?: unknown } | null)?.code ?? "");
  const usage = error instanceof UsageError || code.startsWith("ERR_PARSE_ARGS") || code === "ERR_INVALID_ARGUMENT";
  process.stderr.write(`sqlite-sync-wasm: ${error instanceof Error ? error.message : String(error)}\n`);
  if (usage) process.stderr.write(`${USAGE}\n`);
  process.exit(usage ? 2 : 1);
});
