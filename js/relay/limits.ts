// The relay's limits, their defaults and their checks, and the per-device token bucket that
// enforces the request rate. One sync round is about three requests (Hello, Push, Pull), so the
// default rate (100 a second, bursts of 200) lets a device sync continuously while stopping a
// runaway loop; a WebSocket message counts as one request.

import { SyncError } from "../errors.js";
import { MAX_MESSAGE_BYTES } from "./messages.js";

/** What the relay allows; every field is optional in `createRelay({ limits })`. */
export interface RelayLimits {
  /** The largest request body or WebSocket message, in bytes (default and maximum 16 MiB). */
  maxMessageBytes: number;
  /** Requests (or WebSocket messages) per second one device may make, on average (default 100). */
  requestsPerSecond: number;
  /** How many requests one device may make at once before the rate applies (default 200). */
  burst: number;
  /** Open WebSockets per device (default 4). */
  maxConnectionsPerDevice: number;
  /** Bytes of records one space may hold (default 1 GiB). */
  quotaBytes: number;
  /** How long a WebSocket may be quiet before the relay pings it, in ms (default 20,000). */
  pingIntervalMs: number;
  /** How long a WebSocket may stay silent (not even a Pong) before the relay closes it, in ms (default 45,000). */
  idleTimeoutMs: number;
}

/** The defaults of {@link RelayLimits}. */
export const DEFAULT_LIMITS: Readonly<RelayLimits> = Object.freeze({
  maxMessageBytes: MAX_MESSAGE_BYTES,
  requestsPerSecond: 100,
  burst: 200,
  maxConnectionsPerDevice: 4,
  quotaBytes: 1024 * 1024 * 1024,
  pingIntervalMs: 20_000,
  idleTimeoutMs: 45_000,
});

/** The limits with defaults filled in; `ERR_INVALID_ARGUMENT` for a value out of range. */
export function resolveLimits(given: Partial<RelayLimits> | undefined): Readonly<RelayLimits> {
  if (given !== undefined && (typeof given !== "object" || given === null)) {
    throw new SyncError("ERR_INVALID_ARGUMENT", "limits must be an object");
  }
  const limits: RelayLimits = { ...DEFAULT_LIMITS };
  for (const name of Object.keys(given ?? {})) {
    if (!(name in DEFAULT_LIMITS)) throw new SyncError("ERR_INVALID_ARGUMENT", `unknown limit ${JSON.stringify(name)}`);
    const value = (given as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0) || !Number.isSafeInteger(value)) {
      throw new SyncError("ERR_INVALID_ARGUMENT", `limits.${name} must be a positive whole number`);
    }
    limits[name as keyof RelayLimits] = value;
  }
  if (limits.maxMessageBytes > MAX_MESSAGE_BYTES || limits.maxMessageBytes < 1024) {
    throw new SyncError("ERR_INVALID_ARGUMENT", `limits.maxMessageBytes must be from 1024 to ${MAX_MESSAGE_BYTES}`);
  }
  if (limits.idleTimeoutMs <= limits.pingIntervalMs) {
    throw new SyncError("ERR_INVALID_ARGUMENT", "limits.idleTimeoutMs must exceed limits.pingIntervalMs");
  }
  return Object.freeze(limits);
}

/** A token bucket: `burst` tokens, refilled at `rate` a second. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token: 0 when granted, else how many ms until one is there. */
  take(now: number): number {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) / this.rate) * 1000));
  }

  /** True when the bucket is full at `now` (forgetting it changes nothing). */
  full(now: number): boolean {
    return this.#tokens + ((now - this.#at) / 1000) * this.rate >= this.burst;
  }
}
