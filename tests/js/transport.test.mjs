// The wasm transports (src/wasm/transport/) move a round's bytes: HttpTransport and
// WebSocketTransport, carrying the rounds of a real in-memory database (its `beginRound` /
// `continueRound` steps, driven here as the package's loop drives them), against a
// real loopback HTTP + WebSocket server written here (node:http and the `ws` package, bound to
// 127.0.0.1). The server checks what the transport sends (method, path, Authorization header,
// subprotocols, binary frames, no token in the URL) and answers with the golden protocol bytes of
// tests/fixtures/protocol/v1.txt. Integration with the real relay is tested elsewhere.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { openDatabase } from "sqlite-sync-wasm";
import { DatabaseHandle, HttpTransport, WebSocketTransport } from "../../dist/generated/sqlite_sync_wasm.js";

const TIMEOUT = { timeout: 15_000 };

/** The golden messages, by name, as bytes. */
const golden = Object.fromEntries(
  readFileSync(new URL("../fixtures/protocol/v1.txt", import.meta.url), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => {
      const [name, hex] = line.trim().split(/\s+/);
      return [name, Buffer.from(hex, "hex")];
    }),
);

/** The kind of a protocol message (the byte after the array header and version 1). */
const kindOf = (bytes) => bytes[2];
const [HELLO, PULL, PING, PONG] = [1, 5, 8, 9];

/** The answer of a well-behaved relay with an empty space: Welcome, then a caught-up page. */
function answer(bytes) {
  if (kindOf(bytes) === HELLO) return golden.welcome;
  if (kindOf(bytes) === PULL) return golden.page_caught_up;
  throw new Error(`unexpected message kind ${kindOf(bytes)}`);
}

/**
 * A loopback server. `http(req, body)` answers POSTs (default: the relay's answer); `ws(socket,
 * req)` takes each WebSocket (default: answers every message). Everything it saw is recorded.
 */
async function serve({ http, ws } = {}) {
  const seen = { requests: [], sockets: [], closes: [] };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    seen.requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    if (http) return http(req, res, body);
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(answer(body));
  });
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has("sqlite-sync.v1") ? "sqlite-sync.v1" : false),
  });
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (client) => {
      const record = { url: req.url, protocols: req.headers["sec-websocket-protocol"], frames: [], client };
      seen.sockets.push(record);
      client.on("message", (data, isBinary) => record.frames.push({ data: Buffer.from(data), isBinary }));
      client.on("close", (code) => seen.closes.push(code));
      if (ws) return ws(client, record);
      client.on("message", (data) => {
        if (kindOf(data) === PING || kindOf(data) === PONG) return;
        client.send(answer(data));
      });
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const close = async () => {
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { url, seen, close };
}

/** A token function that counts its calls and gives `tok-<n>`. */
const counter = () => Object.assign(async function token() { return `tok-${++token.calls}`; }, { calls: 0 });

/** Awaits a rejection and returns the error. */
const failure = (promise) => promise.then(() => assert.fail("expected the round to fail"), (e) => e);

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, what) {
  for (let i = 0; i < 200 && !check(); i++) await wait(10);
  assert.ok(check(), `timed out waiting for ${what}`);
}

/** One round over `transport`, stepped as js/sync/wasm.ts steps it; resolves with the report. */
async function syncRound(transport) {
  await transport.begin();
  const round = handle.beginRound(transport.url, "team-42");
  try {
    let action = round.firstAction();
    while (!("done" in action)) {
      const reply = "send" in action ? await transport.exchange(action.send) : await transport.next();
      action = handle.continueRound(round, reply);
    }
    const { sent, received, conflicts, pending, behind, newConflicts } = action.done;
    return { sent: Number(sent), received: Number(received), conflicts: Number(conflicts), pending: Number(pending), behind, newConflicts: [...newConflicts] };
  } finally {
    round.free();
  }
}

let handle, db;
before(async () => ((db = await openDatabase({ storage: "memory" })), (handle = DatabaseHandle.open({ storage: "memory" }))));
after(async () => (handle.close(), await db.close()));

