// createRelay: the relay as a standard fetch handler plus the socket side its runtime adapters
// wire to their WebSockets. Runtime-agnostic (only web APIs: Request, Response, URL, WebCrypto,
// timers), so the same module runs on Node, Deno and Cloudflare Workers; a runtime differs only
// in its store and its socket adapter.
//
// Routes (the network contract): POST /v1/sync (one protocol message per body), GET /v1/sync
// (WebSocket, through `accept`), GET /v1/devices, GET /v1/health. Every refusal is the JSON error
// body with its status and stores nothing. Order of checks: route and method, token, rate, body
// size, message.

import { SyncError } from "../errors.js";
import { RelayCore } from "./core.js";
import { resolveLimits, type RelayLimits } from "./limits.js";
import { decodeMessage, encodeMessage, VERSIONS } from "./messages.js";
import { CORS_HEADERS, json, Refusal, refusalResponse } from "./refusal.js";
import { CLOSE, offeredProtocols, Session, SUBPROTOCOL, type RelayPeer, type RelaySession, type SocketOffer } from "./session.js";
import type { RelayStore } from "./store.js";
import { secretKey, type TokenClaims } from "./token.js";

/** What {@link createRelay} takes. */
export interface RelayOptions {
  /** The secret tokens are signed with (at least 32 bytes). */
  secret: string | Uint8Array;
  /** Where the relay keeps its spaces. */
  store: RelayStore;
  /** Limits other than the defaults ({@link RelayLimits}). */
  limits?: Partial<RelayLimits>;
  /** Told of the relay's own failures (answered `ERR_INTERNAL`); default `console.error`. Never given a token. */
  onError?: (error: unknown) => void;
}

/** A relay: a fetch handler, and the socket side for runtime adapters. */
export interface Relay {
  /** The standard handler: `(Request) => Promise<Response>`; never rejects. */
  fetch(request: Request): Promise<Response>;
  /**
   * Checks a WebSocket upgrade request (`GET /v1/sync` with `Upgrade: websocket`): its subprotocols
   * and token. Never rejects: a refused socket is still upgraded and told why (see {@link SocketOffer}).
   */
  accept(request: Request): Promise<SocketOffer>;
  /** Whether a request asks for a WebSocket (what adapters pass to {@link accept}). */
  isUpgrade(request: Request): boolean;
  /** The limits in force. */
  readonly limits: Readonly<RelayLimits>;
  /** Closes every socket with code 1012; later requests are answered 503 `ERR_BUSY`. Does not close the store. */
  close(): Promise<void>;
}

const ROUTES: Readonly<Record<string, string>> = { "/v1/sync": "GET, POST", "/v1/devices": "GET", "/v1/health": "GET" };

/**
 * Creates a relay over a store.
 * @throws {SyncError} `ERR_INVALID_ARGUMENT` for a missing store, a short secret or bad limits
 */
export function createRelay(options: RelayOptions): Relay {
  if (typeof options !== "object" || options === null) throw new SyncError("ERR_INVALID_ARGUMENT", "createRelay takes { secret, store, limits }");
  const { secret, store, limits, onError = (error: unknown) => console.error("sqlite-sync-wasm relay:", error) } = options;
  const key = secretKey(secret);
  if (typeof store !== "object" || store === null || typeof store.push !== "function") {
    throw new SyncError("ERR_INVALID_ARGUMENT", "store must be a RelayStore");
  }
  const core = new RelayCore(key, store, resolveLimits(limits), onError);

  const bearer = (request: Request): string | null => {
    const header = request.headers.get("authorization");
    const match = header === null ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return match?.[1] ?? null;
  };

  async function sync(request: Request): Promise<Response> {
    const claims = await core.authenticate(bearer(request));
    core.admit(claims);
    const body = await readBody(request, core.limits.maxMessageBytes);
    const message = decodeMessage(body, core.limits.maxMessageBytes);
    const answer = await core.answer(claims, message);
    const bytes = encodeMessage(answer.reply);
    if (answer.grewTo !== undefined) core.notify(claims.space, answer.grewTo);
    return new Response(bytes, { status: 200, headers: { "content-type": "application/octet-stream", ...CORS_HEADERS } });
  }

  async function devices(request: Request): Promise<Response> {
    const claims: TokenClaims = await core.authenticate(bearer(request));
    core.admit(claims);
    await core.seen(claims);
    const list = await core.store.devices(claims.space);
    return json(200, { devices: list.map(({ id, firstSeen, lastSeen }) => ({ id, firstSeen, lastSeen })) });
  }

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    const allow = ROUTES[pathname];
    if (allow === undefined) throw new Refusal("ERR_PROTOCOL", `no route ${pathname}`, { status: 404 });
    const method = request.method.toUpperCase();
    if (method === "OPTIONS") {
      return new Response(null, {
        status: 204,
        headers: {
          ...CORS_HEADERS,
          "access-control-allow-methods": allow,
          "access-control-allow-headers": "Authorization, Content-Type",
          "access-control-max-age": "86400",
        },
      });
    }
    if (!allow.split(", ").includes(method)) {
      throw new Refusal("ERR_PROTOCOL", `${pathname} takes ${allow}, not ${method}`, { status: 405, allow });
    }
    if (pathname === "/v1/health") return json(200, { ok: true, versions: [...VERSIONS] });
    if (core.closing) throw new Refusal("ERR_BUSY", "the relay is shutting down");
    if (pathname === "/v1/devices") return devices(request);
    if (method === "GET") {
      throw new Refusal("ERR_PROTOCOL", "GET /v1/sync is the WebSocket endpoint (send Upgrade: websocket); over HTTP, POST one message");
    }
    return sync(request);
  }

  return {
    limits: core.limits,
    async fetch(request: Request): Promise<Response> {
      try {
        return await route(request);
      } catch (error) {
        return refusalResponse(error, onError);
      }
    },
    isUpgrade: (request) => request.method === "GET" && (request.headers.get("upgrade") ?? "").toLowerCase() === "websocket",
    async accept(request: Request): Promise<SocketOffer> {
      const { protocols, token } = offeredProtocols(request);
      const protocol = protocols.includes(SUBPROTOCOL) ? SUBPROTOCOL : null;
      let claims: TokenClaims | undefined;
      let refusal: unknown;
      try {
        if (core.closing) throw new Refusal("ERR_BUSY", "the relay is shutting down");
        if (protocol === null) throw new Refusal("ERR_PROTOCOL", `offer the subprotocol ${SUBPROTOCOL}`);
        claims = await core.authenticate(token);
        core.admit(claims);
      } catch (error) {
        refusal = error;
      }
      let opened = false;
      return {
        protocol,
        open(peer: RelayPeer): RelaySession {
          if (opened) throw new SyncError("ERR_INVALID_ARGUMENT", "a socket offer opens once");
          opened = true;
          if (claims === undefined || core.closing) return Session.refuse(core, peer, refusal ?? new Refusal("ERR_BUSY", "the relay is shutting down"));
          return new Session(core, peer, claims).start();
        },
      };
    },
    async close(): Promise<void> {
      core.closing = true;
      for (const listener of core.listeners()) listener.end(CLOSE.RESTART, "the relay is shutting down");
    },
  };
}

/** A request's body, refused with `ERR_TOO_LARGE` as soon as it passes `max` bytes. */
async function readBody(request: Request, max: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > max) throw new Refusal("ERR_TOO_LARGE", `a body of ${declared} bytes exceeds the limit of ${max} bytes`);
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new Refusal("ERR_TOO_LARGE", `the body exceeds the limit of ${max} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}
