// What the sync loop (js/sync/loop.ts) needs from wherever its rounds run, and from its runtime:
// `SyncHost` (one round with the relay, the pending count, local commits, the relay's
// announcements, closing), `Clock` (time, timers, randomness) and `Network` (the runtime's
// online/offline signal). The loop depends on these interfaces only, so it is the same whether the
// round runs in this realm over a wasm transport (js/sync/local.ts) or is scripted by a test.

import type { SyncProgress } from "../types.js";

/** What one round reported: counts in change records. */
export interface RoundReport {
  /** Records pushed to the relay. */
  sent: number;
  /** Records pulled from the relay and imported. */
  received: number;
  /** New conflicts the imported records made. */
  conflicts: number;
  /** Local records the relay has not acknowledged, after the round. */
  pending: number;
  /** The relay announced more records during the round: run another soon. */
  behind: boolean;
}

/** Where the loop's rounds run. */
export interface SyncHost {
  /**
   * Runs one round (push, then pull until caught up), calling `onProgress` during a catch-up and
   * `onCounts` with what it did so far (records pushed and acknowledged, records pulled that were
   * new), which a round that fails has still done; rejects with the round's `SyncError`. Never
   * called while a round runs.
   */
  round(onProgress: (progress: SyncProgress) => void, onCounts?: (counts: { sent: number; received: number }) => void): Promise<RoundReport>;
  /** Local records the relay has not acknowledged (for the status before any round). */
  pending(): Promise<number>;
  /** Calls `fn` after each local commit that may need pushing; returns the unsubscribe function. */
  onLocalCommit(fn: () => void): () => void;
  /** Calls `fn` when the relay announces new records (live push); returns the unsubscribe function. */
  onNotify(fn: () => void): () => void;
  /** Closes the connection; called once, after the last round. */
  close(): Promise<void>;
}

/** Time, timers and randomness (injectable so that tests can drive the loop's schedule). */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
  /** A number in [0, 1). */
  random(): number;
}

/** The runtime's view of the network. */
export interface Network {
  /** `false` when the runtime knows it is offline (`navigator.onLine === false`), otherwise `true`. */
  online(): boolean;
  /** Calls `fn` when the runtime fires `type`; returns the unsubscribe function. */
  on(type: "online" | "offline", fn: () => void): () => void;
}

/** The real clock of this realm. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};