describe("HttpTransport", () => {
  test("POSTs each message to {url}/v1/sync with a Bearer token and reads the answer as bytes", TIMEOUT, async () => {
    const relay = await serve();
    try {
      const token = counter();
      const transport = new HttpTransport({ url: `${relay.url}/`, space: "team-42", token });
      const report = await syncRound(transport);
      assert.deepEqual(report, { sent: 0, received: 0, conflicts: 0, pending: 0, behind: false, newConflicts: [] });
      assert.equal(relay.seen.requests.length, 2);
      for (const request of relay.seen.requests) {
        assert.equal(request.method, "POST");
        assert.equal(request.url, "/v1/sync");
        assert.equal(request.headers.authorization, "Bearer tok-1");
        assert.equal(request.headers["content-type"], "application/octet-stream");
      }
      assert.deepEqual(relay.seen.requests.map((r) => kindOf(r.body)), [HELLO, PULL]);
      await syncRound(transport);
      assert.equal(token.calls, 2, "the token function is called at the start of every round");
      assert.equal(relay.seen.requests[2].headers.authorization, "Bearer tok-2");
      assert.equal(Number(handle.syncPending(transport.url, "team-42")), 0);
    } finally {
      await relay.close();
    }
  });

  test("a refusal's JSON error becomes a SyncError with its code, retryable flag and delay", TIMEOUT, async () => {
    const cases = [
      [429, { code: "ERR_RATE_LIMITED", message: "slow", retryAfterMs: 1500 }, { "retry-after": "9" }, "ERR_RATE_LIMITED", true, 1500],
      [429, { code: "ERR_RATE_LIMITED", message: "slow" }, { "retry-after": "3" }, "ERR_RATE_LIMITED", true, 3000],
      [403, { code: "ERR_FORBIDDEN", message: "another space" }, {}, "ERR_FORBIDDEN", false, undefined],
      [413, { code: "ERR_TOO_LARGE", message: "quota" }, {}, "ERR_TOO_LARGE", false, undefined],
      [400, { code: "ERR_PROTOCOL", message: "v2", versions: [1] }, {}, "ERR_PROTOCOL", false, undefined],
      [500, { code: "ERR_INTERNAL", message: "disk" }, {}, "ERR_INTERNAL", true, undefined],
    ];
    for (const [status, error, headers, code, retryable, retryAfterMs] of cases) {
      const relay = await serve({
        http: (req, res) => {
          res.writeHead(status, { "content-type": "application/json", ...headers });
          res.end(JSON.stringify({ error }));
        },
      });
      try {
        const transport = new HttpTransport({ url: relay.url, space: "s", token: "secret-token" });
        const e = await failure(syncRound(transport));
        assert.equal(e.name, "SyncError");
        assert.equal(e.code, code, e.message);
        assert.equal(e.retryable, retryable, `${status} retryable`);
        assert.equal(e.retryAfterMs, retryAfterMs);
        assert.ok(!e.message.includes("secret-token"), "the token is never echoed");
      } finally {
        await relay.close();
      }
    }
  });

  test("a fetch that rejects (connection refused, or an injected fetch) is ERR_NETWORK, retryable", TIMEOUT, async () => {
    const relay = await serve();
    await relay.close();
    const refused = new HttpTransport({ url: relay.url, space: "s", token: "t" });
    const e = await failure(syncRound(refused));
    assert.equal(e.code, "ERR_NETWORK");
    assert.equal(e.retryable, true);
    const offline = new TypeError("offline");
    const injected = new HttpTransport({ url: relay.url, space: "s", token: "t", fetch: async () => { throw offline; } });
    const f = await failure(syncRound(injected));
    assert.equal(f.code, "ERR_NETWORK");
    assert.equal(f.cause, offline);
  });

  test("a relay that never answers: the request fails after timeoutMs with ERR_NETWORK, retryable", TIMEOUT, async () => {
    const hung = [];
    const relay = await serve({ http: (req, res) => void hung.push(res) });
    try {
      const transport = new HttpTransport({ url: relay.url, space: "s", token: "t", timeoutMs: 300 });
      const started = Date.now();
      const e = await failure(syncRound(transport));
      assert.equal(e.code, "ERR_NETWORK");
      assert.equal(e.retryable, true);
      assert.ok(Date.now() - started >= 250 && Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
      assert.throws(() => new HttpTransport({ url: relay.url, space: "s", token: "t", timeoutMs: 0 }), (err) => err.code === "ERR_INVALID_ARGUMENT");
    } finally {
      for (const res of hung) res.destroy();
      await relay.close();
    }
  });

  test("after a 401 the next round asks the token function again; an injected fetch is the one used", TIMEOUT, async () => {
    let refuse = true;
    const relay = await serve({
      http: (req, res, body) => {
        if (refuse) {
          refuse = false;
          res.writeHead(401, { "content-type": "application/json" });
          return res.end(JSON.stringify({ error: { code: "ERR_UNAUTHORIZED", message: "expired" } }));
        }
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(answer(body));
      },
    });
    try {
      const token = counter();
      const calls = [];
      const fetch = (input, init) => {
        calls.push(input);
        return globalThis.fetch(input, init);
      };
      const transport = new HttpTransport({ url: relay.url, space: "s", token, fetch });
      const e = await failure(syncRound(transport));
      assert.equal(e.code, "ERR_UNAUTHORIZED");
      assert.equal(e.retryable, false);
      await syncRound(transport);
      assert.equal(token.calls, 2);
      assert.equal(relay.seen.requests.at(-1).headers.authorization, "Bearer tok-2");
      assert.deepEqual(calls, Array(3).fill(`${relay.url}/v1/sync`));
    } finally {
      await relay.close();
    }
  });

  test("after close() nothing is sent", TIMEOUT, async () => {
    const relay = await serve();
    try {
      const transport = new HttpTransport({ url: relay.url, space: "s", token: "t" });
      transport.close();
      const e = await failure(syncRound(transport));
      assert.equal(e.code, "ERR_CLOSED");
      assert.equal(relay.seen.requests.length, 0);
    } finally {
      await relay.close();
    }
  });

  test("bad options are ERR_INVALID_ARGUMENT", () => {
    for (const options of [null, {}, { url: "ftp://x", space: "s", token: "t" }, { url: "http://x", space: "", token: "t" }, { url: "http://x", space: "s", token: 3 }, { url: "http://x", space: "s", token: "t", fetch: 1 }]) {
      assert.throws(() => new HttpTransport(options), (e) => e.code === "ERR_INVALID_ARGUMENT");
    }
  });
});

describe("WebSocketTransport", () => {
  test("one socket to {url}/v1/sync, token in the subprotocol, binary frames, kept across rounds", TIMEOUT, async () => {
    const relay = await serve();
    try {
      const token = counter();
      const transport = new WebSocketTransport({ url: relay.url, space: "team-42", token, WebSocket });
      const report = await syncRound(transport);
      assert.deepEqual(report, { sent: 0, received: 0, conflicts: 0, pending: 0, behind: false, newConflicts: [] });
      await syncRound(transport);
      assert.equal(relay.seen.sockets.length, 1, "one connection serves both rounds");
      assert.equal(token.calls, 1, "the token function is called once per connect");
      const [socket] = relay.seen.sockets;
      assert.equal(socket.url, "/v1/sync");
      assert.deepEqual(socket.protocols.split(/,\s*/), ["sqlite-sync.v1", "bearer.tok-1"]);
      assert.deepEqual(socket.frames.map((f) => [kindOf(f.data), f.isBinary]), [[HELLO, true], [PULL, true], [HELLO, true], [PULL, true]]);
      assert.equal(transport.connected, true);
      transport.close();
      await until(() => relay.seen.closes.length === 1, "the close");
      assert.deepEqual(relay.seen.closes, [1000]);
      assert.equal((await failure(syncRound(transport))).code, "ERR_CLOSED");
      assert.equal(relay.seen.sockets.length, 1, "nothing is sent after close()");
    } finally {
      await relay.close();
    }
  });

  test("a refusal (Error message, then close 1008) reports its code; the next round reconnects with a new token", TIMEOUT, async () => {
    let refuse = true;
    const relay = await serve({
      ws: (client) => {
        if (refuse) {
          refuse = false;
          client.send(golden.error);
          return client.close(1008, "refused");
        }
        client.on("message", (data) => client.send(answer(data)));
      },
    });
    try {
      const token = counter();
      const transport = new WebSocketTransport({ url: relay.url.replace("http", "ws"), space: "s", token, WebSocket });
      const e = await failure(syncRound(transport));
      assert.equal(e.code, "ERR_FORBIDDEN");
      assert.equal(e.retryable, false);
      await syncRound(transport);
      assert.equal(token.calls, 2);
      assert.deepEqual(relay.seen.sockets[1].protocols.split(/,\s*/), ["sqlite-sync.v1", "bearer.tok-2"]);
      transport.close();
    } finally {
      await relay.close();
    }
  });

  test("a dropped socket is ERR_NETWORK, retryable", TIMEOUT, async () => {
    const relay = await serve({ ws: (client) => client.on("message", () => client.terminate()) });
    try {
      const transport = new WebSocketTransport({ url: relay.url, space: "s", token: "t", WebSocket });
      const e = await failure(syncRound(transport));
      assert.equal(e.code, "ERR_NETWORK");
      assert.equal(e.retryable, true);
      transport.close();
    } finally {
      await relay.close();
    }
  });

  test("keepalive: pings every interval, answers the relay's Ping, and a silent relay is dead", TIMEOUT, async () => {
    const live = await serve({
      ws: (client) => {
        client.on("message", (data) => {
          if (kindOf(data) === PING) return client.send(Buffer.from([0x93, 0x01, PONG, data[3]]));
          if (kindOf(data) !== PONG) client.send(answer(data));
        });
        client.send(golden.ping);
      },
    });
    try {
      const transport = new WebSocketTransport({ url: live.url, space: "s", token: "t", WebSocket, pingIntervalMs: 150 });
      await syncRound(transport);
      await wait(700);
      assert.equal(transport.connected, true, "a relay that answers keeps the socket alive");
      const kinds = live.seen.sockets[0].frames.map((f) => kindOf(f.data));
      assert.ok(kinds.filter((k) => k === PING).length >= 2, `pings sent: ${kinds}`);
      assert.ok(live.seen.sockets[0].frames.some((f) => f.data.equals(golden.pong)), "the relay's Ping 42 got Pong 42");
      transport.close();
    } finally {
      await live.close();
    }
    const silent = await serve({ ws: () => {} });
    try {
      const transport = new WebSocketTransport({ url: silent.url, space: "s", token: "t", WebSocket, pingIntervalMs: 50 });
      const started = Date.now();
      const e = await failure(syncRound(transport));
      assert.equal(e.code, "ERR_NETWORK");
      assert.match(e.message, /dead/);
      assert.ok(Date.now() - started < 2_000, "noticed within a few intervals");
      await until(() => silent.seen.closes.length === 1, "the dead socket's close");
      transport.close();
    } finally {
      await silent.close();
    }
  });

  test("Notify between rounds reaches onNotify; during a round it makes the round report behind", TIMEOUT, async () => {
    let client;
    const relay = await serve({
      ws: (c) => {
        client = c;
        c.on("message", (data) => {
          if (kindOf(data) === HELLO) c.send(golden.notify);
          if (kindOf(data) !== PING) c.send(answer(data));
        });
      },
    });
    try {
      const heads = [];
      const transport = new WebSocketTransport({ url: relay.url, space: "s", token: "t", WebSocket });
      transport.onNotify((head) => heads.push(head));
      const report = await syncRound(transport);
      assert.equal(report.behind, true, "head 15 is past the cursor 7");
      assert.deepEqual(heads, [], "a Notify during a round goes to the round");
      client.send(golden.notify);
      await until(() => heads.length === 1, "the Notify callback");
      assert.deepEqual(heads, [15]);
      transport.close();
    } finally {
      await relay.close();
    }
  });

  test("the injected WebSocket class is the one constructed; without one on Node 20 the error says so", TIMEOUT, async () => {
    const relay = await serve();
    try {
      let made = 0;
      class Counted extends WebSocket {
        constructor(...args) {
          super(...args);
          made++;
        }
      }
      const transport = new WebSocketTransport({ url: relay.url, space: "s", token: "t", WebSocket: Counted });
      await syncRound(transport);
      assert.equal(made, 1);
      transport.close();
      const badToken = new WebSocketTransport({ url: relay.url, space: "s", token: "not:a:jwt:colon", WebSocket });
      const b = await failure(syncRound(badToken));
      assert.equal(b.code, "ERR_INVALID_ARGUMENT");
      assert.ok(!b.message.includes("colon") && b.cause === undefined, "the token is not echoed");
      if (globalThis.WebSocket === undefined) {
        const bare = new WebSocketTransport({ url: relay.url, space: "s", token: "t" });
        const e = await failure(syncRound(bare));
        assert.equal(e.code, "ERR_INVALID_ARGUMENT");
        assert.match(e.message, /WebSocket option/);
      }
    } finally {
      await relay.close();
    }
  });
});
