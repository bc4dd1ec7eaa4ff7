// The relay on Node: `node:http` turns each request into a standard `Request` for `relay.fetch`,
// and the `ws` package upgrades `GET /v1/sync` into a WebSocket wired to `relay.accept` (the
// runtime-agnostic socket side, session.ts). Bodies over the relay's message limit are refused
// with 413 without being kept. `close()` shuts down gracefully: sockets closed with code 1012 (so
// devices reconnect with back-off), the listening socket closed, requests under way answered
// (for up to 2 s), then open connections ended.

import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { SyncError } from "../../errors.js";
import { MAX_MESSAGE_BYTES } from "../messages.js";
import { Refusal, refusalResponse } from "../refusal.js";
import type { Relay } from "../relay.js";
import type { RelayPeer, RelaySession } from "../session.js";

/** Where {@link serve} listens. */
export interface ServeOptions {
  /** The port (default 8787; 0 picks a free one). */
  port?: number;
  /** The interface (default `127.0.0.1`; `0.0.0.0` or `::` to serve other machines). */
  host?: string;
}

/** A relay listening on Node. */
export interface RelayServer {
  /** The relay's base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Closes every WebSocket with code 1012, stops listening and ends open connections. */
  close(): Promise<void>;
}

/** Bytes of an oversized body read (and dropped) before the connection is cut instead. */
const DRAIN_LIMIT = 64 * 1024 * 1024;
/** How long closing waits for WebSockets to finish their closing handshake and requests to be answered. */
const CLOSE_GRACE_MS = 2_000;

/** Serves a relay over HTTP and WebSocket on Node. */
export async function serve(relay: Relay, options: ServeOptions = {}): Promise<RelayServer> {
  const { port = 8787, host = "127.0.0.1" } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SyncError("ERR_INVALID_ARGUMENT", "port must be 0 to 65535");
  const onError = (error: unknown) => console.error("sqlite-sync-wasm relay:", error);
  const max = relay.limits.maxMessageBytes;
  const chosen = new WeakMap<IncomingMessage, string>();
  const wss = new WebSocketServer({
    noServer: true,
    // Any frame a protocol client can send (up to 16 MiB) reaches the session, which answers one
    // over the relay's own limit with ERR_TOO_LARGE; only larger frames get close code 1009.
    maxPayload: MAX_MESSAGE_BYTES + 1024,
    perMessageDeflate: false,
    handleProtocols: (_offered, request) => chosen.get(request) ?? false,
  });
  let base = "";

  let inFlight = 0;
  const server = createServer((req, res) => {
    inFlight++;
    res.once("close", () => inFlight--);
    void answer(req, res).catch((error: unknown) => {
      onError(error);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  // Idle keep-alive connections stay open well past the clients' own timeouts (undici keeps one
  // for the server's hint minus a second), so a busy client never reuses one the relay is closing.
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 35_000;

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, max);
    const response =
      body === null
        ? refusalResponse(new Refusal("ERR_TOO_LARGE", `the body exceeds the limit of ${max} bytes`), onError)
        : await relay.fetch(toRequest(req, base, body));
    const bytes = new Uint8Array(await response.arrayBuffer());
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => (headers[name] = value));
    res.writeHead(response.status, headers);
    res.end(bytes);
  }

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const request = toRequest(req, base, undefined);
    if (new URL(request.url).pathname !== "/v1/sync" || !relay.isUpgrade(request)) {
      void relay.fetch(request).then(async (response) => {
        const text = await response.text();
        socket.end(`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
      });
      return;
    }
    void relay.accept(request).then((offer) => {
      if (offer.protocol !== null) chosen.set(req, offer.protocol);
      wss.handleUpgrade(req, socket, head, (ws) => wire(ws, offer.open(peerOf(ws))));
    }, onError);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  base = `http://${host.includes(":") ? `[${host}]` : host}:${bound}`;

  let closing: Promise<void> | undefined;
  return {
    url: base,
    port: bound,
    close: () =>
      (closing ??= (async () => {
        await relay.close();
        for (const ws of wss.clients) ws.close(1012, "the relay is shutting down");
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + CLOSE_GRACE_MS;
        while ((wss.clients.size > 0 || inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const ws of wss.clients) ws.terminate();
        server.closeAllConnections();
        await stopped;
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })()),
  };
}

/** The socket as a session sees it. */
function peerOf(ws: WebSocket): RelayPeer {
  return {
    send(bytes) {
      if (ws.readyState === ws.OPEN) ws.send(bytes, { binary: true });
    },
    close(code, reason) {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    },
  };
}

function wire(ws: WebSocket, session: RelaySession): void {
  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    void session.receive(isBinary ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes).toString("utf8"));
  });
  ws.on("close", () => session.closed());
  ws.on("error", () => ws.terminate());
}

/** A node request as a standard one (only the path of its URL is the client's). */
function toRequest(req: IncomingMessage, base: string, body: Uint8Array | undefined): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    } catch {
      // A header the fetch API refuses (a malformed name or value) is not one the relay reads.
    }
  }
  let url: URL;
  try {
    url = new URL(req.url ?? "/", base);
    if (url.origin !== new URL(base).origin) url = new URL("/", base);
  } catch {
    url = new URL("/", base);
  }
  const method = req.method ?? "GET";
  const init: RequestInit = { method, headers };
  if (body !== undefined && method !== "GET" && method !== "HEAD") init.body = body as Uint8Array<ArrayBuffer>;
  return new Request(url, init);
}

/** The body, or null when it is over `max` bytes (then read to its end, up to a limit, and dropped). */
async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > DRAIN_LIMIT) {
      req.destroy();
      return null;
    }
    if (total <= max) chunks.push(chunk);
  }
  if (total > max) return null;
  const body = Buffer.concat(chunks);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}
