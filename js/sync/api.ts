// The public `Sync` interface that `startSync` returns (js/sync/start.ts), implemented by the loop
// itself (js/sync/loop.ts) and, for a database in the package worker, by the page's mirror of the
// loop running there (js/worker/sync-client.ts). Names and shapes follow the API contract.

import type { RoundResult, SyncProgress, SyncStatus } from "../types.js";

/** The events of a {@link Sync} and what their listeners receive. */
export interface SyncEvents {
  /** Every change of {@link Sync.status}. */
  status: SyncStatus;
  /** Records received so far during a catch-up. */
  progress: SyncProgress;
}

/** A running sync loop between one database and one relay. */
export interface Sync extends AsyncDisposable {
  /** The current state (a fresh, frozen object on every change). */
  readonly status: SyncStatus;
  /**
   * Calls `listener` on every status change (`"status"`) or during a catch-up (`"progress"`).
   * @returns a function that removes the listener
   */
  on<E extends keyof SyncEvents>(event: E, listener: (value: SyncEvents[E]) => void): () => void;
  /**
   * Runs one full round now (or right after the running one): push what the relay lacks, pull
   * until caught up. Resolves with what it did; rejects with the round's `SyncError`, or with
   * `ERR_CLOSED` once stopped.
   */
  syncNow(): Promise<RoundResult>;
  /** Waits for a running round, closes the connection; no later round starts. Idempotent. */
  stop(): Promise<void>;
  /** Same as {@link Sync.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
