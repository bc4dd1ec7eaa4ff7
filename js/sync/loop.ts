// The sync loop: when rounds run, what the status says, and how failures back off. It owns the
// schedule only; a round itself (push, then pull until caught up) is the `SyncHost`'s
// (js/sync/host.ts), so the same loop serves an in-process database and the package worker, and
// tests drive it with a scripted host and a fake clock.
//
// Rounds start on `syncNow()`, every `intervalMs` after the last round, `debounceMs` after a local
// commit (commits within that window share one round), when the relay announces records, after a
// round that reports `behind`, and when the runtime fires `online`; while the runtime says it is
// offline (`navigator.onLine === false`) only `syncNow()` starts one. A failed round with a retryable
// error is tried again after a back-off with full jitter (a delay drawn uniformly from
// [0, min(capMs, baseMs · factor^(failures − 1))), never less than a relay's `retryAfterMs`),
// forever; meanwhile commits and announcements wait for that retry. A non-retryable error leaves
// the state at "error" until `syncNow()` or the interval. `ERR_UNAUTHORIZED` is tried once more at
// once (the transport asks its token function again) before it counts as a failure.
//
// Invariants: never two rounds at once (a request during a round queues exactly one follow-up);
// at most one timer is armed; after `stop()` no round starts, the running one ends, and the host
// is closed once; every status change is announced once, as a new frozen object.

import { SyncError, toSyncError } from "../errors.js";
import type { RoundResult, SyncProgress, SyncState, SyncStatus } from "../types.js";
import type { Sync, SyncEvents } from "./api.js";
import { initialStatus, SyncListeners } from "./events.js";
import type { Clock, Network, RoundReport, SyncHost } from "./host.js";

/** How failed rounds are spaced. */
export interface Backoff {
  baseMs: number;
  factor: number;
  capMs: number;
}

/** The loop's settings, checked by `startSync` (js/sync/start.ts). */
export interface LoopOptions {
  /** Between rounds when nothing else asks for one; 0 disables the interval. */
  intervalMs: number;
  /** After a local commit before its round starts. */
  debounceMs: number;
  backoff: Backoff;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, factor: 2, capMs: 30_000 };

/** Why a round is wanted: explicit ones run even when the runtime says it is offline. */
type Reason = "explicit" | "announced" | "timer";

interface Waiter {
  resolve(result: RoundResult): void;
  reject(error: SyncError): void;
}

/** The full-jitter delay before retry number `failures` (1 for the first failure). */
export function backoffDelay(backoff: Backoff, failures: number, random: number, retryAfterMs = 0): number {
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * backoff.factor ** Math.max(0, failures - 1));
  return Math.max(Math.floor(random * ceiling), retryAfterMs);
}

export class SyncLoop implements Sync {
  #host: SyncHost;
  #options: LoopOptions;
  #clock: Clock;
  #network: Network;
  #status: SyncStatus;
  #listeners = new SyncListeners();
  /** The running round, if any. */
  #running: Promise<void> | undefined;
  /** A round was asked for while one ran: run one more right after it. */
  #again = false;
  /** `syncNow()` callers, settled by the next round to end. */
  #waiters: Waiter[] = [];
  #timer: unknown;
  /** When the armed timer fires (null when none is armed). */
  #dueAt: number | null = null;
  /** Consecutive failed rounds with a retryable error. */
  #failures = 0;
  /** Set by the first `stop()`. */
  #stopping: Promise<void> | undefined;
  #unsubscribe: (() => void)[];
  /** A `pending()` read is in flight; `#pendingAgain` asks for one more after it. */
  #readingPending = false;
  #pendingAgain = false;

