// The public transport classes `HttpTransport` and `WebSocketTransport`. They only hold their
// checked options: the wasm transports of the same names (src/wasm/transport/) are made from them
// by `startSync`, where the database lives (js/sync/wasm.ts), once the wasm module is loaded; for a
// database in the package worker, only the plain part of the options crosses (`TransportSpec`) and
// the token function stays on the page.
//
// Invariants: every option is read once, in the constructor, and checked there (a wrong one throws
// `ERR_INVALID_ARGUMENT`); the token is never part of a message, a status or an error.

import { SyncError } from "../errors.js";
import { listDevices, type DeviceInfo } from "./devices.js";

/** A token, or a (possibly async) function returning one: called on every connect and after `ERR_UNAUTHORIZED`. */
export type TokenSource = string | (() => string | Promise<string>);

/** A `WebSocket` class (the global one, or the `ws` package's on Node 20). */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocket;

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  /** The relay's base URL (`http:` or `https:`); the transport adds its own paths. */
  url: string;
  /** The space to sync. */
  space: string;
  token: TokenSource;
  /** The `fetch` to use (default: the global one). Not usable with a database in the package worker. */
  fetch?: typeof fetch;
  /** How long a request may take, answer included, before the round fails with `ERR_NETWORK` (default 60,000 ms). */
  timeoutMs?: number;
}

/** Options of {@link WebSocketTransport}. */
export interface WebSocketTransportOptions {
  /** The relay's base URL (`ws:` or `wss:`); the transport adds its own paths. */
  url: string;
  /** The space to sync. */
  space: string;
  token: TokenSource;
  /** The `WebSocket` class to use (default: the global one). Not usable with a database in the package worker. */
  WebSocket?: WebSocketClass;
  /** How often an idle socket is pinged, in ms (default: the wasm transport's, 15–20 s). */
  pingIntervalMs?: number;
}

/** The plain, cloneable part of a transport's options (what crosses to the package worker). */
export interface TransportSpec {
  kind: "http" | "websocket";
  url: string;
  space: string;
  pingIntervalMs?: number;
  timeoutMs?: number;
}

function invalid(message: string, cause?: unknown): SyncError {
  return new SyncError("ERR_INVALID_ARGUMENT", message, cause === undefined ? {} : { cause });
}

