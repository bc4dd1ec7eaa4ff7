// The listeners of one `Sync` (js/sync/api.ts), and the status it starts with, shared by the loop
// (js/sync/loop.ts) and its mirror on a page (js/worker/sync-client.ts).
//
// Invariants: `on` checks its arguments (`ERR_INVALID_ARGUMENT`); a listener that throws does not
// keep the others from running (its error is reported as uncaught).

import { SyncError } from "../errors.js";
import { reportUncaught } from "../shared.js";
import type { SyncStatus } from "../types.js";
import type { SyncEvents } from "./api.js";

export class SyncListeners {
  #sets: { [E in keyof SyncEvents]: Set<(value: SyncEvents[E]) => void> } = { status: new Set(), progress: new Set() };

  /** Adds `listener` for `event`; returns the function that removes it. */
  on<E extends keyof SyncEvents>(event: E, listener: (value: SyncEvents[E]) => void): () => void {
    if (!Object.hasOwn(this.#sets, event)) {
      throw new SyncError("ERR_INVALID_ARGUMENT", `unknown sync event ${String(event)}: "status" or "progress"`);
    }
    if (typeof listener !== "function") throw new SyncError("ERR_INVALID_ARGUMENT", "a sync listener must be a function");
    const set = this.#sets[event] as Set<(value: SyncEvents[E]) => void>;
    const entry = (value: SyncEvents[E]): void => listener(value);
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** Calls every listener of `event` registered now. */
  emit<E extends keyof SyncEvents>(event: E, value: SyncEvents[E]): void {
    for (const listener of [...this.#sets[event]] as ((value: SyncEvents[E]) => void)[]) {
      try {
        listener(value);
      } catch (e) {
        reportUncaught(e);
      }
    }
  }

  clear(): void {
    this.#sets.status.clear();
    this.#sets.progress.clear();
  }
}

/** The status of a loop that has not run a round yet. */
export function initialStatus(state: "idle" | "offline"): SyncStatus {
  return Object.freeze({ state, lastSyncAt: null, lastError: null, sent: 0, received: 0, pending: 0, nextRetryAt: null });
}