  constructor(host: SyncHost, options: LoopOptions, clock: Clock, network: Network) {
    this.#host = host;
    this.#options = options;
    this.#clock = clock;
    this.#network = network;
    this.#status = initialStatus(network.online() ? "idle" : "offline");
    this.#unsubscribe = [
      host.onLocalCommit(() => this.#committed()),
      host.onNotify(() => this.#want("announced")),
      // Back online: a round now, unless an error waits for its retry, `syncNow` or the interval.
      network.on("online", () => {
        if (this.#status.state !== "error") this.#want("explicit");
      }),
      network.on("offline", () => {
        const waiting = this.#running === undefined && this.#stopping === undefined;
        if (waiting && this.#status.state !== "error") this.#update({ state: "offline" });
      }),
    ];
    this.#readPending();
    // The first round, right away (unless the runtime is offline: then on `online`), once the
    // caller has had a chance to subscribe.
    this.#arm(clock.now());
  }

  get status(): SyncStatus {
    return this.#status;
  }

  on<E extends keyof SyncEvents>(event: E, listener: (value: SyncEvents[E]) => void): () => void {
    return this.#listeners.on(event, listener);
  }

  syncNow(): Promise<RoundResult> {
    if (this.#stopping !== undefined) return Promise.reject(stoppedError());
    return new Promise<RoundResult>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#want("explicit");
    });
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#disarm();
      for (const off of this.#unsubscribe) off();
      while (this.#running !== undefined) await this.#running;
      const waiting = this.#waiters.splice(0);
      for (const waiter of waiting) waiter.reject(stoppedError());
      try {
        await this.#host.close();
      } finally {
        this.#update({ state: "stopped", nextRetryAt: null });
      }
    })();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Asks for a round for `reason`: now, after the running one, or as the state allows. */
  #want(reason: Reason): void {
    if (this.#stopping !== undefined) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    if (reason === "timer" && !this.#network.online()) {
      this.#update({ state: "offline" });
      return;
    }
    if (reason === "announced" && (this.#failures > 0 || this.#status.state === "error")) return;
    this.#start();
  }

  /** A local commit: a round after the debounce, unless a failure's retry (or `syncNow`) is awaited. */
  #committed(): void {
    if (this.#stopping !== undefined) return;
    this.#readPending();
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    const state = this.#status.state;
    if (state === "error" || state === "offline" || this.#failures > 0) return;
    this.#arm(this.#clock.now() + this.#options.debounceMs);
  }

  /** Arms the timer for `at`, unless it is armed for earlier already. */
  #arm(at: number): void {
    if (this.#dueAt !== null && this.#dueAt <= at) return;
    this.#disarm();
    this.#dueAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#dueAt = null;
      this.#want("timer");
    }, Math.max(0, at - this.#clock.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dueAt = null;
  }

  #start(): void {
    this.#disarm();
    this.#again = false;
    const waiters = this.#waiters.splice(0);
    this.#update({ state: "syncing", nextRetryAt: null });
    const running = this.#round(waiters).finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    void running.then(() => this.#next());
  }

  /** Runs one round (and its one immediate retry after `ERR_UNAUTHORIZED`); never rejects. */
  async #round(waiters: Waiter[]): Promise<void> {
    // What the attempt so far did (records pushed and acknowledged, records pulled that were new),
    // and the failed attempt before it: a failed round's acknowledged pushes and imported pages
    // stand, so they count in `sent` and `received`.
    const none = { sent: 0, received: 0 };
    let attempt = none;
    let earlier = none;
    const progress = (p: SyncProgress): void => this.#listeners.emit("progress", Object.freeze({ received: p.received, total: p.total }));
    const counts = (c: { sent: number; received: number }): void => {
      attempt = c;
    };
    let report: RoundReport;
    try {
      try {
        report = await this.#host.round(progress, counts);
      } catch (first) {
        const error = toSyncError(first);
        if (error.code !== "ERR_UNAUTHORIZED" || this.#stopping !== undefined) throw error;
        earlier = attempt;
        attempt = none;
        report = await this.#host.round(progress, counts);
      }
    } catch (e) {
      this.#failed(toSyncError(e), waiters, { sent: earlier.sent + attempt.sent, received: earlier.received + attempt.received });
      return;
    }
    this.#failures = 0;
    this.#update({
      state: "idle",
      lastSyncAt: this.#clock.now(),
      lastError: null,
      sent: this.#status.sent + earlier.sent + report.sent,
      received: this.#status.received + earlier.received + report.received,
      pending: report.pending,
      nextRetryAt: null,
    });
    if (report.behind) this.#again = true;
    const result: RoundResult = { sent: report.sent, received: report.received, conflicts: report.conflicts };
    for (const waiter of waiters) waiter.resolve({ ...result });
  }

  /** A round failed after doing `done`: back off (retryable) or wait for `syncNow` and the interval (not). */
  #failed(error: SyncError, waiters: Waiter[], done: { sent: number; received: number }): void {
    const now = this.#clock.now();
    let nextRetryAt: number | null = null;
    if (error.retryable) {
      this.#failures += 1;
      nextRetryAt = now + backoffDelay(this.#options.backoff, this.#failures, this.#clock.random(), error.retryAfterMs);
    } else if (this.#options.intervalMs > 0) {
      nextRetryAt = now + this.#options.intervalMs;
    }
    const offline = error.code === "ERR_NETWORK" || !this.#network.online();
    const state: SyncState = this.#stopping !== undefined ? this.#status.state : offline ? "offline" : "error";
    // A request made during the failed round waits for the retry, except an explicit `syncNow`.
    this.#again = false;
    this.#update({ state, lastError: error, nextRetryAt, sent: this.#status.sent + done.sent, received: this.#status.received + done.received });
    for (const waiter of waiters) waiter.reject(error);
  }

  /** After a round: the follow-up, the retry or the interval. */
  #next(): void {
    if (this.#stopping !== undefined) return;
    if (this.#waiters.length > 0 || (this.#again && this.#status.nextRetryAt === null)) {
      this.#start();
      return;
    }
    if (this.#status.nextRetryAt !== null) {
      this.#arm(this.#status.nextRetryAt);
    } else if (this.#options.intervalMs > 0) {
      this.#arm(this.#clock.now() + this.#options.intervalMs);
    }
  }

  /** Reads the pending count again (coalesced: one read at a time, one more if asked meanwhile). */
  #readPending(): void {
    if (this.#readingPending) {
      this.#pendingAgain = true;
      return;
    }
    this.#readingPending = true;
    this.#host.pending().then(
      (pending) => {
        this.#readingPending = false;
        if (this.#running === undefined && this.#stopping === undefined) this.#update({ pending });
        if (this.#pendingAgain) {
          this.#pendingAgain = false;
          this.#readPending();
        }
      },
      () => {
        // The count is a hint; the next round reports it again.
        this.#readingPending = false;
        this.#pendingAgain = false;
      },
    );
  }

  /** Applies `change` to the status and announces it if anything changed. */
  #update(change: Partial<SyncStatus>): void {
    const next = { ...this.#status, ...change };
    const keys = Object.keys(next) as (keyof SyncStatus)[];
    if (keys.every((key) => next[key] === this.#status[key])) return;
    this.#status = Object.freeze(next);
    this.#listeners.emit("status", this.#status);
  }
}

function stoppedError(): SyncError {
  return new SyncError("ERR_CLOSED", "the sync was stopped");
}