/** The options object's own fields, each read once. */
function readFields(options: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof options !== "object" || options === null) throw invalid(`${what} needs an options object`);
  const fields: Record<string, unknown> = {};
  try {
    for (const key of keys) fields[key] = (options as Record<string, unknown>)[key];
  } catch (e) {
    throw invalid(`cannot read the ${what} options: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  return fields;
}

/** The common fields: a parseable URL of one of `schemes`, a non-empty space, a token. */
function common(fields: Record<string, unknown>, what: string, schemes: readonly string[]): { url: string; space: string; token: TokenSource } {
  const { url, space, token } = fields;
  if (typeof url !== "string") throw invalid(`${what}: url must be a string`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw invalid(`${what}: url is not a URL: ${url}`, e);
  }
  if (!schemes.includes(parsed.protocol)) throw invalid(`${what}: url must start with ${schemes.join(" or ")}//`);
  if (typeof space !== "string" || space === "") throw invalid(`${what}: space must be a non-empty string`);
  if (typeof token !== "string" && typeof token !== "function") {
    throw invalid(`${what}: token must be a string or a function returning one`);
  }
  return { url, space, token: token as TokenSource };
}

/** Syncs over HTTP: one `POST /v1/sync` per protocol message. */
export class HttpTransport {
  readonly kind = "http" as const;
  readonly url: string;
  readonly space: string;
  readonly timeoutMs: number | undefined;
  readonly #token: TokenSource;
  readonly #fetch: typeof fetch | undefined;

  constructor(options: HttpTransportOptions) {
    const fields = readFields(options, "HttpTransport", ["url", "space", "token", "fetch", "timeoutMs"]);
    const { url, space, token } = common(fields, "HttpTransport", ["http:", "https:"]);
    if (fields["fetch"] !== undefined && typeof fields["fetch"] !== "function") throw invalid("HttpTransport: fetch must be a function");
    const timeout = fields["timeoutMs"];
    if (timeout !== undefined && (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout < 1)) {
      throw invalid("HttpTransport: timeoutMs must be a positive number");
    }
    this.url = url;
    this.space = space;
    this.timeoutMs = timeout as number | undefined;
    this.#token = token;
    this.#fetch = fields["fetch"] as typeof fetch | undefined;
  }

  /** The options the wasm transport is made with, here. @internal */
  wasmOptions(): Record<string, unknown> {
    const options: Record<string, unknown> = { url: this.url, space: this.space, token: this.#token };
    if (this.#fetch !== undefined) options["fetch"] = this.#fetch;
    if (this.timeoutMs !== undefined) options["timeoutMs"] = this.timeoutMs;
    return options;
  }

  /** What a worker needs to make the same transport, and what cannot cross to it. @internal */
  spec(): { spec: TransportSpec; token: TokenSource; injected: string | undefined } {
    const spec: TransportSpec = { kind: "http", url: this.url, space: this.space };
    if (this.timeoutMs !== undefined) spec.timeoutMs = this.timeoutMs;
    return { spec, token: this.#token, injected: this.#fetch === undefined ? undefined : "fetch" };
  }

  /** The devices the relay has seen in this transport's space (`GET /v1/devices`). */
  devices(): Promise<DeviceInfo[]> {
    return listDevices(relayKey(this.url), this.#token, this.#fetch);
  }
}

/** Syncs over one WebSocket (binary frames), with live announcements of new records. */
export class WebSocketTransport {
  readonly kind = "websocket" as const;
  readonly url: string;
  readonly space: string;
  readonly pingIntervalMs: number | undefined;
  readonly #token: TokenSource;
  readonly #WebSocket: WebSocketClass | undefined;

  constructor(options: WebSocketTransportOptions) {
    const fields = readFields(options, "WebSocketTransport", ["url", "space", "token", "WebSocket", "pingIntervalMs"]);
    const { url, space, token } = common(fields, "WebSocketTransport", ["ws:", "wss:"]);
    const socketClass = fields["WebSocket"];
    if (socketClass !== undefined && typeof socketClass !== "function") throw invalid("WebSocketTransport: WebSocket must be a class");
    const ping = fields["pingIntervalMs"];
    if (ping !== undefined && (typeof ping !== "number" || !Number.isFinite(ping) || ping <= 0)) {
      throw invalid("WebSocketTransport: pingIntervalMs must be a positive number");
    }
    this.url = url;
    this.space = space;
    this.pingIntervalMs = ping as number | undefined;
    this.#token = token;
    this.#WebSocket = socketClass as WebSocketClass | undefined;
  }

  /** The options the wasm transport is made with, here. @internal */
  wasmOptions(): Record<string, unknown> {
    const options: Record<string, unknown> = { url: this.url, space: this.space, token: this.#token };
    if (this.#WebSocket !== undefined) options["WebSocket"] = this.#WebSocket;
    if (this.pingIntervalMs !== undefined) options["pingIntervalMs"] = this.pingIntervalMs;
    return options;
  }

  /** What a worker needs to make the same transport, and what cannot cross to it. @internal */
  spec(): { spec: TransportSpec; token: TokenSource; injected: string | undefined } {
    const spec: TransportSpec = { kind: "websocket", url: this.url, space: this.space };
    if (this.pingIntervalMs !== undefined) spec.pingIntervalMs = this.pingIntervalMs;
    return { spec, token: this.#token, injected: this.#WebSocket === undefined ? undefined : "WebSocket" };
  }

  /** The devices the relay has seen in this transport's space (`GET /v1/devices`, over `fetch`). */
  devices(): Promise<DeviceInfo[]> {
    return listDevices(relayKey(this.url), this.#token, undefined);
  }
}

/**
 * The relay's identity as cursors are kept by: its base URL in http(s) form, without a trailing
 * slash, so that one relay reached over HTTP or over a WebSocket keeps one cursor.
 */
export function relayKey(url: string): string {
  const parsed = new URL(url);
  const scheme = parsed.protocol === "ws:" ? "http:" : parsed.protocol === "wss:" ? "https:" : parsed.protocol;
  return `${scheme}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
}

/** A transport `startSync` accepts. */
export type Transport = HttpTransport | WebSocketTransport;

/** Makes the transport a worker was sent, its token coming from `token` (which asks the page). */
export function fromSpec(spec: TransportSpec, token: TokenSource): Record<string, unknown> {
  const options: Record<string, unknown> = { url: spec.url, space: spec.space, token };
  if (spec.pingIntervalMs !== undefined) options["pingIntervalMs"] = spec.pingIntervalMs;
  if (spec.timeoutMs !== undefined) options["timeoutMs"] = spec.timeoutMs;
  return options;
}
