// The `SyncHost` of a database in this realm (in-process memory, IndexedDB, OPFS in a dedicated
// worker, and every database the package worker holds): rounds are driven step by step over a wasm
// transport made here (js/sync/wasm.ts), each step between the database's calls, through
// `LocalDatabase.syncRound`, which stores, announces and resolves what a round changed as
// `importBundle` does.
//
// Invariants: the wasm transport is made once, when the host is made (the module is loaded by
// then: the database is open), and closed once; local commits are the database's change events
// other than imports (a round's own import does not ask for another round).

import type { LocalDatabase } from "../database.js";
import type { SyncProgress } from "../types.js";
import type { RoundReport, SyncHost } from "./host.js";
import { relayKey } from "./transports.js";
import { closeTransport, makeTransport, pendingOn, runRound, type ImportedRound, type RoundCounts, type RoundTarget, type WasmTransport } from "./wasm.js";

/** What a host's maker hears of. */
export interface HostHooks {
  /** After each round that ended well, before the loop hears of it (the package worker forwards it). */
  afterRound?: (round: ImportedRound) => void;
  /** Once the transport is closed. */
  closed?: () => void;
}

export class LocalSyncHost implements SyncHost {
  #db: LocalDatabase;
  #transport: WasmTransport;
  #target: RoundTarget;
  #notified = new Set<() => void>();
  #hooks: HostHooks;

  /** @param kind which wasm transport to make, from `options` (its url, space, token and injected classes) */
  constructor(db: LocalDatabase, kind: "http" | "websocket", options: Record<string, unknown>, hooks: HostHooks = {}) {
    this.#db = db;
    this.#hooks = hooks;
    this.#target = { relay: relayKey(String(options["url"])), space: String(options["space"]) };
    this.#transport = makeTransport(kind, options);
    this.#transport.onNotify(() => {
      for (const fn of [...this.#notified]) fn();
    });
  }

  async round(onProgress: (progress: SyncProgress) => void, onCounts?: (counts: RoundCounts) => void): Promise<RoundReport> {
    const round = await this.#db.syncRound((step) => runRound(step, this.#transport, this.#target, onProgress, onCounts));
    this.#hooks.afterRound?.(round);
    const { sent, received, conflicts, pending, behind } = round;
    return { sent, received, conflicts, pending, behind };
  }

  pending(): Promise<number> {
    return this.#db.betweenCalls((handle) => pendingOn(handle, this.#target));
  }

  onLocalCommit(fn: () => void): () => void {
    return this.#db.onChange((event) => {
      if (event.kind !== "import") fn();
    });
  }

  onNotify(fn: () => void): () => void {
    const entry = (): void => fn();
    this.#notified.add(entry);
    return () => {
      this.#notified.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.#notified.clear();
    try {
      await closeTransport(this.#transport);
    } finally {
      this.#hooks.closed?.();
    }
  }
}
