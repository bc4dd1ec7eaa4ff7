// The relay process of the `net.*` figures (net.mjs) and the bounds every one of them runs in: a
// real relay started through the package's CLI on 127.0.0.1 with a temporary SQLite file (the
// start, the tokens, the canonical record bytes and the raw HTTP calls are the relay tests' own,
// tests/relay/harness.mjs), stopped by its PID however the figure ends (SIGTERM, then SIGKILL
// after STOP_MS; also when this process exits early), and `deadline`, which fails a figure that
// runs too long instead of letting it hang.

import { join } from "node:path";
import { startRelay, tempDir } from "../tests/relay/harness.mjs";

export { ids, post, record, SECRET, token } from "../tests/relay/harness.mjs";

/** How long a stopping relay may take before it is killed. */
const STOP_MS = 5_000;

/** The `WebSocket` class for the client side: the runtime's, or the `ws` package's (Node 20). */
export const WebSocketClass = globalThis.WebSocket ?? (await import("ws")).default;

/**
 * Runs `body(relay)` with a fresh relay process (`args`: more CLI arguments, such as limits) on a
 * temporary file; the process is stopped and the file removed afterwards, however `body` ends.
 */
export async function withRelay(args, body) {
  const dir = tempDir();
  let relay;
  const kill = () => relay?.child.kill("SIGKILL");
  process.once("exit", kill);
  try {
    relay = await startRelay(join(dir.path, "relay.db"), { args });
    return await body({ url: relay.url, ws: relay.url.replace(/^http/, "ws") });
  } finally {
    if (relay !== undefined) await stop(relay);
    process.off("exit", kill);
    dir.remove();
  }
}

async function stop(relay) {
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, STOP_MS, "late")));
  try {
    if ((await Promise.race([relay.stop("SIGTERM"), late])) === "late") {
      relay.child.kill("SIGKILL");
      await relay.exited;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a rejection naming `what` once `ms` have passed without it settling. */
export async function deadline(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `sync` is idle (rejects if it stops or fails, or after `ms`). */
export function idle(sync, ms = 30_000) {
  return deadline(
    new Promise((resolve, reject) => {
      const check = (status) => {
        if (status.state === "idle") resolve();
        else if (status.state === "error" || status.state === "stopped") {
          reject(status.lastError ?? new Error(`the sync loop is ${status.state}`));
        } else return;
        off();
      };
      const off = sync.on("status", check);
      check(sync.status);
    }),
    ms,
    "waiting for the sync loop to be idle",
  );
}
